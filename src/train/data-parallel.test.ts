// Data-parallel training through the trainer, under `ltkit launch` (2 local ranks, Gloo): with synchronised
// BatchNorm and no augmentation, 2 ranks × batch B/2 train the same weights as 1 process × batch B (the
// ranks' shards together are the one-process batches, gradients are averaged, BatchNorm's statistics span
// both ranks); only rank 0 writes the run; a run stopped after one epoch and resumed under launch ends with
// the weights of an uninterrupted one. Skipped when the build has no process groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launch } from '../dist';
import { skipWithoutGloo } from '../dist/test-worker';
import { loadSafetensors, tidy } from '../engine';
import { train } from './trainer';
import { defaultBackend } from './parallel';
import type { ClassificationSummary } from '../eval/metrics';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-dp-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const WORKER = path.join(__dirname, 'dp-worker.js');
const SKIP = skipWithoutGloo();

/** A tiny run: synthetic 16×16 images, ResNet-8, batch 8, 3 epochs × 2 steps, no augmentation, plain CE. */
function config(name: string, extra: { train?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    name,
    outDir: TMP,
    threads: 1,
    data: { dataset: 'synthetic', synthetic: { size: 16, numClasses: 4, imgMax: 24, testPerClass: 4 } },
    model: { name: 'resnet8' },
    method: { recipe: 'ce' },
    schedule: { warmupEpochs: 1 },
    train: { batchSize: 8, epochs: 3, maxStepsPerEpoch: 2, progress: 'off', augment: false, ...extra.train },
  };
}

/** The JSON lines dp-worker prints, one per rank (each starts with `{"rank"`). */
function rankLines<T = Record<string, any>>(out: string): (T & { rank: number })[] {
  return out
    .split('\n')
    .map((l) => /\{"rank".*\}/.exec(l)?.[0])
    .filter((l): l is string => Boolean(l))
    .map((l) => JSON.parse(l) as T & { rank: number });
}

/** The `{"rank", "status", "final"}` lines of training jobs. */
const finalLines = (out: string) => rankLines<{ final: ClassificationSummary }>(out);

async function launched(job: Record<string, unknown>): Promise<string> {
  let out = '';
  const r = await launch({
    nproc: 2,
    command: [WORKER, JSON.stringify(job)],
    timeoutMs: 60_000,
    stdout: (s) => (out += s),
    stderr: (s) => (out += s),
  });
  assert.equal(r.code, 0, `launch failed: ${r.failed?.message ?? ''}\n${out}`);
  return out;
}

/** The largest |a − b| over every tensor of two runs' final weights (same keys). */
function maxDiff(runA: string, runB: string): { diff: number; keys: number } {
  const file = (run: string) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(TMP, run, 'checkpoints', 'latest.json'), 'utf8'));
    return path.join(TMP, run, 'checkpoints', manifest.id, 'model.safetensors');
  };
  const a = loadSafetensors(file(runA));
  const b = loadSafetensors(file(runB));
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  let diff = 0;
  for (const k of Object.keys(a)) {
    if (a[k].dtype !== 'float32') continue;
    diff = Math.max(
      diff,
      tidy(() => a[k].sub(b[k]).abs().amax().item()),
    );
  }
  return { diff, keys: Object.keys(a).length };
}

test('2 ranks × batch B/2 with SyncBatchNorm train the weights of 1 process × batch B', { skip: SKIP }, async () => {
  const single = await train(config('one'), { log: () => undefined });
  const out = await launched({ config: config('two', { train: { syncBatchNorm: true } }) });
  assert.match(out, /"rank":0,"status":"completed"/);
  assert.match(out, /"rank":1,"status":"completed"/);
  const { diff, keys } = maxDiff('one', 'two');
  assert.ok(keys > 10);
  assert.ok(diff < 1e-5, `max |Δweight| ${diff}`);
  // Each rank evaluates half of the test set and the counts are summed: both ranks report the one-process
  // evaluation of the whole set (every image counted once; same predictions, as the weights are equal).
  const synced = finalLines(out);
  assert.equal(synced.length, 2);
  for (const r of synced) {
    assert.equal(r.final.numSamples, single.final!.numSamples, `rank ${r.rank}: every test image once`);
    assert.deepEqual(r.final.confusion, single.final!.confusion, `rank ${r.rank}: the one-process confusion`);
  }
  // Without SyncBatchNorm each rank normalises its own half-batch: the weights differ (the test can fail).
  const local = await launched({ config: config('two-local') });
  assert.ok(maxDiff('one', 'two-local').diff > 1e-4, 'per-process BatchNorm gives other weights');
  // Both ranks evaluate with rank 0's BatchNorm statistics (as DDP's broadcast buffers): the same final metrics.
  const finals = finalLines(local);
  assert.equal(finals.length, 2);
  assert.deepEqual(finals[0].final, finals[1].final);
  // Only rank 0 wrote: one metrics line per epoch, whose loss and accuracy are over both ranks' images (the
  // one-process figures), and the world in run.json.
  const epochs = (run: string) =>
    fs
      .readFileSync(path.join(TMP, run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'epoch');
  const [one, two] = [epochs('one'), epochs('two')];
  assert.equal(two.length, 3);
  two.forEach((r, e) => {
    assert.ok(Math.abs(r.loss - one[e].loss) < 1e-5, `epoch ${e}: loss ${r.loss} vs one process ${one[e].loss}`);
    assert.equal(r.trainAcc, one[e].trainAcc);
  });
  const run = JSON.parse(fs.readFileSync(path.join(TMP, 'two', 'run.json'), 'utf8'));
  assert.equal(run.world?.size, 2);
});

test('a run stopped after epoch 1 and resumed under launch equals an uninterrupted one', { skip: SKIP }, async () => {
  await launched({ config: config('whole') });
  await launched({ config: config('resumed'), stopAfterEpochs: 1 });
  const partial = JSON.parse(fs.readFileSync(path.join(TMP, 'resumed', 'run.json'), 'utf8'));
  assert.equal(partial.status, 'interrupted');
  await launched({ config: config('resumed'), resume: true });
  const { diff } = maxDiff('whole', 'resumed');
  assert.equal(diff, 0, `max |Δweight| ${diff}`);
});

test(
  "MoCo's shuffle-BN across ranks: each rank gets its own images' keys, computed in batches mixing both ranks",
  { skip: SKIP },
  async () => {
    const out = await launched({ kind: 'shuffle', config: {} });
    const rows = rankLines(out);
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.err, 0, `rank ${r.rank}: keys come back in its own images' order`);
      assert.equal(r.forwarded, 6);
      assert.ok(r.foreign > 0, `rank ${r.rank} forwarded only its own images`);
    }
  },
);

test(
  "features extracted by 2 ranks (each its part, gathered) are the whole set's rows in order",
  { skip: SKIP },
  async () => {
    const out = await launched({ kind: 'features', config: {} });
    const rows = rankLines(out);
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.n, 15);
      assert.equal(r.rows, 15, `rank ${r.rank}: every image once`);
      assert.ok(r.err < 1e-6, `rank ${r.rank}: max |Δfeature| ${r.err}`);
      assert.equal(r.targets, true, `rank ${r.rank}: targets in the set's order`);
    }
  },
);

test(
  'MoCo pre-training under launch: its kNN monitor (features gathered from both ranks) agrees on both',
  { skip: SKIP },
  async () => {
    const cfg = { ...config('moco-dp'), pretrain: { method: 'moco', knn: { every: 1 } } };
    const finals = finalLines(await launched({ config: cfg }));
    assert.equal(finals.length, 2);
    assert.equal(finals[0].final.numSamples, 16, 'kNN over every test image once');
    assert.deepEqual(finals[0].final, finals[1].final);
  },
);

test('the launched group is NCCL for a CUDA device and Gloo on the CPU, unless LTKIT_DIST_BACKEND says', () => {
  const saved = process.env.LTKIT_DIST_BACKEND;
  try {
    delete process.env.LTKIT_DIST_BACKEND;
    assert.equal(defaultBackend('cpu'), 'gloo');
    assert.equal(defaultBackend('cuda'), 'nccl');
    assert.equal(defaultBackend('cuda:1'), 'nccl');
    process.env.LTKIT_DIST_BACKEND = 'gloo';
    assert.equal(defaultBackend('cuda:0'), 'gloo');
    process.env.LTKIT_DIST_BACKEND = 'mpi';
    assert.throws(() => defaultBackend('cpu'), /LTKIT_DIST_BACKEND='mpi': expected gloo or nccl/);
  } finally {
    if (saved === undefined) delete process.env.LTKIT_DIST_BACKEND;
    else process.env.LTKIT_DIST_BACKEND = saved;
  }
});
