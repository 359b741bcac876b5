// `ltkit theory`: Monte-Carlo simulators of S1's Theorems 1–3 against their bounds (theory/*.ts), as tables on
// stdout and theory-<which>.json / .svg in --out.
import * as path from 'path';
import type { CliIO, CommandModule, CommandSpec, Parsed } from './args';
import { UsageError } from './args';

const spec: CommandSpec = {
  name: 'theory',
  summary: "simulate S1's Theorems 1–3 (Gaussian models) against the paper's bounds",
  usage: 'ltkit theory [--which t1|t2|t3|all] [--trials N] [--seed N] [--out DIR] [--json]',
  details:
    'Monte-Carlo simulations of the exact generative models of "Rethinking the Value of Labels" (Yang & Xu,\n' +
    'NeurIPS 2020), each point with a 95% interval, against the bound the theorem states:\n' +
    '  t1  §2.1 Theorem 1: pseudo-label estimate of the Bayes decision value from ñ unlabeled points;\n' +
    '      P(|θ̂ − θ_Δ| > δ) against ñ for unlabeled imbalance ρU = 1, 10, 100 (upper bound).\n' +
    '  t2  §4.1 Theorem 2: a trained linear classifier on raw X; error against d (lower bound ¼).\n' +
    '  t3  §4.1 Theorem 3: the classifier on the self-supervised feature Z = k1‖X‖² + k2; error against d\n' +
    '      (upper bound) and P(err ≤ bound) (lower bound), for training imbalance N+/N−.\n' +
    'Writes theory-<t>.json (settings, rows) and theory-<t>.svg (theory-t3-probability.svg too) under --out.\n' +
    'The same --seed and --trials give the same numbers.',
  options: [
    { name: 'which', type: 'string', help: 't1, t2, t3 or all', default: 'all' },
    { name: 'trials', type: 'number', help: 'Monte-Carlo trials per point (default: t1 2000, t2/t3 200)' },
    { name: 'seed', type: 'number', help: 'random seed', default: 0 },
    { name: 'out', type: 'string', help: 'output folder', default: 'runs/theory', metavar: 'DIR' },
    { name: 'json', type: 'boolean', help: 'print the results as JSON instead of tables' },
  ],
  examples: ['ltkit theory', 'ltkit theory --which t3 --trials 1000 --seed 1 --out runs/theory-1000'],
};

async function run(p: Parsed, io: CliIO): Promise<void> {
  const which = String(p.opts.which);
  const { THEOREMS, theoryStudy, formatStudy } = await import('../theory/studies');
  const list = which === 'all' ? [...THEOREMS] : THEOREMS.filter((t) => t === which);
  if (list.length === 0) throw new UsageError(`ltkit theory: --which must be t1, t2, t3 or all, got '${which}'`);
  const trials = p.opts.trials === undefined ? undefined : Number(p.opts.trials);
  if (trials !== undefined && !(Number.isInteger(trials) && trials >= 1)) {
    throw new UsageError('ltkit theory: --trials must be a positive integer');
  }
  const seed = Number(p.opts.seed);
  if (!Number.isInteger(seed)) throw new UsageError('ltkit theory: --seed must be an integer');
  const out = String(p.opts.out);
  const { writeFileAtomic } = await import('../util/fs');
  const { theoryCurves } = await import('../report/charts');
  const { renderSvg } = await import('../report/svg');
  const results = [];
  for (const t of list) {
    const t0 = Date.now();
    io.stderr(`theory: simulating ${t}…\n`);
    const s = theoryStudy(t, { trials, seed });
    io.stderr(`theory: ${t} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    results.push(s);
    writeFileAtomic(path.join(out, `theory-${t}.json`), JSON.stringify(s, null, 1) + '\n');
    for (const panel of s.panels) {
      const points = panel.series.flatMap((ser) =>
        ser.rows.flatMap((r) => [
          { name: ser.name, x: r.x, y: r.simulated, kind: 'simulated' as const, lo: r.lo, hi: r.hi },
          { name: ser.name, x: r.x, y: r.bound, kind: 'bound' as const },
        ]),
      );
      const svg = await renderSvg(
        theoryCurves(points, { xTitle: panel.xTitle, yTitle: panel.yTitle, title: panel.title, logX: panel.logX }),
      );
      writeFileAtomic(path.join(out, `theory-${t}${panel.id ? '-' + panel.id : ''}.svg`), svg);
    }
    if (!p.opts.json) io.stdout(formatStudy(s) + '\n\n');
  }
  if (p.opts.json) io.stdout(JSON.stringify(results, null, 1) + '\n');
  io.stderr(`theory: wrote ${list.map((t) => `theory-${t}.json/.svg`).join(', ')} in ${out}\n`);
}

export const theoryCommand: CommandModule = { spec, run };
