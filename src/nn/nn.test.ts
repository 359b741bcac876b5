// Tests for nn/: Module registration and state dicts, layers and init against PyTorch's formulas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, manualSeed, memory, noGrad, tensor, tidy } from '../engine/tensor';
import { randn, zeros } from '../engine/ops.generated';
import {
  BatchNorm2d,
  Conv2d,
  Identity,
  Linear,
  Module,
  NormedLinear,
  ReLU,
  Sequential,
  normalize,
  stripPrefix,
} from './index';
import * as init from './init';
import { assertClose } from './golden.test-util';
import { settledMemory } from '../engine/test-support';

class Net extends Module {
  readonly conv = this.registerModule('conv', new Conv2d(3, 4, 3, { padding: 1, bias: false }));
  readonly bn = this.registerModule('bn', new BatchNorm2d(4));
  readonly body = this.registerModule('body', new Sequential(new ReLU(), new Identity()));
  readonly fc = this.registerModule('fc', new Linear(4, 2));
  forward(x: Tensor): Tensor {
    const h = this.body.forward(this.bn.forward(this.conv.forward(x)));
    return this.fc.forward(h.mean([2, 3]));
  }
}

test('state dict keys, order and dtypes follow PyTorch', () => {
  const net = new Net();
  const sd = net.stateDict();
  assert.deepEqual(Object.keys(sd), [
    'conv.weight',
    'bn.weight',
    'bn.bias',
    'bn.running_mean',
    'bn.running_var',
    'bn.num_batches_tracked',
    'fc.weight',
    'fc.bias',
  ]);
  assert.equal(sd['bn.num_batches_tracked'].dtype, 'int64');
  assert.deepEqual(sd['bn.num_batches_tracked'].shape, []);
  assert.deepEqual(sd['conv.weight'].shape, [4, 3, 3, 3]);
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    ['conv.weight', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias'],
  );
  assert.equal(net.buffers().length, 3);
  for (const p of net.parameters()) {
    assert.ok(p.requiresGrad && p.isLeaf && p.kept);
  }
  assert.equal(net.numParameters(), 108 + 8 + 10);
});

test('loadStateDict copies in place, reports missing/unexpected, refuses shape mismatches', () => {
  const a = new Net();
  const b = new Net();
  const wBefore = b.conv.weight;
  const res = b.loadStateDict(a.stateDict());
  assert.deepEqual(res, { missing: [], unexpected: [] });
  assert.equal(b.conv.weight, wBefore, 'same tensor object (optimizer references stay valid)');
  assert.deepEqual(b.conv.weight.toList(), a.conv.weight.toList());
  assert.ok(b.conv.weight.requiresGrad && b.conv.weight.isLeaf);

  const partial = a.stateDict();
  delete partial['fc.bias'];
  partial['extra.weight'] = zeros([1]);
  assert.throws(
    () => b.loadStateDict(partial),
    (e: Error) =>
      /missing keys \(1\): fc\.bias/.test(e.message) && /unexpected keys \(1\): extra\.weight/.test(e.message),
  );
  const r = b.loadStateDict(partial, { strict: false });
  assert.deepEqual(r, { missing: ['fc.bias'], unexpected: ['extra.weight'] });

  const bad = a.stateDict();
  bad['fc.weight'] = zeros([3, 4]);
  const before = b.conv.weight.toList();
  assert.throws(
    () => b.loadStateDict(bad, { strict: false }),
    /fc\.weight: checkpoint shape \[3,4\] vs model shape \[2,4\]/,
  );
  assert.deepEqual(b.conv.weight.toList(), before, 'nothing copied when validation fails');

  const prefixed: Record<string, Tensor> = {};
  for (const [k, v] of Object.entries(a.stateDict())) prefixed['module.' + k] = v;
  assert.throws(() => b.loadStateDict(prefixed), /stripPrefix/);
  b.loadStateDict(stripPrefix(prefixed, 'module.'));
});

test('BatchNorm2d train/eval match PyTorch semantics (momentum 0.1, unbiased running var)', () => {
  manualSeed(3);
  const bn = new BatchNorm2d(2);
  const x = randn([4, 2, 3, 3]);
  const y = bn.forward(x);
  // Batch statistics per channel.
  const xs = x.toList();
  for (let c = 0; c < 2; c++) {
    const vals: number[] = [];
    for (let n = 0; n < 4; n++) for (let i = 0; i < 9; i++) vals.push(xs[n * 18 + c * 9 + i]);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const vBiased = vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length;
    const vUnbiased = (vBiased * vals.length) / (vals.length - 1);
    assert.ok(Math.abs(bn.runningMean!.toList()[c] - 0.1 * m) < 1e-6);
    assert.ok(Math.abs(bn.runningVar!.toList()[c] - (0.9 + 0.1 * vUnbiased)) < 1e-5);
    const y0 = y.toList()[c * 9];
    assert.ok(Math.abs(y0 - (xs[c * 9] - m) / Math.sqrt(vBiased + 1e-5)) < 1e-4);
  }
  assert.equal(bn.numBatchesTracked!.item(), 1);
  bn.eval();
  const before = bn.runningMean!.toList();
  const ye = bn.forward(x);
  assert.deepEqual(bn.runningMean!.toList(), before, 'eval does not update stats');
  assert.equal(bn.numBatchesTracked!.item(), 1);
  const rm = bn.runningMean!.toList();
  const rv = bn.runningVar!.toList();
  assert.ok(Math.abs(ye.toList()[0] - (xs[0] - rm[0]) / Math.sqrt(rv[0] + 1e-5)) < 1e-5);
  // momentum null: cumulative average.
  const cma = new BatchNorm2d(2, { momentum: null });
  cma.forward(x);
  assert.ok(Math.abs(cma.runningMean!.toList()[0] - bn.runningMean!.toList()[0] / 0.1) < 1e-5);
});

test('init: kaiming/default bounds and std, seeded through libtorch', () => {
  assert.equal(init.calculateGain('relu'), Math.SQRT2);
  assert.ok(Math.abs(init.calculateGain('leaky_relu', Math.sqrt(5)) - Math.sqrt(1 / 3)) < 1e-12);
  assert.deepEqual(init.calculateFanInAndFanOut([64, 32, 3, 3]), [288, 576]);
  const w = zeros([256, 64, 3, 3]);
  init.kaimingNormal_(w);
  const std = w.std(null).item();
  assert.ok(Math.abs(std - Math.sqrt(2 / 576)) / Math.sqrt(2 / 576) < 0.02, `std ${std}`);
  init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' });
  assert.ok(Math.abs(w.std(null).item() - Math.sqrt(2 / 2304)) / Math.sqrt(2 / 2304) < 0.02);
  init.kaimingUniform_(w, { a: Math.sqrt(5) });
  assert.ok(w.abs().maxAll().item() <= 1 / Math.sqrt(576) + 1e-7);
  manualSeed(11);
  const a = new Linear(5, 3).weight.toList();
  manualSeed(11);
  const b = new Linear(5, 3).weight.toList();
  assert.deepEqual(a, b);
  const lin = new Linear(100, 3);
  assert.ok(lin.bias!.abs().maxAll().item() <= 0.1 + 1e-7);
});

test('NormedLinear: unit columns at init, cosine logits', () => {
  manualSeed(0);
  const h = new NormedLinear(8, 5);
  assert.deepEqual(h.weight.shape, [8, 5]);
  const colNorms = h.weight.norm(2, 0).toList();
  for (const n of colNorms) assert.ok(Math.abs(n - 1) < 1e-4);
  const x = randn([3, 8]);
  const y = h.forward(x);
  assert.deepEqual(y.shape, [3, 5]);
  assert.ok(y.abs().maxAll().item() <= 1 + 1e-6);
  const manual = normalize(x).mm(normalize(h.weight, { dim: 0 }));
  assertClose(y, manual, 1e-6, 'cosine');
});

test('train()/eval() propagate; zeroGrad sets grads to none; forward in tidy frees intermediates', () => {
  const net = new Net();
  net.eval();
  assert.ok(!net.bn.training && !net.training);
  net.train();
  assert.ok(net.bn.training);
  const x = randn([2, 3, 5, 5]);
  tidy(() => net.forward(x).sum().backward());
  assert.ok(net.conv.weight.grad !== null);
  net.zeroGrad();
  assert.equal(net.conv.weight.grad, null);
  tidy(() => net.forward(x)); // warm-up (op ids, lazily created state)
  const before = settledMemory().numTensors;
  for (let i = 0; i < 3; i++) tidy(() => net.forward(x).sum().backward());
  net.zeroGrad();
  assert.equal(memory().numTensors, before);
});

test('Sequential indexing and parameters created inside tidy survive it', () => {
  const seq = tidy(() => new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1)));
  assert.equal(seq.length, 3);
  assert.ok(seq.at(0) instanceof Linear);
  assert.ok(seq.at(-1) instanceof Linear);
  assert.deepEqual(Object.keys(seq.stateDict()), ['0.weight', '0.bias', '2.weight', '2.bias']);
  const y = noGrad(() => seq.forward(tensor([[1, 2]])));
  assert.deepEqual(y.shape, [1, 1]);
});
