// ONNX export (issue #13 item 5): models built directly (CIFAR ResNet-8/32, ImageNet ResNet-10 at 64², with BN
// statistics and affine parameters set away from their init so BatchNormalization is exercised) and every head a
// run can end with (plain nn.Linear, LDAM's NormedLinear, τ-norm's bias-free Linear, LWS's ScaledHead over either)
// go through ONNX Runtime on the same inputs: same top-1, logits within 1e-4. Then the file itself (metadata,
// opsets), the errors, and `ltkit export` on tiny trained runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, tidy, noGrad, manualSeed, randn, memory } from '../engine';
import { copy_ } from '../engine/ops.generated';
import { Module } from '../nn/module';
import { BatchNorm2d, Linear, NormedLinear, ScaledHead } from '../nn/layers';
import { createModel, ClassifierModel } from '../models';
import { exportOnnx, OnnxExportError, readOnnxModel, checkOnnx, runOnnx, SUPPORTED_OPSETS } from '.';
import { Message, readFields } from './protobuf';
import { runCli, tinyRunSets } from '../cli/test-util';
import { parseArgs } from '../cli/args';
import { exportCommand } from '../cli/export-command';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-onnx-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));
const TOL = 1e-4;

/** Deterministic values in [0, 1) (mulberry32). */
function uniform(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

/**
 * BN as after training: affine parameters away from 1/0, running statistics those of the activations (one
 * train-mode forward with momentum 1 on N(0, 1) inputs), so the eval-mode network keeps activations and logits at
 * a trained network's scale (a fresh deep ResNet's logits grow into the hundreds, where 1e-4 is below float32's
 * resolution).
 */
function trainedLikeBatchNorm(model: Module, inputShape: number[], seed = 1): void {
  let s = seed;
  const bns = model.modules().filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  noGrad(() =>
    tidy(() => {
      for (const m of bns) {
        const c = m.numFeatures;
        const set = (t: Tensor | null, f: (u: number) => number) =>
          t && copy_(t, tensor(Float32Array.from(uniform(c, s++), f), [c]));
        set(m.weight, (u) => 0.7 + 0.6 * u);
        set(m.bias, (u) => (u - 0.5) * 0.2);
        m.momentum = 1;
      }
      model.train();
      manualSeed(seed);
      model.forward(randn([8, ...inputShape]));
      model.eval();
      for (const m of bns) m.momentum = 0.1;
    }),
  );
}

const SHAPES: Record<string, [number, number, number]> = {
  resnet8: [3, 32, 32],
  resnet32: [3, 32, 32],
  resnet10: [3, 64, 64],
};

type HeadKind = 'linear' | 'normed' | 'tau-norm' | 'lws' | 'lws-normed';
const HEADS: HeadKind[] = ['linear', 'normed', 'tau-norm', 'lws', 'lws-normed'];

/** A model with the head a run's stages leave (as the stage components install them). */
function buildModel(name: string, head: HeadKind, numClasses = 7): ClassifierModel {
  manualSeed(3);
  const model = createModel(name, { numClasses, normedLinear: head === 'normed' || head === 'lws-normed' });
  trainedLikeBatchNorm(model, SHAPES[name]);
  if (head === 'tau-norm') {
    // τ-norm: W_c / ‖W_c‖^τ (τ = 0.7) as a bias-free nn.Linear.
    const w = (model.head as Linear).weight;
    const h = new Linear(model.featureDim, numClasses, { bias: false });
    noGrad(() => tidy(() => copy_(h.weight, w.div(w.norm(2, 1, { keepdim: true }).pow(0.7)))));
    model.replaceHead(h);
  } else if (head === 'lws' || head === 'lws-normed') {
    // LWS: the frozen head's logits · factor · scales (factor = LDAM's s = 30 for the cosine head).
    const h = new ScaledHead(model.head, numClasses, head === 'lws-normed' ? 30 : 1);
    noGrad(() =>
      copy_(
        h.scales,
        tensor(
          Float32Array.from(uniform(numClasses, 9), (u) => 0.5 + u),
          [numClasses],
        ),
      ),
    );
    model.replaceHead(h, { disposeOld: false });
  }
  return model.eval();
}

test('ResNet-8/32 (CIFAR) and ResNet-10 (ImageNet, 64²) with every head: ONNX Runtime matches ltkit', async (t) => {
  for (const name of Object.keys(SHAPES)) {
    for (const head of HEADS) {
      await t.test(`${name} + ${head}`, async () => {
        const model = buildModel(name, head);
        try {
          const e = exportOnnx(model, { inputShape: SHAPES[name] });
          manualSeed(11);
          const x = randn([6, ...SHAPES[name]]);
          const c = await checkOnnx(e.bytes, model, x, { threads: 1 });
          x.dispose();
          t.diagnostic(
            `${name}+${head}: max |Δlogit| ${c.maxAbsDiff.toExponential(2)} (|logit| ≤ ${c.maxAbsLogit.toFixed(2)}), ` +
              `top-1 ${c.top1Agree}/${c.n}`,
          );
          assert.equal(c.top1Agree, c.n, 'same top-1 on every input');
          assert.ok(c.maxAbsDiff <= TOL, `max logit difference ${c.maxAbsDiff}`);
          assert.ok(c.ok);
          const ops = Object.keys(e.ops);
          if (head.includes('normed')) assert.ok(ops.includes('ReduceL2') && ops.includes('MatMul'), ops.join());
          else assert.ok(ops.includes('Gemm'));
          if (head.startsWith('lws')) assert.equal(e.ops.Mul, 2);
          assert.equal(e.ops.BatchNormalization, e.ops.Conv, 'BN is not folded: one per conv');
        } finally {
          model.dispose();
        }
      });
    }
  }
});

test('a channels-last model (train.channelsLast) exports the same graph values', async () => {
  const model = buildModel('resnet8', 'linear').toChannelsLast();
  try {
    const e = exportOnnx(model, { inputShape: [3, 32, 32] });
    manualSeed(5);
    const x = randn([3, 3, 32, 32]);
    const c = await checkOnnx(e.bytes, model, x, { threads: 1 });
    x.dispose();
    assert.ok(c.ok && c.top1Agree === 3, JSON.stringify(c));
  } finally {
    model.dispose();
  }
});

test('NormedLinear head alone: a zero feature row gives 0 (x / max(‖x‖, eps)), as F.normalize', async () => {
  manualSeed(2);
  const head = new NormedLinear(5, 3);
  const e = exportOnnx(head, { inputShape: [5] });
  const rows = Float32Array.from([0, 0, 0, 0, 0, 1, -2, 0.5, 3, 0.25]);
  const got = await runOnnx(e.bytes, rows, [2, 5], { threads: 1 });
  const want = noGrad(() => tidy(() => head.forward(tensor(rows, [2, 5])).toArray() as Float32Array));
  assert.deepEqual(Array.from(got.data.subarray(0, 3)), [0, 0, 0]);
  for (let i = 0; i < 6; i++) assert.ok(Math.abs(got.data[i] - want[i]) < 1e-6, `${got.data[i]} vs ${want[i]}`);
  head.dispose();
});

test('every supported opset (ReduceL2 axes: attribute before 18, input from 18) runs in ONNX Runtime', async () => {
  const model = buildModel('resnet8', 'lws-normed');
  try {
    manualSeed(4);
    const x = randn([2, 3, 32, 32]);
    for (const opset of SUPPORTED_OPSETS) {
      const e = exportOnnx(model, { inputShape: [3, 32, 32], opset });
      const info = readOnnxModel(e.bytes);
      assert.deepEqual(info.opsets, [{ domain: '', version: opset }]);
      assert.equal(info.irVersion, e.irVersion);
      const c = await checkOnnx(e.bytes, model, x, { threads: 1 });
      assert.ok(c.ok, `opset ${opset}: ${JSON.stringify(c)}`);
    }
    x.dispose();
    assert.throws(() => exportOnnx(model, { inputShape: [3, 32, 32], opset: 12 }), /opset 12 is not supported/);
  } finally {
    model.dispose();
  }
});

test('the file: initializers under state-dict names, symbolic batch, metadata', () => {
  const model = buildModel('resnet8', 'normed', 4);
  try {
    const e = exportOnnx(model, {
      inputShape: [3, 32, 32],
      metadata: { class_names: JSON.stringify(['a', 'b', 'c', 'd']), mean: '[0.5,0.5,0.5]' },
      producerVersion: '9.9.9',
    });
    const info = readOnnxModel(e.bytes);
    assert.equal(info.producerName, 'ltkit');
    assert.equal(info.producerVersion, '9.9.9');
    assert.deepEqual(info.inputs, [{ name: 'input', shape: ['batch', 3, 32, 32] }]);
    assert.deepEqual(info.outputs, [{ name: 'logits', shape: ['batch', 4] }]);
    assert.deepEqual(JSON.parse(info.metadata.class_names), ['a', 'b', 'c', 'd']);
    const names = new Map(info.initializers.map((i) => [i.name, i.dims]));
    assert.deepEqual(names.get('conv1.weight'), [16, 3, 3, 3]);
    assert.deepEqual(names.get('layer2.0.bn1.running_var'), [32]);
    assert.deepEqual(names.get('linear.weight_normalized'), [64, 4]);
    assert.ok(!names.has('bn1.num_batches_tracked'), 'no training-only buffers');
    assert.equal(info.ops[info.ops.length - 1], 'MatMul');
  } finally {
    model.dispose();
  }
});

test('protobuf writer: varints (incl. negative int64), floats, nested messages read back', () => {
  const inner = new Message().string(1, 'κ').float(2, 0.5);
  const bytes = new Message()
    .varint(1, 300)
    .varint(2, -1)
    .varint(3, (1n << 63n) - 1n)
    .message(4, inner)
    .finish();
  const f = readFields(bytes);
  assert.equal(f[0].varint, 300n);
  assert.equal(BigInt.asIntN(64, f[1].varint!), -1n);
  assert.equal(f[1].varint, (1n << 64n) - 1n);
  assert.equal(f[2].varint, (1n << 63n) - 1n);
  const g = readFields(f[3].bytes!);
  assert.equal(new TextDecoder().decode(g[0].bytes), 'κ');
  assert.equal(new DataView(g[1].bytes!.buffer, g[1].bytes!.byteOffset).getFloat32(0, true), 0.5);
});

class Swish extends Module {
  forward(x: Tensor): Tensor {
    return x.mul(x.sigmoid());
  }
}
class MyLinear extends Linear {}

test('an unsupported module is an error naming the module, its path and class; modes are restored', () => {
  const model = buildModel('resnet8', 'linear', 3);
  try {
    model.replaceHead(new Swish());
    model.train();
    assert.throws(
      () => exportOnnx(model, { inputShape: [3, 32, 32] }),
      (e: Error) =>
        e instanceof OnnxExportError &&
        /module 'linear' of class Swish/.test(e.message) &&
        /supported: .*BatchNorm2d.*NormedLinear/.test(e.message) &&
        /registerOnnxEmitter/.test(e.message),
    );
    assert.ok(
      model.modules().every((m) => m.training),
      'train mode restored after a failed export',
    );
    model.replaceHead(new MyLinear(16 * 4, 3));
    assert.throws(() => exportOnnx(model, { inputShape: [3, 32, 32] }), /class MyLinear/, 'a subclass needs its own');
  } finally {
    model.dispose();
  }
  const bn = new BatchNorm2d(4, { trackRunningStats: false });
  assert.throws(() => exportOnnx(bn, { inputShape: [4, 2, 2] }), /no running statistics/);
  bn.dispose();
});

// ------------------------------------------------------------------------------------------------ the CLI

const BASE = tinyRunSets(OUT);

async function exportCli(argv: string[]): Promise<{ stdout: string; error: Error | null }> {
  let stdout = '';
  try {
    await exportCommand.run(parseArgs(exportCommand.spec, argv), { stdout: (s) => (stdout += s), stderr: () => {} });
    return { stdout, error: null };
  } catch (e) {
    return { stdout, error: e as Error };
  }
}

test('ltkit export on tiny trained runs (plain, cosine, τ-norm, LWS, cRT heads): file, metadata, check', async (t) => {
  const cases: { recipe: string; sets?: string[] }[] = [
    { recipe: 'ce' },
    { recipe: 'ldam+drw' },
    { recipe: 'ce+tau-norm' },
    { recipe: 'ldam+drw+lws' },
    { recipe: 'ce+crt' },
    // ImageNet-style ResNet-10 (head 'fc') at 16×16, LWS over its linear head.
    { recipe: 'ce+lws', sets: ['model.name=resnet10', 'data.synthetic.size=16'] },
  ];
  for (const { recipe, sets = [] } of cases) {
    await t.test([recipe, ...sets].join(' '), async () => {
      const name = [recipe, ...sets].join('_').replace(/[^a-z0-9-]+/gi, '_');
      const args = [...BASE, `method.recipe=${recipe}`, ...sets].flatMap((s) => ['--set', s]);
      const tr = await runCli(['train', ...args, '--name', name]);
      assert.equal(tr.code, 0, tr.stderr);
      const dir = path.join(OUT, name);
      const before = memory().numTensors;
      const r = await exportCli(['--run', dir, '--format', 'onnx']);
      assert.equal(r.error, null, r.error?.message);
      assert.match(r.stdout, /^model: final model: 'train'/);
      assert.match(
        r.stdout,
        /check \(onnxruntime-node [\d.]+ \(CPU\), 16 test images of synthetic\): max \|logit difference\| \S+ \(tolerance 0\.0001; \|logits\| up to \S+\), top-1 agreement 16\/16 — ok/,
      );
      const diff = Number(/max \|logit difference\| (\S+)/.exec(r.stdout)![1]);
      t.diagnostic(`${name}: max |Δlogit| ${diff.toExponential(2)} on the run's test images`);
      const file = path.join(dir, 'model.onnx');
      const info = readOnnxModel(new Uint8Array(fs.readFileSync(file)));
      const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
      assert.deepEqual(JSON.parse(info.metadata.class_names), run.data.classNames);
      assert.deepEqual(JSON.parse(info.metadata.mean), run.data.mean);
      assert.deepEqual(JSON.parse(info.metadata.std), run.data.std);
      assert.equal(info.metadata.input_height, String(run.data.imageShape[0]));
      assert.equal(info.metadata.input_channels, String(run.data.imageShape[2]));
      assert.equal(info.metadata.recipe, recipe);
      assert.equal(info.metadata.model.startsWith('final model'), true);
      assert.deepEqual(info.inputs[0].shape, ['batch', run.data.imageShape[2], ...run.data.imageShape.slice(0, 2)]);
      if (recipe === 'ldam+drw+lws') assert.ok(info.initializers.some((i) => i.name === 'linear.scales'));
      if (recipe === 'ce+lws') assert.ok(info.initializers.some((i) => i.name === 'fc.inner.weight'));
      if (recipe === 'ldam+drw') assert.ok(info.ops.includes('ReduceL2'));
      assert.equal(memory().numTensors, before, 'the export leaves no live native tensors');
    });
  }

  await t.test('--checkpoint best, --out, --opset, --json', async () => {
    const dir = path.join(OUT, 'ce_tau-norm');
    const out = path.join(OUT, 'best.onnx');
    const r = await exportCli(['--run', dir, '--checkpoint', 'best', '--out', out, '--opset', '18', '--json']);
    assert.equal(r.error, null, r.error?.message);
    const j = JSON.parse(r.stdout);
    assert.equal(j.file, out);
    assert.equal(j.opset, 18);
    assert.match(j.model, /^best epoch/);
    assert.equal(j.check.ok, true);
    assert.equal(readOnnxModel(new Uint8Array(fs.readFileSync(out))).metadata.checkpoint, 'best');
  });

  await t.test('--verify 0 skips the check; bad options are usage errors', async () => {
    const dir = path.join(OUT, 'ce');
    const r = await exportCli(['--run', dir, '--verify', '0', '--out', path.join(OUT, 'nv.onnx')]);
    assert.equal(r.error, null);
    assert.match(r.stdout, /check skipped/);
    assert.match((await exportCli(['--run', dir, '--format', 'tflite'])).error!.message, /supported: onnx/);
    assert.match((await exportCli(['--format', 'onnx'])).error!.message, /--run DIR is required/);
    assert.match((await exportCli(['--run', dir, '--opset', '9'])).error!.message, /opset 9 is not supported/);
  });
});
