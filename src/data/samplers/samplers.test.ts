// Tests for ltkit index samplers: distributions, determinism, class-aware runs, DRS switch, CB weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cbWeights,
  InstanceSampler,
  ClassBalancedSampler,
  SquareRootSampler,
  ProgressiveSampler,
  ClassAwareSampler,
  DeferredSampler,
  createSampler,
  deferredSwitchEpoch,
  RandomState,
} from './index';

// Long-tailed targets: counts 500, 200, 80, 30, 10 in an interleaved-ish order.
const COUNTS = [500, 200, 80, 30, 10];
function ltTargets(): Int32Array {
  const t: number[] = [];
  COUNTS.forEach((n, c) => {
    for (let i = 0; i < n; i++) t.push(c);
  });
  const rs = new RandomState(123);
  return Int32Array.from(rs.shuffle(t));
}
const targets = ltTargets();
const N = targets.length;

function freq(idx: Int32Array, C = COUNTS.length): number[] {
  const f = new Array<number>(C).fill(0);
  for (const i of idx) f[targets[i]]++;
  return f.map((x) => x / idx.length);
}

test('cbWeights: formula, normalization, beta=0 uniform, empty class', () => {
  const w = cbWeights([5000, 50], 0.9999);
  const raw = [(1 - 0.9999) / (1 - 0.9999 ** 5000), (1 - 0.9999) / (1 - 0.9999 ** 50)];
  const s = raw[0] + raw[1];
  assert.ok(Math.abs(w[0] - (raw[0] / s) * 2) < 1e-12);
  assert.ok(Math.abs(w[1] - (raw[1] / s) * 2) < 1e-12);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 2) < 1e-12);
  assert.deepEqual(cbWeights([10, 100, 1000], 0), [1, 1, 1]);
  const e = cbWeights([10, 0, 10]);
  assert.equal(e[1], 0);
  assert.ok(Math.abs(e[0] - 1.5) < 1e-12);
  const cifar = cbWeights([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  assert.ok(Math.abs(cifar.reduce((a, b) => a + b, 0) - 10) < 1e-9);
  for (let i = 1; i < 10; i++) assert.ok(cifar[i] > cifar[i - 1]);
});

test('instance sampler: a permutation, deterministic, epochs differ', () => {
  const s = new InstanceSampler(targets, 7);
  const a = s.epochIndices(0);
  assert.deepEqual(
    Array.from(a).sort((x, y) => x - y),
    Array.from({ length: N }, (_, i) => i),
  );
  assert.deepEqual(Array.from(s.epochIndices(0)), Array.from(a));
  assert.notDeepEqual(Array.from(s.epochIndices(1)), Array.from(a));
  assert.notDeepEqual(Array.from(new InstanceSampler(targets, 8).epochIndices(0)), Array.from(a));
  // explicit RNG = legacy numpy permutation
  assert.deepEqual(Array.from(s.epochIndices(0, new RandomState(5))), Array.from(new RandomState(5).permutation(N)));
});

test('class-balanced (inverse weights) gives ~uniform class frequencies', () => {
  const s = new ClassBalancedSampler(targets, { weights: 'inverse', seed: 1, numSamples: 100000 });
  const f = freq(s.epochIndices(0));
  for (const x of f) assert.ok(Math.abs(x - 0.2) < 0.01, `freq ${f}`);
});

test('class-balanced (CB weights, default) follows n_c·w_c and is near-uniform', () => {
  const s = new ClassBalancedSampler(targets, { seed: 2, numSamples: 100000 });
  const w = cbWeights(COUNTS);
  const p = COUNTS.map((n, c) => n * w[c]);
  const ps = p.reduce((a, b) => a + b, 0);
  const f = freq(s.epochIndices(3));
  f.forEach((x, c) => assert.ok(Math.abs(x - p[c] / ps) < 0.01, `class ${c}: ${x} vs ${p[c] / ps}`));
  assert.equal(s.length, 100000);
  assert.equal(new ClassBalancedSampler(targets).length, N);
  // indices belong to the drawn class and are valid
  for (const i of s.epochIndices(0).subarray(0, 1000)) assert.ok(i >= 0 && i < N);
});

test('class-balanced sampling uses CB weights, not 1/n: at CIFAR scale the two differ', () => {
  // 5000 head and 50 tail images: with β = 0.9999, n·w_n is 1.271 for the head and 1.002 for the tail, so
  // CB sampling draws the head 55.9% of the time; 1/n weights would draw each class half of the time.
  const t = Int32Array.from([...new Array<number>(5000).fill(0), ...new Array<number>(50).fill(1)]);
  const w = cbWeights([5000, 50]);
  const pHead = (5000 * w[0]) / (5000 * w[0] + 50 * w[1]);
  assert.ok(Math.abs(pHead - 0.559) < 0.001, `P(head) = ${pHead}`);
  const s = new ClassBalancedSampler(t, { seed: 4, numSamples: 100000 });
  const idx = s.epochIndices(0);
  const head = idx.reduce((a, i) => a + (t[i] === 0 ? 1 : 0), 0) / idx.length;
  assert.ok(Math.abs(head - pHead) < 0.006, `head drawn ${head}, CB predicts ${pHead}`);
  assert.ok(Math.abs(head - 0.5) > 0.04, `head drawn ${head}: that would be 1/n weighting`);
});

test('square-root sampler follows sqrt(n_c)', () => {
  const s = new SquareRootSampler(targets, { seed: 3, numSamples: 100000 });
  const r = COUNTS.map(Math.sqrt);
  const rs = r.reduce((a, b) => a + b, 0);
  const f = freq(s.epochIndices(0));
  f.forEach((x, c) => assert.ok(Math.abs(x - r[c] / rs) < 0.01));
});

test('progressive sampler interpolates instance → balanced', () => {
  const s = new ProgressiveSampler(targets, { totalEpochs: 10, seed: 4 });
  const p0 = s.classProbabilities(0);
  const p10 = s.classProbabilities(10);
  const p5 = s.classProbabilities(5);
  COUNTS.forEach((n, c) => {
    assert.ok(Math.abs(p0[c] - n / N) < 1e-12);
    assert.ok(Math.abs(p10[c] - 0.2) < 1e-12);
    assert.ok(Math.abs(p5[c] - (0.5 * n) / N - 0.1) < 1e-12);
  });
  const big = new ProgressiveSampler(targets, { totalEpochs: 10, seed: 4, numSamples: 100000 });
  const f = freq(big.epochIndices(10));
  for (const x of f) assert.ok(Math.abs(x - 0.2) < 0.01);
});

test('class-aware: runs of exactly k of one class, every class cycled', () => {
  const s = new ClassAwareSampler(targets, { seed: 5 });
  assert.equal(s.length, 500 * 5);
  const idx = s.epochIndices(0);
  assert.equal(idx.length, s.length);
  for (let g = 0; g < idx.length; g += 4) {
    const c = targets[idx[g]];
    for (let j = 1; j < 4; j++) assert.equal(targets[idx[g + j]], c);
  }
  // Each pass over the 5 classes visits each class once.
  for (let pass = 0; pass + 20 <= idx.length; pass += 20) {
    const seen = new Set<number>();
    for (let g = 0; g < 5; g++) seen.add(targets[idx[pass + g * 4]]);
    assert.equal(seen.size, 5);
  }
  // Within a class, images cycle through all before repeating: the 10-image class gives 10 distinct in its first 10.
  const tail = Array.from(idx).filter((i) => targets[i] === 4);
  assert.equal(new Set(tail.slice(0, 10)).size, 10);
  const f = freq(idx);
  for (const x of f) assert.ok(Math.abs(x - 0.2) < 1e-9);
  assert.deepEqual(Array.from(s.epochIndices(0)), Array.from(idx));
  assert.notDeepEqual(Array.from(s.epochIndices(1)), Array.from(idx));
  const k2 = new ClassAwareSampler(targets, { seed: 5, numSamplesCls: 2 }).epochIndices(0);
  for (let g = 0; g < k2.length; g += 2) assert.equal(targets[k2[g]], targets[k2[g + 1]]);
});

test('DRS switches at the epoch', () => {
  const before = new InstanceSampler(targets, 9);
  const after = new ClassBalancedSampler(targets, { seed: 9, weights: 'inverse' });
  const d = new DeferredSampler(before, after, 160);
  assert.equal(d.samplerAt(159), before);
  assert.equal(d.samplerAt(160), after);
  assert.deepEqual(Array.from(d.epochIndices(159)), Array.from(before.epochIndices(159)));
  assert.deepEqual(Array.from(d.epochIndices(160)), Array.from(after.epochIndices(160)));
  // instance epochs are permutations (no repeats), balanced epochs have repeats
  assert.equal(new Set(d.epochIndices(10)).size, N);
  assert.ok(new Set(d.epochIndices(170)).size < N);
  assert.equal(deferredSwitchEpoch(200), 160);
  assert.equal(deferredSwitchEpoch(10), 8);
});

test('createSampler factory and determinism across instances', () => {
  for (const kind of ['instance', 'class-balanced', 'sqrt', 'progressive', 'class-aware', 'drs'] as const) {
    const a = createSampler({ kind, targets, seed: 11, totalEpochs: 10 });
    const b = createSampler({ kind, targets, seed: 11, totalEpochs: 10 });
    assert.deepEqual(Array.from(a.epochIndices(3)), Array.from(b.epochIndices(3)), kind);
    assert.notDeepEqual(Array.from(a.epochIndices(3)), Array.from(a.epochIndices(4)), kind);
  }
  assert.throws(() => createSampler({ kind: 'progressive', targets }));
});
