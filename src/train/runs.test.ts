// Runs as the contract (train/run-dir.ts, checkpoint.ts, config.ts resumeConfig): an existing run is never
// silently overwritten, a resumed run keeps its own configuration, files are validated and errors name them,
// checkpoints are verified against their manifest, killed saves leave nothing behind, paths expand `~`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { train } from './trainer';
import {
  resolveConfig,
  applyOverrides,
  readConfigFile,
  resumeConfig,
  expandHome,
  ConfigError,
  TrainConfigInput,
} from './config';
import { RunDir, checkRunName } from './run-dir';
import { loadRunModel } from './run-model';
import { buildTrainData } from '../data/train-data';
import { runCli } from '../cli/test-util';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-runs-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const config = (name: string, over: Partial<TrainConfigInput> = {}): TrainConfigInput => ({
  name,
  outDir: OUT,
  data: { dataset: 'synthetic', synthetic: { size: 8, testPerClass: 2 } },
  model: { name: 'resnet8' },
  schedule: { warmupEpochs: 1 },
  ...over,
  train: { epochs: 3, batchSize: 8, maxStepsPerEpoch: 1, progress: 'off', ...(over.train ?? {}) },
});
const c0 = resolveConfig(config('x'));
const data = buildTrainData(c0.data);

test('an existing run is refused without --resume or --overwrite; --overwrite replaces it', async () => {
  const first = await train(config('taken'), { data });
  assert.equal(first.status, 'completed');
  const metrics = fs.readFileSync(path.join(first.runDir, 'metrics.jsonl'), 'utf8');
  await assert.rejects(
    train(config('taken'), { data }),
    /run 'taken' already exists in .*: continue it with --resume, replace it with --overwrite, or choose another name \(e\.g\. --name taken-2\)/,
  );
  assert.equal(fs.readFileSync(path.join(first.runDir, 'metrics.jsonl'), 'utf8'), metrics, 'untouched');
  const again = await train(config('taken', { seed: 4 }), { data, overwrite: true });
  assert.equal(again.status, 'completed');
  const lines = fs.readFileSync(path.join(again.runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 3 + 1, 'a fresh metrics.jsonl: 3 epochs and the stage line, nothing appended');
  assert.equal(JSON.parse(fs.readFileSync(path.join(again.runDir, 'run.json'), 'utf8')).config.seed, 4);
  // Through the CLI: exit code 1 with the same advice.
  const r = await runCli(['train', '--set', `outDir=${OUT}`, '--set', 'data.dataset=synthetic', '--name', 'taken']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already exists.*--resume.*--overwrite/);
});

test('a run in use by another process is refused; a lock left by a dead process is taken over', async () => {
  const r = await train(config('locked'), { data, stopAfterEpochs: 1 });
  const sleeper = spawn('sleep', ['30']);
  try {
    fs.writeFileSync(path.join(r.runDir, 'run.lock'), String(sleeper.pid));
    await assert.rejects(
      train(config('locked'), { data, resume: true }),
      new RegExp(`is in use by process ${sleeper.pid}`),
    );
    await assert.rejects(train(config('locked'), { data, overwrite: true }), /is in use by process/);
  } finally {
    sleeper.kill('SIGKILL');
    await new Promise((res) => sleeper.on('exit', res));
  }
  // The holder is gone (a kill -9 leaves its lock behind): the next process takes over.
  const done = await train(config('locked'), { data, resume: true });
  assert.equal(done.status, 'completed');
  assert.ok(!fs.existsSync(path.join(r.runDir, 'run.lock')), 'released at the end');
});

test('--resume takes run.json; a result-changing difference is refused, listing the dotted keys', async () => {
  const r1 = await train(config('resumable', { train: { epochs: 4 } }), { data, stopAfterEpochs: 1 });
  assert.equal(r1.status, 'interrupted');
  for (const [over, keys] of [
    [{ optim: { lr: 0.05 } }, ['optim.lr']],
    [{ train: { epochs: 6 } }, ['train.epochs']],
    [{ method: { recipe: 'ldam+drw' } }, ['method.recipe']],
    [{ seed: 9, method: { recipe: 'ce', cbBeta: 0.99 } }, ['method.cbBeta', 'seed']],
  ] as [Partial<TrainConfigInput>, string[]][]) {
    await assert.rejects(
      train(config('resumable', { ...over, train: { epochs: 4, ...((over.train as object) ?? {}) } }), {
        data,
        resume: true,
      }),
      (e: Error) => {
        assert.ok(e instanceof ConfigError, e.message);
        assert.match(e.message, new RegExp(`differs from .*run\\.json in ${keys.length} setting`));
        for (const k of keys) assert.ok(e.message.includes(`${k} (run: `), `names ${k}: ${e.message}`);
        return true;
      },
    );
  }
  // Settings that cannot change the result may change.
  const r2 = await train(config('resumable', { train: { epochs: 4, progress: 'on', checkpointEvery: 2 } }), {
    data,
    resume: true,
    log: () => undefined,
  });
  assert.equal(r2.status, 'completed');
  // The CLI resumes from run.json alone (no --config): a --set of a neutral key is fine, of another refused.
  const cli = (...extra: string[]) =>
    runCli(['train', '--name', 'resumable', '--resume', '--set', `outDir=${OUT}`, ...extra]);
  assert.equal((await cli('--set', 'train.progress=off')).code, 0);
  const bad = await cli('--set', 'train.batchSize=16');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /train\.batchSize \(run: 8, now: 16\)/);
});

test('resumeConfig: the run keeps its configuration; only neutral keys follow the request', () => {
  const saved = resolveConfig(config('a'));
  const same = resumeConfig(saved, resolveConfig(config('a', { threads: 1, train: { progress: 'on' } })));
  assert.equal(same.threads, 1);
  assert.equal(same.train.progress, 'on');
  const back = { ...same, threads: undefined, train: { ...same.train, progress: saved.train.progress } };
  assert.equal(JSON.stringify(back), JSON.stringify(saved), "everything else is the run's own");
  assert.throws(() => resumeConfig(saved, resolveConfig(config('a', { model: { name: 'resnet20' } }))), /model\.name/);
});

test('run files are validated: a corrupt run.json or checkpoint is named before anything trains', async () => {
  const r = await train(config('corrupt'), { data, stopAfterEpochs: 1 });
  const runJson = path.join(r.runDir, 'run.json');
  const good = fs.readFileSync(runJson, 'utf8');
  fs.writeFileSync(runJson, good.slice(0, 40));
  await assert.rejects(train(config('corrupt'), { data, resume: true }), new RegExp(`${runJson}: not valid JSON`));
  fs.writeFileSync(runJson, good.replace('"status": "interrupted"', '"status": "done?"'));
  await assert.rejects(train(config('corrupt'), { data, resume: true }), new RegExp(`${runJson}: status: `));
  fs.writeFileSync(runJson, good);
  // A checkpoint file changed after it was committed is refused, naming it.
  const ck = path.join(r.runDir, 'checkpoints');
  const id = JSON.parse(fs.readFileSync(path.join(ck, 'latest.json'), 'utf8')).id;
  const model = path.join(ck, id, 'model.safetensors');
  const bytes = fs.readFileSync(model);
  bytes[bytes.length - 1] ^= 0xff;
  fs.writeFileSync(model, bytes);
  await assert.rejects(
    train(config('corrupt'), { data, resume: true }),
    new RegExp(`${model}: does not match .*latest\\.json \\(size or sha256 differs\\)`),
  );
  assert.throws(() => loadRunModel(r.runDir), /does not match/);
});

test('a save killed half-way leaves the previous checkpoint; its leftovers are removed on resume', async () => {
  const r = await train(config('killed-save', { train: { epochs: 3 } }), { data, stopAfterEpochs: 1 });
  const ck = path.join(r.runDir, 'checkpoints');
  const id = JSON.parse(fs.readFileSync(path.join(ck, 'latest.json'), 'utf8')).id;
  // What a kill leaves at each point of a save: a half-written folder, a complete but uncommitted one, a
  // manifest temporary, a run.json temporary.
  fs.mkdirSync(path.join(ck, `stage0-epoch2.tmp-123`));
  fs.writeFileSync(path.join(ck, `stage0-epoch2.tmp-123`, 'model.safetensors'), 'partial');
  fs.cpSync(path.join(ck, id), path.join(ck, 'stage0-epoch2'), { recursive: true });
  fs.writeFileSync(path.join(ck, 'latest.json.tmp-123'), '{"format":1');
  fs.writeFileSync(path.join(r.runDir, 'run.json.tmp-77'), '{');
  const run = RunDir.open(r.runDir);
  assert.equal(run.readState()?.epoch, 0, 'the committed checkpoint is still the current one');
  const done = await train(config('killed-save', { train: { epochs: 3 } }), { data, resume: true });
  assert.equal(done.status, 'completed');
  const left = fs.readdirSync(ck).sort();
  const now = JSON.parse(fs.readFileSync(path.join(ck, 'latest.json'), 'utf8')).id;
  assert.deepEqual(left, ['latest.json', now].sort(), 'only the current checkpoint remains');
  assert.ok(!fs.readdirSync(r.runDir).some((f) => f.includes('.tmp-')), 'no temporaries in the run folder');
});

test('two kinds of seed: data.subsetSeed picks the subset, seed the training; run.json records both', async () => {
  const a = await train(config('seed-a', { seed: 1 }), {});
  const b = await train(config('seed-b', { seed: 2 }), {});
  const c = await train(config('seed-c', { seed: 1, data: { dataset: 'synthetic', subsetSeed: 5 } }), {});
  const info = (r: { runDir: string }) => JSON.parse(fs.readFileSync(path.join(r.runDir, 'run.json'), 'utf8'));
  assert.equal(info(a).data.subsetHash, info(b).data.subsetHash, 'training seeds share the subset');
  assert.notEqual(info(a).data.subsetHash, info(c).data.subsetHash, 'another subsetSeed, another subset');
  assert.deepEqual(
    [a, b, c].map((r) => [info(r).config.seed, info(r).data.subsetSeed]),
    [
      [1, 0],
      [2, 0],
      [1, 5],
    ],
  );
  assert.notDeepEqual(b.final?.confusion, undefined);
});

test('a resumed run whose metrics.jsonl was deleted says so', async () => {
  const r = await train(config('no-metrics'), { data, stopAfterEpochs: 1 });
  fs.rmSync(path.join(r.runDir, 'metrics.jsonl'));
  const lines: string[] = [];
  const done = await train(config('no-metrics'), { data, resume: true, log: (l) => lines.push(l) });
  assert.equal(done.status, 'completed');
  assert.ok(
    lines.some((l) => /warning: .*metrics\.jsonl is missing: the resumed run logs only the epochs it trains/.test(l)),
    lines.join('\n'),
  );
});

test('a run that fails says so in run.json, with the error', async () => {
  await assert.rejects(
    train(config('diverges', { optim: { lr: 1e30 } }), { data }),
    /loss term 'ce' is (NaN|-?Infinity) at epoch/,
  );
  const run = JSON.parse(fs.readFileSync(path.join(OUT, 'diverges', 'run.json'), 'utf8'));
  assert.equal(run.status, 'failed');
  assert.match(run.error, /loss term 'ce'/);
});

test('a data set of valid but empty IDX files is refused before training, naming the class counts', async () => {
  const root = path.join(OUT, 'empty-idx');
  fs.mkdirSync(root, { recursive: true });
  const idx = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  for (const split of ['train', 't10k']) {
    fs.writeFileSync(path.join(root, `${split}-images-idx3-ubyte`), idx(0x803, [0, 28, 28]));
    fs.writeFileSync(path.join(root, `${split}-labels-idx1-ubyte`), idx(0x801, [0]));
  }
  await assert.rejects(
    train({ name: 'empty', outDir: OUT, data: { dataset: 'fmnist-lt', root }, train: { epochs: 1, progress: 'off' } }),
    /'fmnist-lt': the test split has no images|would get no training image/,
  );
});

test('paths expand a leading ~; run names stay inside outDir; --set cannot reach the prototype', () => {
  assert.equal(expandHome('~'), os.homedir());
  assert.equal(expandHome('~/data/cifar'), path.join(os.homedir(), 'data/cifar'));
  assert.equal(expandHome('data/~x'), 'data/~x');
  const c = resolveConfig(applyOverrides({}, ['outDir=~/runs', 'data.root=~/datasets/cifar10']));
  assert.equal(c.outDir, path.join(os.homedir(), 'runs'));
  assert.equal(c.data.root, path.join(os.homedir(), 'datasets/cifar10'));
  for (const bad of ['../x', '/abs', 'a/../../b', 'a//b', '.'])
    assert.throws(() => checkRunName(bad), /inside outDir/, bad);
  checkRunName('quickstart-1/ce');
  for (const key of ['__proto__.polluted', 'constructor.prototype.polluted', 'train.__proto__.x'])
    assert.throws(() => applyOverrides({}, [`${key}=1`]), /is not a config key/, key);
  // A config file with a __proto__ key: an unknown key, not a prototype.
  const file = path.join(OUT, 'proto.json');
  fs.writeFileSync(file, '{"__proto__": {"polluted": 1}, "train": {"__proto__": {"polluted": 2}}}');
  assert.throws(() => resolveConfig(readConfigFile(file), file), /unknown key/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.throws(() => resolveConfig({ optim: { lr: 1e999 } }), /optim\.lr/);
});
