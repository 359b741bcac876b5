// t-SNE / UMAP of a run's features (SPEC §6, S1 Fig. 1 and 4): the class-stratified sample, the written
// record (EmbeddingSchema), reproducibility for a seed, and the SVG when the chart module is present.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { train } from '../train/trainer';
import { applyOverrides, resolveConfig } from '../train/config';
import { Rng } from '../util/rng';
import { parseArgs } from '../cli/args';
import { embedCommand } from '../cli/embed-command';
import { EmbeddingSchema } from './records';
import { embedRun, stratifiedQuota, stratifiedSample } from './embedding';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-embed-'));

let runPromise: Promise<string> | null = null;
/** One tiny synthetic long-tailed run (classes of 24, 12, 6, 3 images at ρ = 8), trained once per file. */
function tinyRun(): Promise<string> {
  runPromise ??= (async () => {
    const raw = applyOverrides({}, [
      'data.dataset=synthetic',
      'data.synthetic.size=8',
      'data.synthetic.numClasses=4',
      'data.synthetic.imgMax=24',
      'data.synthetic.testPerClass=6',
      'data.rho=8',
      'model.name=resnet8',
      'train.epochs=1',
      'train.batchSize=16',
      'train.maxStepsPerEpoch=2',
      'train.progress=off',
      `outDir=${TMP}`,
      'name=tiny',
    ]);
    const r = await train(resolveConfig(raw));
    assert.equal(r.status, 'completed');
    return r.runDir;
  })();
  return runPromise;
}

test('stratifiedQuota: budget respected, few-shot classes whole, the long tail kept above the floor', () => {
  const counts = [5000, 2000, 500, 100, 40, 19, 5];
  const q = stratifiedQuota(counts, 1000);
  assert.ok(q.reduce((a, b) => a + b, 0) <= 1000);
  assert.equal(q[5], 19, 'few-shot class taken whole');
  assert.equal(q[6], 5, 'few-shot class taken whole');
  for (let c = 0; c < counts.length; c++) assert.ok(q[c] >= Math.min(counts[c], 20), `class ${c} floor`);
  assert.ok(q[0] > q[1] && q[1] > q[2], 'head classes keep their order');
  assert.deepEqual(stratifiedQuota(counts, 1e9), counts, 'a budget above the total takes everything');
  // A budget below the floor: every class still gets ⌊budget / C⌋.
  assert.deepEqual(stratifiedQuota([100, 100, 100, 100], 8), [2, 2, 2, 2]);
  const targets = Int32Array.from([0, 0, 0, 1, 1, 2, 0, 1, 2, 2]);
  const a = stratifiedSample(targets, [2, 1, 3], new Rng(3));
  assert.deepEqual(a, stratifiedSample(targets, [2, 1, 3], new Rng(3)), 'seeded');
  assert.deepEqual(Array.from(a, (i) => targets[i]).sort(), [0, 0, 1, 2, 2, 2], 'per-class quotas met');
});

test('embedRun (t-SNE): schema-valid record, stratified sample, identical points for the same seed', async () => {
  const run = await tinyRun();
  const lines: string[] = [];
  const o = { method: 'tsne' as const, seed: 5, perTrain: 30, perTest: 16, iterations: 60, svg: false };
  const a = await embedRun(run, { ...o, progress: (l) => lines.push(l) });
  assert.equal(a.jsonFile, path.join(run, 'embedding-tsne.json'));
  const onDisk = EmbeddingSchema.parse(JSON.parse(fs.readFileSync(a.jsonFile, 'utf8')));
  assert.deepEqual(onDisk, a.embedding);
  assert.equal(onDisk.method, 'tsne');
  assert.equal(onDisk.seed, 5);
  assert.deepEqual(onDisk.groups, ['medium', 'few', 'few', 'few'], 'groups from the training counts 24, 12, 6, 3');
  const train = onDisk.points.filter((p) => p.split === 'train');
  const test = onDisk.points.filter((p) => p.split === 'test');
  assert.equal(train.length, 30);
  assert.equal(test.length, 16);
  const perClass = (ps: typeof train) => [0, 1, 2, 3].map((c) => ps.filter((p) => p.label === c).length);
  // Budget 30 of 45: floor ⌊30/4⌋ = 7, few-shot classes 2 and 3 whole, the rest in proportion (stratifiedQuota).
  assert.deepEqual(perClass(train), [14, 7, 6, 3]);
  assert.deepEqual(perClass(test), [4, 4, 4, 4], 'balanced test sample');
  assert.ok(onDisk.points.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  assert.ok(lines.some((l) => /extracting features/.test(l)) && lines.some((l) => /ETA/.test(l)), lines.join('\n'));
  const b = await embedRun(run, o);
  assert.deepEqual(b.embedding.points, a.embedding.points, 'same seed ⇒ identical points');
  const c = await embedRun(run, { ...o, seed: 6 });
  assert.notDeepEqual(c.embedding.points, a.embedding.points, 'another seed ⇒ other points');
});

test('embedRun (UMAP): reproducible; SVG written when report/charts.ts is present', async () => {
  const run = await tinyRun();
  const o = { method: 'umap' as const, seed: 1, perTrain: 30, perTest: 16, iterations: 40, neighbors: 8 };
  const hasCharts = fs.existsSync(path.join(__dirname, '..', 'report', 'charts.js'));
  const a = await embedRun(run, { ...o, svg: hasCharts });
  const b = await embedRun(run, { ...o, svg: false });
  assert.deepEqual(b.embedding.points, a.embedding.points, 'same seed ⇒ identical points');
  assert.equal(a.embedding.options.neighbors, 8);
  if (hasCharts) {
    assert.ok(a.svgFile && fs.readFileSync(a.svgFile, 'utf8').startsWith('<svg'), 'an SVG document');
  }
  await assert.rejects(embedRun(run, { method: 'pca' as never }), /tsne or umap/);
});

test('ltkit embed (command module): options, output and usage errors', async () => {
  const run = await tinyRun();
  let stdout = '';
  let stderr = '';
  const io = { stdout: (s: string) => (stdout += s), stderr: (s: string) => (stderr += s) };
  const argv = [
    '--run',
    run,
    '--method',
    'umap',
    '--points',
    '40',
    '--iterations',
    '30',
    '--neighbors',
    '6',
    '--no-svg',
  ];
  await embedCommand.run(parseArgs(embedCommand.spec, argv), io);
  assert.match(stdout, /umap: \d+ points \(24 train, 16 test\), seed 0/);
  assert.match(stderr, /extracting features/);
  assert.match(stderr, /ETA/);
  const rec = EmbeddingSchema.parse(JSON.parse(fs.readFileSync(path.join(run, 'embedding-umap.json'), 'utf8')));
  assert.equal(rec.points.length, 40);
  await assert.rejects(
    embedCommand.run(parseArgs(embedCommand.spec, ['--run', run, '--method', 'pca']), io),
    /tsne or umap/,
  );
  await assert.rejects(embedCommand.run(parseArgs(embedCommand.spec, []), io), /--run DIR is required/);
});
