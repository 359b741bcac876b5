// `ltkit list`: what can be named in a config, with one line of help each.
import * as losses from '../losses';
import * as models from '../models';
import { components } from '../methods';
import { PRESETS, PRESET_NOTES } from '../train/config';
import { CATALOG } from '../data/catalog';
import { SYNTHETIC } from '../data/train-data';
import { listDownloadable } from '../data/download';

export function listText(what?: string): string {
  const sections: Record<string, () => string[]> = {
    models: () => models.list().map((n) => `  ${n.padEnd(18)} ${models.modelInfo(n).description}`),
    datasets: () => [
      ...CATALOG.map((d) => `  ${d.name.padEnd(18)} ${d.description}`),
      `  ${SYNTHETIC.padEnd(18)} small generated long-tailed set for smoke tests and examples`,
      '  downloadable (ltkit data download <name>):',
      ...listDownloadable().map((d) => `    ${d.name.padEnd(16)} ${d.description}`),
    ],
    losses: () => losses.list().map((l) => `  ${l.name.padEnd(18)} ${l.help}`),
    rules: () =>
      components()
        .filter((c) => c.slot === 'classWeights' || c.slot === 'sampler')
        .map((c) => `  ${c.name.padEnd(18)} ${c.help}`),
    methods: () => [
      '  recipes join components with +, one per slot, e.g. ldam+drw, mfw+drw, focal+reweight, ce+drs+crt',
      ...components().map((c) => {
        const keys = Object.keys(c.options).map((k) => `method.${k}`);
        const opts = keys.length ? `; options: ${keys.join(', ')}` : '';
        return `  ${c.name.padEnd(18)} [${c.slot}] ${c.help}${c.isDefault ? ' (the default loss)' : ''}${opts}`;
      }),
    ],
    presets: () => {
      const names = Object.keys(PRESETS);
      return [
        `  ${names.length} presets: <dataset>-<exp|step><rho>-<recipe>, e.g. cifar10-lt-exp100-ldam+drw, and fmnist-lt`,
        ...names.filter((n) => n === 'fmnist-lt' || n.startsWith('cifar10-lt-exp100-')).map((n) => `  ${n}`),
        '  (ρ ∈ 10, 50, 100, 200; datasets cifar10-lt, cifar100-lt, svhn-lt)',
        '  semi-supervised (S1 grid; use with ltkit self-train or a recipe with an unlabeled method):',
        ...Object.entries(PRESET_NOTES).map(([n, note]) => `  ${n.padEnd(30)} ${note}`),
      ];
    },
  };
  if (what && !sections[what])
    throw new Error(`ltkit list: unknown section '${what}' (${Object.keys(sections).join(', ')})`);
  const keys = what ? [what] : Object.keys(sections);
  return keys.map((k) => `${k}:\n${sections[k]().join('\n')}`).join('\n\n');
}
