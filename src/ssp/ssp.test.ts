// Self-supervised pre-training (S1 §4) against PyTorch (fixtures/ssp/gen_ssp.py): rotations as torch.rot90,
// targets balanced in the batch; MoCo's momentum update, queue ring and InfoNCE; the kNN monitor on a
// hand-made feature set; then through the trainer: pretrain → fine-tune (CLI), a MoCo run stopped and resumed
// equals an uninterrupted one (queue included), and an `ssp-*` recipe reuses a finished pre-training run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, tidy, noGrad, loadSafetensors, dispose } from '../engine';
import { copy_ } from '../engine/ops.generated';
import { Linear } from '../nn/layers';
import { emaUpdate } from '../nn/ema';
import { rotate90 } from '../data/transforms/geometric';
import { Rng } from '../util/rng';
import { settledMemory } from '../engine/test-support';
import { FeatureQueue, infoNce, groupedForward } from './moco';
import { knnScores, knnSummary } from './knn';
import { balancedRotations } from './pretext';
import { train } from '../train/trainer';
import { selfTrain } from '../train/pseudo-label';
import type { TrainConfigInput } from '../train/config';
import { runCli } from '../cli/test-util';

const DIR = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'ssp');
const meta = JSON.parse(fs.readFileSync(path.join(DIR, 'ssp.json'), 'utf8'));
const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-ssp-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const values = (t: Tensor) => Array.from(t.toArray() as Float32Array);
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

test('rotation: pixels rotated exactly as torch.rot90; targets balanced within every batch', () => {
  const fx = loadSafetensors(path.join(DIR, 'ssp.safetensors'));
  try {
    const y = rotate90(fx['rot.x'], meta.rotK);
    assert.deepEqual(values(y), values(fx['rot.y']));
    y.dispose();
  } finally {
    dispose(fx);
  }
  const rng = new Rng(3);
  for (const n of [1, 4, 7, 128, 130]) {
    const k = balancedRotations(n, rng);
    const counts = [0, 1, 2, 3].map((r) => k.filter((v) => v === r).length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `batch of ${n}: counts ${counts}`);
  }
  const a = balancedRotations(64, new Rng(1));
  const b = balancedRotations(64, new Rng(2));
  assert.notDeepEqual(Array.from(a), Array.from(b), 'which image gets which rotation is random');
});

test('MoCo: momentum update, queue ring and InfoNCE match moco/builder.py', () => {
  const before = settledMemory().numTensors;
  const fx = loadSafetensors(path.join(DIR, 'ssp.safetensors'));
  const key = new Linear(6, 4);
  const query = new Linear(6, 4);
  try {
    noGrad(() => {
      copy_(key.weight, fx['mom.k0.weight']);
      copy_(key.param('bias'), fx['mom.k0.bias']);
    });
    for (let s = 0; s < 3; s++) {
      noGrad(() => {
        copy_(query.weight, fx[`mom.q${s}.weight`]);
        copy_(query.param('bias'), fx[`mom.q${s}.bias`]);
      });
      emaUpdate(key, query, meta.momentum);
      close(values(key.weight), values(fx[`mom.k${s + 1}.weight`]), 1e-6, `key weight, step ${s}`);
      close(values(key.param('bias')), values(fx[`mom.k${s + 1}.bias`]), 1e-6, `key bias, step ${s}`);
    }

    const q = new FeatureQueue(4, 6);
    noGrad(() => copy_(q.queue, fx['queue.initial']));
    for (let s = 0; s < 4; s++) {
      q.enqueue(fx[`queue.keys${s}`]);
      assert.deepEqual(values(q.queue), values(fx[`queue.after${s}`]), `queue after enqueue ${s}`);
      assert.equal(q.position, meta.queuePtrs[s]);
    }
    // The queue and its pointer survive a checkpoint round trip.
    const saved = q.state('x.');
    const r = new FeatureQueue(4, 6);
    r.loadState('x.', saved);
    assert.deepEqual(values(r.queue), values(q.queue));
    assert.equal(r.position, q.position);
    assert.throws(() => q.enqueue(fx['mom.k0.weight']), /not a multiple of the batch 4/);
    dispose(saved);
    q.dispose();
    r.dispose();

    tidy(() => {
      const { loss, logits } = infoNce(fx['nce.q'], fx['nce.k'], fx['nce.queue'], meta.temperature);
      close(values(logits), values(fx['nce.logits']), 1e-5, 'logits');
      close([loss.item()], [meta.nceLoss], 1e-5, 'InfoNCE loss');
    });
  } finally {
    key.dispose();
    query.dispose();
    dispose(fx);
  }
  assert.equal(settledMemory().numTensors, before, 'no tensors left behind');
});

test('shuffle-BN emulation: grouped forward equals a per-group forward and undoes its shuffle', () => {
  const x = tensor(
    Float32Array.from({ length: 8 * 3 }, (_, i) => i),
    [8, 3],
  );
  // A batch-dependent function (subtract the group mean) shows the groups; the shuffle must be undone.
  const centred = (z: Tensor) => z.sub(z.mean(0, { keepdim: true }));
  tidy(() => {
    const plain = groupedForward(x, 2, centred);
    const firstHalf = values(centred(x.narrow(0, 0, 4)));
    assert.deepEqual(values(plain).slice(0, 12), firstHalf);
    const shuffled = groupedForward(x, 1, (z) => z.mul(2), new Rng(4));
    assert.deepEqual(values(shuffled), values(x.mul(2)), 'a per-image function is unchanged by the shuffle');
    const mixed = groupedForward(x, 2, centred, new Rng(4));
    assert.notDeepEqual(values(mixed), values(plain), 'shuffled groups hold other images');
  });
  x.dispose();
});

test('kNN monitor on a hand-made feature set', () => {
  // Class 0 around +x, class 1 around +y (3 images each); test points near each axis and one between.
  const train = tensor(Float32Array.from([1, 0.1, 1, -0.1, 2, 0, 0.1, 1, -0.1, 1, 0, 3]), [6, 2]);
  const labels = tensor(Int32Array.from([0, 0, 0, 1, 1, 1]), [6], 'int64');
  const test = tensor(Float32Array.from([5, 0.2, 0.3, 4, 1, 1.2]), [3, 2]);
  const truth = tensor(Int32Array.from([0, 1, 1]), [3], 'int64');
  try {
    // k = 1: the nearest neighbour's class, weight exp(cos / t).
    tidy(() => {
      const s = knnScores(train, labels, test, { k: 1, temperature: 0.1, numClasses: 2 });
      assert.deepEqual(Array.from(s.argmax({ dim: 1 }).toArray() as BigInt64Array, Number), [0, 1, 1]);
      // Row 0's one vote: the cosine of (5, 0.2) with (2, 0) (both normalised) over t.
      const cos = 5 / Math.hypot(5, 0.2);
      close([values(s)[0]], [Math.exp(cos / 0.1)], 1e-5, 'vote weight');
    });
    // k = 6 (every training image votes): the weights decide; the per-class sums are exp(cos/t) totals.
    tidy(() => {
      const s = values(knnScores(train, labels, test, { k: 6, temperature: 0.5, numClasses: 2 }));
      const rows = [
        [5, 0.2],
        [0.3, 4],
        [1, 1.2],
      ];
      const tr = [
        [1, 0.1],
        [1, -0.1],
        [2, 0],
        [0.1, 1],
        [-0.1, 1],
        [0, 3],
      ];
      rows.forEach((r, i) => {
        const want = [0, 0];
        tr.forEach((t, j) => {
          const cos = (r[0] * t[0] + r[1] * t[1]) / (Math.hypot(...r) * Math.hypot(...t));
          want[j < 3 ? 0 : 1] += Math.exp(cos / 0.5);
        });
        close(s.slice(2 * i, 2 * i + 2), want, 1e-5, `row ${i}`);
      });
    });
    const sum = knnSummary(
      { features: train, targets: labels },
      { features: test, targets: truth },
      {
        k: 1,
        numClasses: 2,
        trainCounts: [300, 5],
      },
    );
    assert.equal(sum.top1, 1);
    assert.equal(sum.shots?.many.accuracy, 1);
    assert.equal(sum.shots?.few.accuracy, 1);
  } finally {
    dispose([train, labels, test, truth]);
  }
});

const tiny = (name: string, over: Record<string, unknown> = {}): TrainConfigInput => ({
  name,
  outDir: OUT,
  seed: 2,
  data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 } },
  model: { name: 'resnet8' },
  schedule: { warmupEpochs: 1 },
  train: { epochs: 3, batchSize: 8, maxStepsPerEpoch: 2, progress: 'off' },
  ...over,
});

test('pretrain (rotation, MoCo) → fine-tune through the CLI on tiny data', async () => {
  const sets = [
    'data.dataset=synthetic',
    'data.synthetic.size=8',
    'model.name=resnet8',
    'train.batchSize=8',
    'train.epochs=2',
    'train.maxStepsPerEpoch=2',
    'train.progress=off',
    'schedule.warmupEpochs=1',
    'pretrain.knn.every=1',
    `outDir=${OUT}`,
  ].flatMap((s) => ['--set', s]);
  for (const method of ['rotation', 'moco']) {
    const r = await runCli(['pretrain', '--method', method, ...sets, '--name', `pre-${method}`]);
    assert.equal(r.code, 0, r.stderr);
    const dir = path.join(OUT, `pre-${method}`);
    const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.deepEqual(run.stages, [method]);
    const lines = fs
      .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const epoch = lines.filter((l) => l.type === 'epoch');
    assert.equal(epoch.length, 2);
    // Every epoch has the kNN monitor on the test images, with shot groups.
    for (const l of epoch) assert.ok(typeof l.test.top1 === 'number' && l.test.shots, 'kNN monitor');
    assert.deepEqual(Object.keys(epoch[0].lossTerms), [method === 'moco' ? 'infonce' : 'rotation']);
    if (method === 'rotation') assert.ok(typeof epoch[1].plan.rotationTestAcc === 'number');
    else assert.ok(epoch[0].plan.queue >= 8 && epoch[0].plan.bnGroups >= 2);

    // eval / predict / pseudo-label need a classifier: a pre-training run says so.
    const ev = await runCli(['eval', '--run', dir]);
    assert.equal(ev.code, 1);
    assert.match(ev.stderr, /is a pre-training run .* fine-tune from it with --set model\.initFrom=/);

    const ft = await runCli([
      'train',
      ...sets,
      '--set',
      `model.initFrom=${dir}`,
      '--set',
      'method.recipe=ldam+drw',
      '--name',
      `ft-${method}`,
    ]);
    assert.equal(ft.code, 0, ft.stderr);
    const report = JSON.parse(fs.readFileSync(path.join(OUT, `ft-${method}`, 'init-report.json'), 'utf8'));
    assert.equal(report.loaded.length, 42, 'the whole ResNet-8 backbone loaded');
    assert.ok(
      report.skipped.every((k: string) => k.startsWith('linear.')),
      'only the pretext head is skipped',
    );
    const ftRun = JSON.parse(fs.readFileSync(path.join(OUT, `ft-${method}`, 'run.json'), 'utf8'));
    assert.equal(ftRun.init.loaded, 42);
  }
});

test('a MoCo pre-training stopped after one epoch and resumed equals an uninterrupted one (queue included)', async () => {
  const cfg = (n: string) => tiny(n, { pretrain: { method: 'moco', knn: { every: 1 } } });
  const a = await train(cfg('moco-A'));
  assert.equal(a.status, 'completed');
  const b1 = await train(cfg('moco-B'), { stopAfterEpochs: 1 });
  assert.equal(b1.status, 'interrupted');
  const b2 = await train(cfg('moco-B'), { resume: true });
  assert.equal(b2.status, 'completed');
  const files = (dir: string) =>
    JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'latest.json'), 'utf8')).files as Record<
      string,
      { sha256: string }
    >;
  assert.equal(files(b2.runDir)['model.safetensors'].sha256, files(a.runDir)['model.safetensors'].sha256);
  assert.deepEqual(b2.final, a.final);
  // The last in-stage checkpoint holds the key encoder, the MLP and the queue: compare epoch 2's.
  const a2 = await train(cfg('moco-A2'), { stopAfterEpochs: 2 });
  const c1 = await train(cfg('moco-C'), { stopAfterEpochs: 1 });
  assert.equal(c1.status, 'interrupted');
  const c2 = await train(cfg('moco-C'), { resume: true, stopAfterEpochs: 1 });
  assert.equal(a2.status, 'interrupted');
  assert.equal(c2.status, 'interrupted');
  for (const f of ['model.safetensors', 'optimizer.safetensors', 'extra.safetensors']) {
    assert.equal(files(c2.runDir)[f].sha256, files(a2.runDir)[f].sha256, `epoch-2 ${f}`);
  }
  const extra = loadSafetensors(
    path.join(
      a2.runDir,
      'checkpoints',
      JSON.parse(fs.readFileSync(path.join(a2.runDir, 'checkpoints', 'latest.json'), 'utf8')).id,
      'extra.safetensors',
    ),
  );
  try {
    assert.ok(
      extra['moco.queue'] && extra['moco.queuePtr'] && extra['moco.key.linear.weight'],
      'queue and key encoder',
    );
  } finally {
    dispose(extra);
  }
});

test('an ssp-* recipe pre-trains once and reuses the run by content; model.initFrom with it is refused', async () => {
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const r1 = await train(tiny('ssp-1', { method: { recipe: 'ssp-rotation+ldam+drw' } }), { log });
  assert.equal(r1.status, 'completed');
  assert.ok(
    lines.some((l) => /ssp-rotation: starting the pre-training run/.test(l)),
    lines.join('\n'),
  );
  const pre = fs.readdirSync(path.join(OUT, 'pretrain'));
  assert.equal(pre.length, 1);
  lines.length = 0;
  // Another recipe on the same data, model and schedule reuses it; another seed makes a new one.
  const r2 = await train(tiny('ssp-2', { method: { recipe: 'ssp-rotation+mfw' } }), { log });
  assert.equal(r2.status, 'completed');
  assert.ok(
    lines.some((l) => /reusing the finished pre-training run/.test(l)),
    lines.join('\n'),
  );
  assert.equal(fs.readdirSync(path.join(OUT, 'pretrain')).length, 1);
  await train(tiny('ssp-3', { seed: 9, method: { recipe: 'ssp-rotation+ce+crt' } }), { log });
  assert.equal(fs.readdirSync(path.join(OUT, 'pretrain')).length, 2);
  const run = JSON.parse(fs.readFileSync(path.join(r2.runDir, 'run.json'), 'utf8'));
  assert.match(run.init.source, /pretrain\/rotation-[0-9a-f]{12}/);
  await assert.rejects(
    train(tiny('ssp-4', { method: { recipe: 'ssp-moco+ce' }, model: { name: 'resnet8', initFrom: r1.runDir } })),
    /model\.initFrom and the recipe's ssp-moco both choose the starting encoder/,
  );
});

test('ssp composes with the pseudo-label chain: base and round share one pre-training run', async () => {
  const cfg = tiny('chain', {
    method: { recipe: 'ssp-rotation+ce' },
    data: {
      dataset: 'synthetic',
      synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 },
      unlabeled: { k: 1 },
    },
  });
  const r = await selfTrain(cfg, { rounds: 1, log: () => undefined });
  assert.equal(r.status, 'completed');
  const src = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).init.source;
  assert.equal(src(r.base), src(r.rounds[0].run), 'one pre-training run for both');
  assert.equal(fs.readdirSync(path.join(r.dir, 'pretrain')).length, 1);
});
