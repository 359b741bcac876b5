// Tests for optim/: SGD against torch.optim.SGD goldens (fixtures/optim/gen_sgd.py) and the
// schedules against the reference adjust_learning_rate / CosineAnnealingLR values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, memory, tensor, tidy } from '../engine/tensor';
import {
  SGD,
  SGDOptions,
  cifarSchedule,
  cosineSchedule,
  learningRate,
  loadOptimizer,
  saveOptimizer,
  cifarMilestones,
} from './index';
import { assertClose, readJsonFixture } from '../nn/golden.test-util';
import { settledMemory } from '../engine/test-support';

interface SgdCase {
  name: string;
  options: {
    lr: number;
    momentum?: number;
    dampening?: number;
    weight_decay?: number;
    nesterov?: boolean;
    maximize?: boolean;
  };
  lrs: (number | null)[];
  init: number[][];
  shapes: number[][];
  grads: (number[] | null)[][];
  after1: number[][];
  after3: number[][];
  buffers3: (number[] | null)[];
}
const golden = readJsonFixture<{ cases: SgdCase[] }>('optim', 'sgd.json');

function toOpts(o: SgdCase['options']): SGDOptions {
  return {
    lr: o.lr,
    momentum: o.momentum,
    dampening: o.dampening,
    weightDecay: o.weight_decay,
    nesterov: o.nesterov,
    maximize: o.maximize,
  };
}

function runCase(c: SgdCase, upTo: number, opt?: SGD, params?: Tensor[], from = 0): { opt: SGD; params: Tensor[] } {
  params ??= c.init.map((v, i) => tensor(v, c.shapes[i]).requiresGrad_(true).keep());
  opt ??= new SGD(params, toOpts(c.options));
  for (let s = from; s < upTo; s++) {
    if (c.lrs[s] !== null) opt.setLr(c.lrs[s]!);
    opt.zeroGrad();
    c.grads[s].forEach((g, i) => {
      if (g !== null) params![i].grad = tensor(g, c.shapes[i]);
    });
    opt.step();
  }
  return { opt, params };
}

for (const c of golden.cases) {
  test(`SGD matches torch.optim.SGD: ${c.name} (${JSON.stringify(c.options)})`, () => {
    const one = runCase(c, 1);
    one.params.forEach((p, i) => assertClose(p, c.after1[i], 1e-6, `step 1 param ${i}`));
    const three = runCase(c, 3);
    three.params.forEach((p, i) => assertClose(p, c.after3[i], 1e-6, `step 3 param ${i}`));
    three.params.forEach((p, i) => {
      const b = three.opt.momentumBuffer(p);
      const want = c.buffers3[i];
      if (want === null) assert.equal(b, null);
      else assertClose(b!, want, 1e-6, `buffer ${i}`);
    });
  });
}

test('SGD state dict round trip (in memory and through safetensors) resumes identically', () => {
  const c = golden.cases.find((x) => x.name === 'nesterov-wd')!;
  const straight = runCase(c, 3);
  // Two steps, save, restore into a fresh optimizer over copies of the params, one more step.
  const first = runCase(c, 2);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-optim-')), 'opt.safetensors');
  saveOptimizer(file, first.opt);
  const params = first.params.map((p) => p.detach().clone().requiresGrad_(true).keep());
  const opt2 = new SGD(params, { lr: 1 });
  loadOptimizer(file, opt2);
  assert.equal(opt2.paramGroups[0].momentum, 0.9);
  assert.equal(opt2.paramGroups[0].nesterov, true);
  assert.equal(opt2.lr, c.lrs[1]);
  runCase(c, 3, opt2, params, 2);
  params.forEach((p, i) => assertClose(p, straight.params[i], 0, `resumed param ${i}`));
  const sd = straight.opt.stateDict();
  assert.deepEqual(Object.keys(sd.tensors).sort(), ['state.0.momentum_buffer', 'state.1.momentum_buffer']);
  assert.deepEqual(sd.meta.paramGroups[0].params, [0, 1]);
  assert.doesNotThrow(() => JSON.stringify(sd.meta));
  const wrong = new SGD([params[0]], { lr: 0.1 });
  assert.throws(() => wrong.loadStateDict(sd), /group 0 has 2 parameters in the state, 1 here/);
});

test('SGD param groups, validation, zeroGrad, no leaks', () => {
  const a = tensor([1, 2]).requiresGrad_(true).keep();
  const b = tensor([3]).requiresGrad_(true).keep();
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 0 }], {
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 0.1,
  });
  assert.equal(opt.paramGroups[1].lr, 0.5);
  assert.equal(opt.paramGroups[1].momentum, 0.9);
  a.grad = tensor([1, 1]);
  b.grad = tensor([1]);
  opt.step();
  assertClose(a, [1 - 0.1 * 1.1, 2 - 0.1 * 1.2], 1e-6);
  assertClose(b, [2.5], 1e-6);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.throws(() => new SGD([a], { lr: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD([a], { lr: -1 }), /learning rate/);
  assert.throws(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 0.1 }), /more than one/);
  a.grad = tensor([1, 1]);
  b.grad = tensor([1]);
  opt.step();
  const before = settledMemory().numTensors;
  for (let i = 0; i < 5; i++) tidy(() => opt.step());
  assert.equal(memory().numTensors, before);
});

test('CIFAR schedule = reference adjust_learning_rate (200 epochs; decay points scaled for 100)', () => {
  const ref = readJsonFixture<{ cifar200: number[]; cifar100: number[]; cifar200_buggy: number[]; cosine90: number[] }>(
    'optim',
    'schedules.json',
  );
  const s200 = cifarSchedule({ baseLr: 0.1, epochs: 200 });
  ref.cifar200.forEach((v, e) => assert.ok(Math.abs(s200.lrAt(e) - v) <= 1e-15, `epoch ${e}: ${s200.lrAt(e)} vs ${v}`));
  const s100 = cifarSchedule({ baseLr: 0.1, epochs: 100 });
  ref.cifar100.forEach((v, e) => assert.ok(Math.abs(s100.lrAt(e) - v) <= 1e-15, `epoch ${e}`));
  // Spot values: warm-up, plateau, both decays; the buggy reference never reaches ×1e-4.
  assert.deepEqual(
    [0, 4, 5, 159, 160, 179, 180, 199].map((e) => +s200.lrAt(e).toPrecision(6)),
    [0.02, 0.1, 0.1, 0.1, 0.001, 0.001, 1e-5, 1e-5],
  );
  assert.equal(ref.cifar200_buggy[199], 0.001);
  assert.deepEqual(cifarMilestones(200), [160, 180]);
  const cos = cosineSchedule({ baseLr: 0.2, epochs: 90 });
  ref.cosine90.forEach((v, e) =>
    assert.ok(Math.abs(cos.lrAt(e) - v) <= 1e-12, `cosine epoch ${e}: ${cos.lrAt(e)} vs ${v}`),
  );
});

test('cosine warm-up and per-iteration updates; learningRate(cfg)', () => {
  const s = cosineSchedule({ baseLr: 1, epochs: 10, warmupEpochs: 2, perIteration: true });
  assert.equal(s.lrAt(0, 0, 4), 1 / 8);
  assert.equal(s.lrAt(1, 3, 4), 1);
  assert.equal(s.lrAt(2, 0, 4), 1);
  assert.ok(Math.abs(s.lrAt(6, 0, 4) - 0.5) < 1e-12);
  assert.ok(s.lrAt(9, 3, 4) < s.lrAt(9, 0, 4));
  const cfg = { optim: { lr: 0.1 }, schedule: { type: 'cifar' as const, warmupEpochs: 5 }, train: { epochs: 200 } };
  assert.equal(learningRate(cfg, 170, 3, 10), 0.1 * 0.01);
  assert.throws(() => cifarSchedule({ baseLr: 0 }), /positive/);
});
