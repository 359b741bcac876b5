// Resume == uninterrupted (ARCHITECTURE.md "Tests", "Equivalences"): a run stopped after 2 epochs and
// resumed reaches the same final weights and metrics as one that ran straight through; and a real
// `node bin/ltkit.js train` killed with SIGKILL after its first checkpoint resumes through the CLI to
// the same final weights as an uninterrupted run.
import { runCli } from '../cli/test-util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { loadSafetensors, dispose, memory } from '../engine';
import { train } from './trainer';
import type { EpochLog } from './loop';
import { resolveConfig, TrainConfigInput } from './config';
import { buildTrainData } from '../data/train-data';
import { settledMemory } from '../engine/test-support';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-resume-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'bin', 'ltkit.js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

const config = (name: string, recipe: string, epochs: number): TrainConfigInput => ({
  name,
  outDir: OUT,
  seed: 3,
  data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 } },
  model: { name: 'resnet8' },
  method: { recipe },
  schedule: { warmupEpochs: 1 },
  train: { epochs, batchSize: 8, maxStepsPerEpoch: 2, progress: 'off' },
});

/** A file of a run's current checkpoint (named by checkpoints/latest.json). */
function ckptFile(runDir: string, name: string): string {
  const m = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8'));
  assert.ok(m.files[name], `checkpoint ${m.id} has ${name}`);
  return path.join(runDir, 'checkpoints', m.id, name);
}
const ckptState = (runDir: string) => JSON.parse(fs.readFileSync(ckptFile(runDir, 'state.json'), 'utf8'));

/** The same weights, tensor by tensor (exact), and the same file bytes. */
function assertSameWeights(fileA: string, fileB: string, what: string): void {
  const a = loadSafetensors(fileA);
  const b = loadSafetensors(fileB);
  try {
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort(), `${what}: keys`);
    for (const k of Object.keys(a)) assert.deepEqual(b[k].toArray(), a[k].toArray(), `${what}: '${k}' differs`);
  } finally {
    dispose([a, b]);
  }
  assert.ok(fs.readFileSync(fileA).equals(fs.readFileSync(fileB)), `${what}: file bytes differ`);
}

const TIMING = new Set(['seconds', 'imgPerSec']);
function epochLines(runDir: string): Record<string, unknown>[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.type === 'epoch')
    .map((l) => Object.fromEntries(Object.entries(l).filter(([k]) => !TIMING.has(k))));
}

for (const recipe of ['mfw+drw', 'remix+drs', 'ldam+drw']) {
  test(`stop after 2 epochs + resume == 4 epochs uninterrupted (${recipe})`, async () => {
    const tag = recipe.replace(/\+/g, '_');
    const c0 = resolveConfig(config('x', recipe, 4));
    const data = buildTrainData(c0.data);
    const a = await train(config(`A-${tag}`, recipe, 4), { data });
    assert.equal(a.status, 'completed');

    const seen: number[] = [];
    const b1 = await train(config(`B-${tag}`, recipe, 4), {
      data,
      stopAfterEpochs: 2,
      callbacks: { onEpochEnd: (e) => seen.push(e) },
    });
    assert.equal(b1.status, 'interrupted');
    assert.equal(b1.epochs, 2);
    assert.equal(b1.final, null);
    const state = ckptState(b1.runDir);
    assert.equal(state.stagesDone, 0);
    assert.equal(state.epoch, 1);
    assert.equal(JSON.parse(fs.readFileSync(path.join(b1.runDir, 'run.json'), 'utf8')).status, 'interrupted');

    let startEpoch = -1;
    const b2 = await train(config(`B-${tag}`, recipe, 4), {
      data,
      resume: true,
      callbacks: { onTrainBegin: (c) => (startEpoch = c.startEpoch), onEpochEnd: (e) => seen.push(e) },
    });
    assert.equal(startEpoch, 2, 'resumes after the last completed epoch');
    assert.deepEqual(seen, [0, 1, 2, 3], 'no epoch repeated or skipped');
    assert.equal(b2.status, 'completed');
    assert.equal(b2.runDir, b1.runDir);

    // The last checkpoint is the one after the stage (no optimizer in it): compare the final model and the
    // best weights here, and a mid-run checkpoint's optimizer state below.
    assertSameWeights(ckptFile(a.runDir, 'model.safetensors'), ckptFile(b2.runDir, 'model.safetensors'), 'final');
    assertSameWeights(ckptFile(a.runDir, 'best.safetensors'), ckptFile(b2.runDir, 'best.safetensors'), 'best');
    // Stopped after 3 epochs straight vs stopped after 2, resumed and stopped after 1 more.
    const a3 = await train(config(`A3-${tag}`, recipe, 4), { data, stopAfterEpochs: 3 });
    await train(config(`C-${tag}`, recipe, 4), { data, stopAfterEpochs: 2 });
    const c3 = await train(config(`C-${tag}`, recipe, 4), { data, resume: true, stopAfterEpochs: 1 });
    assert.equal(ckptState(c3.runDir).epoch, 2);
    for (const f of ['model.safetensors', 'optimizer.safetensors', 'best.safetensors']) {
      assertSameWeights(ckptFile(a3.runDir, f), ckptFile(c3.runDir, f), `epoch-3 checkpoint ${f}`);
    }
    assert.deepEqual(ckptState(c3.runDir), ckptState(a3.runDir), 'epoch-3 checkpoint state.json');
    const la = epochLines(a.runDir);
    const lb = epochLines(b2.runDir);
    assert.equal(la.length, 4);
    assert.deepEqual(lb, la, 'metrics.jsonl epoch lines (timing fields aside)');
    assert.deepEqual(b2.final, a.final);
    assert.deepEqual(b2.best, a.best);
    assert.equal(b2.bestEpoch, a.bestEpoch);
    const runB = JSON.parse(fs.readFileSync(path.join(b2.runDir, 'run.json'), 'utf8'));
    assert.equal(runB.status, 'completed');
    assert.equal(runB.epochsDone, 4);
    assert.equal(runB.config.method.recipe, recipe, 'resume keeps the original run.json fields');
  });
}

for (const [recipe, stop] of [
  ['ce+crt', 5],
  ['ldam+drw+lws', 6],
  ['ce+tau-norm', 4],
] as const) {
  test(`a run stopped inside or before its extra stage resumes to the uninterrupted result (${recipe})`, async () => {
    const tag = recipe.replace(/\+/g, '_');
    const cfg = (name: string): TrainConfigInput => ({
      ...config(name, recipe, 4),
      method: { recipe, crt: { epochs: 3 }, lws: { epochs: 3 }, tauNorm: { taus: [0, 0.5, 1] } },
    });
    const c1 = resolveConfig(cfg('x'));
    const data = buildTrainData(c1.data);
    const straight = await train(cfg(`S-${tag}`), { data });
    const first = await train(cfg(`K-${tag}`), { data, stopAfterEpochs: stop });
    assert.equal(first.status, 'interrupted');
    const st = ckptState(first.runDir);
    assert.equal(st.stagesDone, 1, 'the main stage is done');
    assert.equal(st.epoch, stop - 5, 'epochs done in the extra stage');
    const resumed = await train(cfg(`K-${tag}`), { data, resume: true });
    assert.equal(resumed.status, 'completed');
    assertSameWeights(
      ckptFile(straight.runDir, 'model.safetensors'),
      ckptFile(resumed.runDir, 'model.safetensors'),
      `${recipe}: final model`,
    );
    assert.deepEqual(resumed.stages, straight.stages);
    assert.deepEqual(resumed.final, straight.final);
    assert.deepEqual(epochLines(resumed.runDir), epochLines(straight.runDir));
  });
}

test('resume rewrites metric lines past the checkpoint; resuming a finished run trains nothing', async () => {
  const cfg = config('trunc', 'ce', 3);
  const rc = resolveConfig(cfg);
  const data = buildTrainData(rc.data);
  const before = settledMemory().numTensors;
  const r1 = await train(cfg, { data, stopAfterEpochs: 1 });
  // Simulate a kill between the metrics append and the checkpoint: a line for epoch 1, which the resumed
  // run redoes, then a line torn by the kill (no newline).
  fs.appendFileSync(
    path.join(r1.runDir, 'metrics.jsonl'),
    JSON.stringify({
      type: 'epoch',
      stage: 'train',
      epoch: 1,
      lr: 0.1,
      loss: 123,
      lossTerms: { ce: 123 },
      trainAcc: 0.5,
      imgPerSec: 1,
      seconds: 1,
    }) +
      '\n' +
      '{"type":"epoch","stage":"tr',
  );
  const warnings: string[] = [];
  const logs: EpochLog[] = [];
  const r2 = await train(cfg, {
    data,
    resume: true,
    log: (l) => warnings.push(l),
    callbacks: { onEpochEnd: (_e, l) => logs.push(l) },
  });
  assert.ok(
    warnings.some((w) => /warning: .*metrics\.jsonl:3: dropped a torn last line/.test(w)),
    warnings.join('\n'),
  );
  assert.equal(r2.status, 'completed');
  assert.deepEqual(
    epochLines(r2.runDir).map((l) => l.epoch),
    [0, 1, 2],
  );
  assert.notEqual(epochLines(r2.runDir)[1].loss, 123);
  let ran = 0;
  const r3 = await train(cfg, { data, resume: true, callbacks: { onEpochEnd: () => ran++ } });
  assert.equal(ran, 0);
  assert.equal(r3.status, 'completed');
  assert.equal(r3.epochs, 3);
  assert.equal(memory().numTensors, before, 'train/resume leave no live tensors');
  await assert.rejects(train({ ...cfg, name: 'never-created' }, { data, resume: true }), /not an ltkit run directory/);
});

/** Runs the CLI in-process with output captured. */
async function cli(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await runCli(argv);
  return { code: r.code, out: r.stdout + r.stderr };
}

test('SIGKILL a CLI training run after its first checkpoint, resume via the CLI == uninterrupted', async () => {
  const E = 40;
  const sets = [
    'data.dataset=synthetic',
    'data.synthetic.size=8',
    'data.synthetic.testPerClass=4',
    'model.name=resnet8',
    `train.epochs=${E}`,
    'train.batchSize=8',
    'train.maxStepsPerEpoch=2',
    'train.progress=off',
    'schedule.warmupEpochs=1',
    'method.recipe=mfw+drw',
    'seed=5',
    `outDir=${OUT}`,
  ].flatMap((s) => ['--set', s]);
  const root = repoRoot();
  const killedDir = path.join(OUT, 'killed');
  const stateFile = path.join(killedDir, 'checkpoints', 'latest.json');

  const child = spawn(process.execPath, [path.join(root, 'bin', 'ltkit.js'), 'train', ...sets, '--name', 'killed'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let childOut = '';
  child.stdout.on('data', (d) => (childOut += d));
  child.stderr.on('data', (d) => (childOut += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(stateFile)) {
    if (child.exitCode !== null)
      assert.fail(`the child exited (${child.exitCode}) before its first checkpoint:\n${childOut}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`no checkpoint within 60 s:\n${childOut}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  const how = await exited;
  assert.equal(how.signal, 'SIGKILL', `killed by SIGKILL (exit ${how.code}):\n${childOut}`);
  const atKill = ckptState(killedDir);
  assert.ok(atKill.epoch < E - 1, `killed mid-run (after epoch ${atKill.epoch})`);
  assert.equal(JSON.parse(fs.readFileSync(path.join(killedDir, 'run.json'), 'utf8')).status, 'running');

  // Resume through the CLI (a second process, as a user would).
  const resumed = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const c = spawn(
      process.execPath,
      [path.join(root, 'bin', 'ltkit.js'), 'train', ...sets, '--name', 'killed', '--resume'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('exit', (code) => resolve({ code, out }));
  });
  assert.equal(resumed.code, 0, resumed.out);
  assert.match(resumed.out, new RegExp(`completed, ${E} epochs`));
  const run = JSON.parse(fs.readFileSync(path.join(killedDir, 'run.json'), 'utf8'));
  assert.equal(run.status, 'completed');
  assert.equal(run.epochsDone, E);

  // The uninterrupted reference run (in-process CLI).
  const ref = await cli(['train', ...sets, '--name', 'straight']);
  assert.equal(ref.code, 0, ref.out);
  const straightDir = path.join(OUT, 'straight');
  assertSameWeights(
    ckptFile(straightDir, 'model.safetensors'),
    ckptFile(killedDir, 'model.safetensors'),
    'final weights',
  );
  assert.deepEqual(epochLines(killedDir), epochLines(straightDir), 'metrics.jsonl epoch lines');

  // --resume needs --name.
  const noName = await cli(['train', ...sets, '--resume']);
  assert.equal(noName.code, 2);
  assert.match(noName.out, /--resume needs --name/);
});

test('Ctrl-C (SIGINT) stops a CLI run between steps: exit 130, status interrupted, resumable', async () => {
  // Regression: the epoch loop never yielded to the event loop, so SIGINT was handled only after
  // training had finished.
  const sets = [
    'data.dataset=synthetic',
    'data.synthetic.size=8',
    'model.name=resnet8',
    'train.epochs=200',
    'train.batchSize=8',
    'train.progress=off',
    `outDir=${OUT}`,
  ].flatMap((s) => ['--set', s]);
  const root = repoRoot();
  const dir = path.join(OUT, 'sigint');
  const child = spawn(process.execPath, [path.join(root, 'bin', 'ltkit.js'), 'train', ...sets, '--name', 'sigint'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stateFile = path.join(dir, 'checkpoints', 'latest.json');
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(stateFile)) {
    if (child.exitCode !== null) assert.fail(`exited (${child.exitCode}) before its first checkpoint:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      assert.fail(`no checkpoint within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGINT');
  assert.equal(await exited, 130, out);
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(run.status, 'interrupted');
  assert.ok(run.epochsDone < 200, `stopped early (after ${run.epochsDone} epochs)`);
  assert.match(out, /interrupt/);
  const resumed = await cli(['train', ...sets, '--set', 'train.epochs=200', '--name', 'sigint', '--resume']);
  assert.equal(resumed.code, 0, resumed.out);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).status, 'completed');
});
