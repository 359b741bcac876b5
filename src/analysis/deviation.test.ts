// Feature deviation (S2 §5.4) against PyTorch (fixtures/analysis/gen_deviation.py): exact where the subsets do
// not depend on a generator (K = every class's size; explicit subsets), statistical for random subsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../engine';
import { readJsonFixture } from '../nn/golden.test-util';
import { featureDeviation, deviationFromSubsets, l2NormalizeRows, toMatrix, rowsByClass } from './deviation';

interface Case {
  train: number[][];
  trainLabels: number[];
  test: number[][];
  testLabels: number[];
  K?: number;
  expected?: number[];
  subsets?: number[][][];
  roundMean?: number[];
  roundStd?: number[];
}
const fx = readJsonFixture<Record<'exact' | 'subsets' | 'stats', Case>>('analysis', 'deviation.json');

function closeTo(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tol, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

test('featureDeviation: K = every class size (the subset is the class) matches PyTorch', () => {
  const c = fx.exact;
  const args = { trainLabels: c.trainLabels, testLabels: c.testLabels, K: c.K, R: 3, seed: 9 };
  closeTo(featureDeviation({ ...args, trainFeatures: c.train, testFeatures: c.test }), c.expected!, 1e-6, 'rows');
  // The same from tensors (the trainer's form) and with K defaulting to the smallest class size.
  const t = featureDeviation({
    trainFeatures: tensor(Float32Array.from(c.train.flat()), [c.train.length, c.train[0].length]),
    trainLabels: tensor(Int32Array.from(c.trainLabels), [c.trainLabels.length], 'int64'),
    testFeatures: tensor(Float32Array.from(c.test.flat()), [c.test.length, c.test[0].length]),
    testLabels: c.testLabels,
  });
  closeTo(t, c.expected!, 1e-6, 'tensors');
});

test('deviationFromSubsets: explicit subsets match PyTorch', () => {
  const c = fx.subsets;
  const train = l2NormalizeRows(toMatrix(c.train, c.train.length, 'train'));
  const test = l2NormalizeRows(toMatrix(c.test, c.test.length, 'test'));
  const testBy = rowsByClass(Int32Array.from(c.testLabels), 3);
  const got = c.subsets!.map((s, k) => deviationFromSubsets(train, s, test, testBy[k]));
  closeTo(got, c.expected!, 1e-6, 'subsets');
});

test('featureDeviation: random subsets agree with PyTorch within the Monte-Carlo error; seeded', () => {
  const c = fx.stats;
  const R = 4000;
  const o = { trainFeatures: c.train, trainLabels: c.trainLabels, testFeatures: c.test, testLabels: c.testLabels };
  const got = featureDeviation({ ...o, R, seed: 1 });
  got.forEach((v, k) => {
    const se = c.roundStd![k] / Math.sqrt(R) + c.roundStd![k] / Math.sqrt(20000);
    assert.ok(Math.abs(v - c.roundMean![k]) <= 5 * se + 1e-9, `class ${k}: ${v} vs ${c.roundMean![k]} (se ${se})`);
  });
  // The smallest class (K = its size) has no randomness; the others do, and the seed fixes them.
  assert.deepEqual(featureDeviation({ ...o, R, seed: 1 }), got);
  assert.notDeepEqual(
    featureDeviation({ ...o, R: 50, seed: 2 }).slice(0, 2),
    featureDeviation({ ...o, R: 50, seed: 3 }).slice(0, 2),
  );
});

test('featureDeviation: a class missing from a split is NaN; bad K, shapes and labels are errors', () => {
  const f = [
    [1, 0],
    [0, 1],
    [1, 1],
  ];
  const d = featureDeviation({
    trainFeatures: f,
    trainLabels: [0, 0, 1],
    testFeatures: [[1, 0]],
    testLabels: [0],
    numClasses: 3,
  });
  assert.equal(d.length, 3);
  assert.ok(Number.isFinite(d[0]) && Number.isNaN(d[1]) && Number.isNaN(d[2]));
  const base = { trainFeatures: f, trainLabels: [0, 0, 1], testFeatures: f, testLabels: [0, 1, 1] };
  assert.throws(() => featureDeviation({ ...base, K: 2 }), /K = 2 exceeds class 1's 1 training features/);
  assert.throws(() => featureDeviation({ ...base, R: 0 }), /R must be an integer >= 1/);
  assert.throws(() => featureDeviation({ ...base, trainLabels: [0, 1, 0, 1] }), /do not make 4 rows/);
  assert.throws(() => featureDeviation({ ...base, testLabels: [0, -1, 1] }), /labels must be class indices/);
});
