// Tests for decoupled.ts: τ-normalization and the τ sweep's selection rule (LWS: methods/classifier-stages.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, manualSeed, memory, Tensor } from '../engine/tensor';
import { randn, matmul, norm } from '../engine/ops.generated';
import { tauNormalize, tauNormLogits, tauSweep, defaultTaus } from './decoupled';
import { settledMemory } from '../engine/test-support';

function assertAllClose(a: Tensor, b: Tensor, tol = 1e-5): void {
  assert.deepEqual(a.shape, b.shape);
  const x = a.toList();
  const y = b.toList();
  x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) <= tol * (1 + Math.abs(y[i])), `index ${i}: ${v} vs ${y[i]}`));
}

test('τ = 0 leaves weights and logits unchanged', () => {
  tidy(() => {
    manualSeed(0);
    const w = randn([5, 4]);
    const x = randn([7, 4]);
    assertAllClose(tauNormalize(w, 0), w, 0);
    assertAllClose(tauNormLogits(x, w, 0), matmul(x, w.t()));
  });
});

test('τ = 1 gives unit-norm rows; τ = 0.5 gives norm ‖w‖^0.5', () => {
  tidy(() => {
    manualSeed(1);
    const w = randn([6, 3]).mul(tensor([[1], [2], [3], [4], [5], [0.1]]));
    const n1 = norm(tauNormalize(w, 1), 2, 1).toList();
    n1.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5, `norm ${v}`));
    const n0 = norm(w, 2, 1).toList();
    const nh = norm(tauNormalize(w, 0.5), 2, 1).toList();
    nh.forEach((v, i) => assert.ok(Math.abs(v - Math.sqrt(n0[i])) < 1e-4));
    // all-zero row stays zero, no NaN
    assertAllClose(
      tauNormalize(
        tensor([
          [0, 0],
          [3, 4],
        ]),
        1,
      ),
      tensor([
        [0, 0],
        [0.6, 0.8],
      ]),
    );
  });
});

test('defaultTaus is 0, 0.1, …, 1 exactly', () => {
  assert.deepEqual(defaultTaus(), [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]);
});

// W = diag(3, 1): class 0 (head) has the larger norm. For a sample x = [1, b], class 1 wins iff
// b > 3^(1-τ), i.e. τ > t(b) = 1 − log3(b). So a class-1 sample is right iff τ > t, a class-0 one iff τ < t.
const sampleAt = (t: number) => [1, Math.pow(3, 1 - t)];
function split(c0: number[], c1: number[]) {
  return {
    features: tensor([...c0.map(sampleAt), ...c1.map(sampleAt)]),
    targets: tensor([...c0.map(() => 0), ...c1.map(() => 1)], 'int64'),
  };
}

test('tauSweep picks the τ with the best validation balanced accuracy; test selection differs', () => {
  tidy(() => {
    const W = tensor([
      [3, 0],
      [0, 1],
    ]);
    const bias = tensor([100, 0]); // only the baseline sees the bias
    const val = split([0.75, 0.95], [0.45, 0.65]); // all right only at τ = 0.7
    const test_ = split([0.15], [0.05]); // all right only at τ = 0.1
    const r = tauSweep(test_.features, test_.targets, W, bias, undefined, { val, trainCounts: [500, 10] });
    assert.equal(r.selectedOn, 'val');
    assert.equal(r.metric, 'balancedAccuracy');
    assert.equal(r.entries.length, 11);
    assert.equal(r.best.tau, 0.7);
    assert.equal(r.best.score, 1);
    assert.equal(r.entries[6].val?.balancedAccuracy, 0.75);
    assert.equal(r.entries[8].val?.balancedAccuracy, 0.75);
    assert.equal(r.entries[1].test.balancedAccuracy, 1);
    assert.equal(r.best.test.balancedAccuracy, 0.5);
    assert.equal(r.best.test.shots?.few.accuracy, 1); // class 1 (10 train images) right at τ = 0.7
    assert.equal(r.best.test.shots?.many.accuracy, 0);
    // baseline uses the bias: everything predicted as class 0
    assert.deepEqual(r.baseline.test.perClass.predicted, [2, 0]);

    const rt = tauSweep(test_.features, test_.targets, W, null, undefined, { select: 'test' });
    assert.equal(rt.selectedOn, 'test');
    assert.equal(rt.best.tau, 0.1);
    assert.equal(rt.best.val, null);
    assert.throws(() => tauSweep(test_.features, test_.targets, W, null, undefined, { select: 'val' }));
  });
});

test('no native tensors leak from tauSweep or the meter', () => {
  const W = tensor([
    [3, 0],
    [0, 1],
  ]);
  const x = split([0.2, 0.8], [0.3, 0.6]);
  const before = settledMemory().numTensors;
  tauSweep(x.features, x.targets, W, tensor([1, 0]), [0, 0.5, 1], { val: x, batchSize: 3 });
  // the bias literal above is the only tensor created outside a scope
  assert.ok(memory().numTensors <= before + 1, `${before} → ${memory().numTensors}`);
});
