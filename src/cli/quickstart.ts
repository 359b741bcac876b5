// The main job (README quick start): on FMNIST-LT (ρ = 100, exp) train a small ResNet with plain CE
// and with a long-tail recipe, from the same data and seed, then print and save a side-by-side
// comparison. Reported numbers are the *final* epoch's (no model selection on the test set); the
// best-epoch numbers are in each run's final-metrics.json. Ends with the HTML report of both runs
// (report/report.ts: figures, per-class accuracy, confusion matrices) and prints its path.
import * as fs from 'fs';
import * as path from 'path';
import { train, TrainResult } from '../train/trainer';
import { resolveConfig } from '../train/config';
import { buildTrainData } from '../data/train-data';
import { compareRuns } from '../eval/table';
import { writeReport } from '../report/report';
import type { ClassificationSummary } from '../eval/metrics';

export interface QuickstartOptions {
  method: string;
  epochs: number;
  model: string;
  outDir: string;
  seed: number;
}

export async function quickstart(
  o: QuickstartOptions,
): Promise<{ dir: string; results: Record<string, TrainResult>; report: string }> {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const base = (recipe: string) =>
    resolveConfig({
      name: `quickstart-${stamp}/${recipe.replace(/\+/g, '_')}`,
      outDir: o.outDir,
      seed: o.seed,
      data: { dataset: 'fmnist-lt', rho: 100, imbType: 'exp' },
      model: { name: o.model },
      method: { recipe },
      schedule: { warmupEpochs: 1 },
      train: { epochs: o.epochs, batchSize: 128, evalEvery: o.epochs },
    });
  const log = (l: string) => process.stderr.write(l + '\n');
  log(`[quickstart] FMNIST-LT rho=100: ${o.model}, ${o.epochs} epochs each: 'ce' vs '${o.method}'`);
  const first = base('ce');
  const data = buildTrainData(first.data);
  log(`[quickstart] train counts per class: ${data.clsNumList.join(', ')} (${data.train.targets.length} images)`);
  const results: Record<string, TrainResult> = {};
  for (const recipe of ['ce', o.method]) {
    const t0 = Date.now();
    results[recipe] = await train(base(recipe), { data });
    log(`[quickstart] '${recipe}' finished in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    if (results[recipe].status !== 'completed') throw new Error(`run '${recipe}' was interrupted`);
  }
  const columns = Object.fromEntries(
    Object.entries(results).map(([k, r]) => [k, r.final as unknown as ClassificationSummary]),
  );
  const table = compareRuns(columns, { classNames: data.classNames, trainCounts: data.clsNumList });
  const dir = path.resolve(o.outDir, `quickstart-${stamp}`);
  fs.writeFileSync(path.join(dir, 'comparison.txt'), table.text);
  fs.writeFileSync(path.join(dir, 'comparison.md'), table.markdown);
  fs.writeFileSync(
    path.join(dir, 'comparison.json'),
    JSON.stringify(
      Object.fromEntries(
        Object.entries(results).map(([k, r]) => [k, { runDir: r.runDir, final: r.final, best: r.best }]),
      ),
      null,
      2,
    ),
  );
  process.stdout.write(
    `\nFMNIST-LT (rho=100), final-epoch test accuracy (%), ${o.model}, ${o.epochs} epochs:\n\n${table.text}\n`,
  );
  process.stdout.write(`saved: ${path.join(dir, 'comparison.md')} (and .txt, .json; runs in ${dir})\n`);
  const report = await writeReport(
    Object.values(results).map((r) => r.runDir),
    { out: path.join(dir, 'report.html'), title: `ltkit quickstart: CE vs ${o.method} on FMNIST-LT (ρ=100)` },
  );
  process.stdout.write(`report: ${report.html}\n`);
  return { dir, results, report: report.html };
}
