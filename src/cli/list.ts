// `ltkit list`: what can be named in a config, with one line of help each.
import * as losses from '../losses';
import * as models from '../models';
import { COMPONENTS } from '../methods/recipe';
import { DATASETS, PRESETS } from '../train/config';
import { listDownloadable } from '../data/download';

const DATASET_HELP: Record<string, string> = {
  'fmnist-lt': 'Fashion-MNIST-LT: img_max 1000, natural order, Debian dataset-fashion-mnist (embedded default)',
  'cifar10-lt': 'CIFAR-10-LT: img_max 5000 (needs cifar-10-batches-py under data.root)',
  'cifar100-lt': 'CIFAR-100-LT: img_max 500 (needs cifar-100-python under data.root)',
  'svhn-lt': 'SVHN-LT: img_max 1000, class order 1..9,0 (needs the .mat files under data.root)',
  synthetic: 'small generated long-tailed set for smoke tests and examples',
};

export function listText(what?: string): string {
  const sections: Record<string, () => string[]> = {
    models: () => models.list().map((n) => `  ${n.padEnd(18)} ${models.modelInfo(n).description}`),
    datasets: () => [
      ...DATASETS.map((d) => `  ${d.padEnd(18)} ${DATASET_HELP[d]}`),
      '  downloadable (ltkit data download <name>):',
      ...listDownloadable().map((d) => `    ${d.name.padEnd(16)} ${d.description}`),
    ],
    losses: () => losses.list().map((l) => `  ${l.name.padEnd(18)} ${l.help}`),
    rules: () =>
      COMPONENTS.filter((c) => c.slot === 'classWeights' || c.slot === 'sampler').map(
        (c) => `  ${c.name.padEnd(18)} ${c.help}`,
      ),
    methods: () => [
      '  recipes join components with +, one per slot, e.g. ldam+drw, mfw+drw, focal+reweight, ce+drs+crt',
      ...COMPONENTS.map((c) => `  ${c.name.padEnd(18)} [${c.slot}] ${c.help}`),
    ],
    presets: () => {
      const names = Object.keys(PRESETS);
      return [
        `  ${names.length} presets: <dataset>-<exp|step><rho>-<recipe>, e.g. cifar10-lt-exp100-ldam+drw, and fmnist-lt`,
        ...names.filter((n) => n === 'fmnist-lt' || n.startsWith('cifar10-lt-exp100-')).map((n) => `  ${n}`),
        '  (ρ ∈ 10, 50, 100, 200; datasets cifar10-lt, cifar100-lt, svhn-lt)',
      ];
    },
  };
  if (what && !sections[what])
    throw new Error(`ltkit list: unknown section '${what}' (${Object.keys(sections).join(', ')})`);
  const keys = what ? [what] : Object.keys(sections);
  return keys.map((k) => `${k}:\n${sections[k]().join('\n')}`).join('\n\n');
}
