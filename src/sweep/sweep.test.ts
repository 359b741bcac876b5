// Tests for `ltkit sweep` (grid.ts, sweep.ts): a tiny grid (2 recipes × 2 seeds, synthetic data, 2 epochs of
// one step) expands to deterministic run names; after one run is stopped half-way and another finished, a
// sweep with --jobs 2 resumes the first, skips the second, trains the rest as child processes and reports all
// four; a grid whose point no longer matches its existing run is refused; grid errors name the file and key;
// every shipped grid in grids/ expands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { train } from '../train/trainer';
import { runCli } from '../cli/test-util';
import { expandGrid } from './grid';
import { runSweep } from './sweep';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-sweep-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const OUT = path.join(TMP, 'runs');

const GRID = `
name: tiny
description: two recipes, two seeds
outDir: ${OUT}
set:
  data.dataset: synthetic
  data.synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 }
  model.name: resnet8
  train.epochs: 2
  train.batchSize: 8
  train.maxStepsPerEpoch: 1
  train.progress: 'off'
  schedule.warmupEpochs: 1
recipes: [ce, ldam+drw]
seeds: [0, 1]
`;

function writeGrid(name: string, text: string): string {
  const f = path.join(TMP, name);
  fs.writeFileSync(f, text);
  return f;
}

const NAMES = [
  'tiny/synthetic/ce-rho100-exp-s0-ss0',
  'tiny/synthetic/ce-rho100-exp-s1-ss0',
  'tiny/synthetic/ldam_drw-rho100-exp-s0-ss0',
  'tiny/synthetic/ldam_drw-rho100-exp-s1-ss0',
];

test('sweep: resumes a stopped run, skips a finished one, trains the rest 2 at a time, reports all', async () => {
  const file = writeGrid('tiny.yaml', GRID);
  const g = expandGrid(file);
  assert.deepEqual(
    g.points.map((p) => p.name),
    NAMES,
  );
  assert.equal(g.points[2].config.method.recipe, 'ldam+drw');
  assert.equal(g.points[1].config.seed, 1);

  // A run stopped after its first epoch (as a kill would leave it) and a finished one.
  const stopped = await train(g.points[0].config, { stopAfterEpochs: 1 });
  assert.equal(stopped.status, 'interrupted');
  assert.equal((await train(g.points[1].config)).status, 'completed');
  const finishedAt = fs.statSync(path.join(OUT, NAMES[1], 'run.json')).mtimeMs;

  const dry: string[] = [];
  const d = await runSweep(file, { dryRun: true, log: (l) => dry.push(l) });
  assert.deepEqual(
    d.points.map((p) => p.status),
    ['resume', 'completed', 'new', 'new'],
  );
  assert.match(dry.join('\n'), /resume +tiny\/synthetic\/ce-rho100-exp-s0-ss0 .*interrupted, 1\/2 epochs/);
  assert.ok(!fs.existsSync(path.join(OUT, NAMES[2])), 'a dry run trains nothing');

  const lines: string[] = [];
  const r = await runSweep(file, { jobs: 2, log: (l) => lines.push(l) });
  const text = lines.join('\n');
  assert.equal(r.status, 'completed', text);
  assert.deepEqual(
    r.points.map((p) => p.status),
    ['completed', 'skipped', 'completed', 'completed'],
  );
  assert.match(text, /1 finished \(skipped\), 1 to resume, 2 new; 2 at a time, 1 thread each/);
  assert.match(text, /start 1\/3 tiny\/synthetic\/ce-rho100-exp-s0-ss0 \(resuming: interrupted/);
  assert.match(text, /done +\d\/3 .* in \d+ s: final top-1 \d+\.\d\d%, best \d+\.\d\d% · \d left(, ETA \d+ s)?/);
  assert.match(text, /4\/4 runs finished/);
  for (const n of NAMES) {
    const run = JSON.parse(fs.readFileSync(path.join(OUT, n, 'run.json'), 'utf8'));
    assert.equal(run.status, 'completed', n);
    assert.equal(run.epochsDone, 2, n);
  }
  assert.equal(
    fs.statSync(path.join(OUT, NAMES[1], 'run.json')).mtimeMs,
    finishedAt,
    'the finished run was left alone',
  );
  // The resumed run carried on from its checkpoint: one epoch line per epoch.
  const epochs = fs
    .readFileSync(path.join(OUT, NAMES[0], 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'epoch')
    .map((l) => l.epoch);
  assert.deepEqual(epochs, [0, 1]);

  // The report of the grid: every run, seeds grouped.
  assert.ok(r.report);
  assert.equal(r.report.html, path.join(OUT, 'tiny', 'report.html'));
  const html = fs.readFileSync(r.report.html, 'utf8');
  for (const n of NAMES) assert.ok(html.includes(n.replace('tiny/', '')), `report lacks ${n}`);
  const md = fs.readFileSync(r.report.markdown, 'utf8');
  assert.match(md, /\| ce \| \d+\.\d\d ± \d+\.\d\d \|/);
  assert.match(md, /\| ldam\+drw \| \d+\.\d\d ± \d+\.\d\d \|/);

  // Again: nothing to do.
  const again: string[] = [];
  const r2 = await runSweep(file, { log: (l) => again.push(l), noReport: true });
  assert.deepEqual(
    r2.points.map((p) => p.status),
    ['skipped', 'skipped', 'skipped', 'skipped'],
  );

  // A changed grid for existing runs is refused before anything starts, naming the runs and the keys.
  const changed = writeGrid('tiny.yaml', GRID.replace('train.epochs: 2', 'train.epochs: 2\n  optim.lr: 0.05'));
  await assert.rejects(runSweep(changed, { log: () => undefined }), (e: Error) => {
    assert.match(e.message, /tiny\.yaml: 4 runs were trained with another configuration/);
    assert.match(
      e.message,
      /tiny\/synthetic\/ce-rho100-exp-s0-ss0: .*run\.json differs in optim\.lr \(run: 0\.1, grid: 0\.05\)/,
    );
    return true;
  });
  assert.equal(fs.statSync(path.join(OUT, NAMES[1], 'run.json')).mtimeMs, finishedAt);
  const dry2: string[] = [];
  const d2 = await runSweep(changed, { dryRun: true, log: (l) => dry2.push(l) });
  assert.ok(d2.points.every((p) => p.status === 'conflict'));

  // Through the command line.
  const c = await runCli(['sweep', changed, '--dry-run']);
  assert.equal(c.code, 0, c.stderr);
  assert.match(c.stderr, /optim\.lr/);
});

test('sweep in self-train mode: one pseudo-label chain per point, base and round1 both reported', async () => {
  const file = writeGrid(
    'chain.yaml',
    GRID.replace('name: tiny', 'name: chain\nmode: self-train')
      .replace('recipes: [ce, ldam+drw]', 'recipes: [ce]\naxes: { data.unlabeled.rhoU: [1, 10] }')
      .replace('seeds: [0, 1]', 'seeds: [0]\n')
      .replace('  model.name', '  data.unlabeled: { k: 1 }\n  model.name'),
  );
  const r = await runSweep(file, { jobs: 2, log: () => undefined });
  assert.equal(r.status, 'completed');
  assert.deepEqual(
    r.points.map((p) => p.name),
    ['chain/synthetic/ce-rho100-exp-rhoU1-s0-ss0', 'chain/synthetic/ce-rho100-exp-rhoU10-s0-ss0'],
  );
  for (const p of r.points) {
    for (const part of ['base', 'round1']) {
      assert.equal(JSON.parse(fs.readFileSync(path.join(p.dir, part, 'run.json'), 'utf8')).status, 'completed');
    }
  }
  const md = fs.readFileSync(r.report?.markdown as string, 'utf8');
  for (const label of ['ce · labeled only · ρU=1', 'ce · + pseudo-labels · ρU=10'])
    assert.ok(md.includes(`| ${label} |`), md);
  const again = await runSweep(file, { log: () => undefined, noReport: true });
  assert.deepEqual(
    again.points.map((p) => p.status),
    ['skipped', 'skipped'],
  );
});

test('grid errors name the file and the key', () => {
  const cases: [string, RegExp][] = [
    ['recipe: [ce]\n', /bad\.yaml: unknown key recipe \(allowed: .*recipes/],
    ['rho: [100, abc]\n', /bad\.yaml: rho\.1: Expected number, received string/],
    ['imbType: [linear]\n', /bad\.yaml: imbType\.0: /],
    ['seeds: []\n', /bad\.yaml: seeds: needs at least one value/],
    ['blocks:\n  - { rhos: [1] }\n', /bad\.yaml: unknown key blocks\.0\.rhos/],
    ['axes: { optim.lrr: [0.1] }\n', /bad\.yaml \(a grid point\): unknown key optim\.lrr \(allowed: lr,/],
    ['base: no-such-preset\n', /bad\.yaml: base: config file .*no-such-preset does not exist/],
    ['set: { train.epochs: -1 }\n', /bad\.yaml \(a grid point\): train\.epochs: /],
    ['recipes: [ce+nothing]\n', /bad\.yaml \(a grid point\): method\.recipe: /],
    ['name: "a/b"\n', /bad\.yaml: name: letters, digits/],
  ];
  for (const [text, re] of cases) {
    const f = writeGrid('bad.yaml', text);
    assert.throws(() => expandGrid(f), re, text);
  }
});

test('the shipped grids expand, with unique names, and the FMNIST-LT ones run on a CPU', () => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'grids'))) dir = path.dirname(dir);
  const files = fs.readdirSync(path.join(dir, 'grids')).filter((f) => f.endsWith('.yaml'));
  for (const need of ['s1-ssp', 's1-semi', 's2-table1']) {
    assert.ok(files.includes(`${need}.yaml`) && files.includes(`${need}-fmnist.yaml`), need);
  }
  for (const f of files) {
    const g = expandGrid(path.join(dir, 'grids', f), { outDir: TMP });
    assert.ok(g.points.length > 0, f);
    if (f.endsWith('-fmnist.yaml')) {
      for (const p of g.points) assert.equal(p.config.data.dataset, 'fmnist-lt', `${f}: ${p.name}`);
    }
  }
});

test('a SIGTERM to the sweep stops its runs after their step (exit 130); the next sweep resumes and finishes them', async () => {
  const out = path.join(TMP, 'sig');
  const file = writeGrid(
    'sig.yaml',
    GRID.replace('name: tiny', 'name: sig')
      .replace(`outDir: ${OUT}`, `outDir: ${out}`)
      .replace('train.epochs: 2', 'train.epochs: 200\n  train.evalEvery: 50')
      .replace('recipes: [ce, ldam+drw]', 'recipes: [ce]'),
  );
  const { spawn } = await import('child_process');
  const cli = path.resolve(__dirname, '..', '..', '..', 'bin', 'ltkit.js');
  const sweep = spawn(process.execPath, [cli, 'sweep', file, '--jobs', '2', '--no-report'], { stdio: 'pipe' });
  let err = '';
  sweep.stderr.on('data', (d) => (err += String(d)));
  const metrics = (seed: number) => path.join(out, 'sig', 'synthetic', `ce-rho100-exp-s${seed}-ss0`, 'metrics.jsonl');
  const lines = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0);
  // Both runs are under way: each has logged some epochs.
  for (let i = 0; i < 600 && !(lines(metrics(0)) > 2 && lines(metrics(1)) > 2); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(lines(metrics(0)) > 2 && lines(metrics(1)) > 2, `both runs started:\n${err}`);
  sweep.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => sweep.on('exit', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.match(err, /SIGTERM: no new runs start/);
  for (const seed of [0, 1]) {
    const run = JSON.parse(fs.readFileSync(path.join(path.dirname(metrics(seed)), 'run.json'), 'utf8'));
    assert.notEqual(run.status, 'completed', 'stopped before its 200 epochs');
    assert.ok(lines(metrics(seed)) < 200);
  }
  // The children let go of their runs: the next sweep resumes both and finishes them.
  const again = await runSweep(file, { jobs: 2, noReport: true, log: () => undefined });
  assert.equal(again.status, 'completed');
  for (const seed of [0, 1]) {
    const run = JSON.parse(fs.readFileSync(path.join(path.dirname(metrics(seed)), 'run.json'), 'utf8'));
    assert.equal(run.status, 'completed');
  }
});
