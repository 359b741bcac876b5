// Feature-gradient norms (S2 Fig. 4) against torch.autograd (fixtures/analysis/gen_deviation.py), the
// per-sample loss sum for every registered loss, training progress counts, and that the passes leave the
// model as they found it (parameters, .grad, BatchNorm statistics, mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, loadSafetensors, dispose, memory } from '../engine';
import * as models from '../models';
import * as losses from '../losses';
import type { Stage } from '../models';
import { fixturePath, readJsonFixture, assertClose } from '../nn/golden.test-util';
import { batchGradNorms, featureGradNorms, perSampleLossSum } from './grad-norms';
import { progressCounts, trainingProgress } from './progress';
import { perClassMean } from './clean-pass';
import type { InMemoryDataset } from '../data/loader';

const meta = readJsonFixture<{ stages: Stage[]; numClasses: number }>('analysis', 'gradnorm.json');

test('batchGradNorms: per-image ‖∇_g ℓ‖ and per-class means match torch.autograd at every stage', () => {
  const fx = loadSafetensors(fixturePath('analysis', 'gradnorm.safetensors'));
  const model = models.create('resnet8', { numClasses: 3 });
  try {
    const weights = Object.fromEntries(Object.entries(fx).filter(([k]) => !/^(x|y|norms\.|perClass\.)/.test(k)));
    model.loadStateDict(weights);
    model.eval();
    const crit = losses.create('ce');
    const y = fx.y.toList();
    for (const at of meta.stages) {
      const norms = batchGradNorms(model, fx.x, fx.y, at, perSampleLossSum(crit));
      assertClose(norms, fx[`norms.${at}`], 1e-4, `norms at ${at}`);
      const sums = [0, 0, 0];
      const counts = [0, 0, 0];
      norms.forEach((v, n) => ((sums[y[n]] += v), counts[y[n]]++));
      assertClose(perClassMean(sums, counts) as number[], fx[`perClass.${at}`], 1e-4, `per class at ${at}`);
    }
    crit.dispose();
  } finally {
    dispose(fx);
    model.dispose();
  }
});

test('perSampleLossSum: B · criterion(batch) = Σ_n criterion(image n) for every registered loss; weighted: per image', () => {
  const clsNumList = [50, 10, 3, 1];
  tidy(() => {
    const logits = tensor(
      Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 2),
      [6, 4],
    );
    const y = tensor(Int32Array.from([0, 1, 2, 3, 1, 0]), [6], 'int64');
    for (const entry of losses.list()) {
      const name = entry.name;
      const crit = losses.create(name, entry.options.includes('clsNumList') ? { clsNumList } : {});
      for (const weight of [null, [0.2, 1, 2.5, 4]]) {
        crit.setWeight(weight);
        const rows = Array.from({ length: 6 }, (_, n) => crit(logits.narrow(0, n, 1), y.narrow(0, n, 1)).item());
        const sum = rows.reduce((a, b) => a + b, 0);
        const got = perSampleLossSum(crit)(logits, y).item();
        assert.ok(
          Math.abs(got - sum) <= 1e-5 * Math.max(1, Math.abs(sum)),
          `${name} weight ${weight}: ${got} vs ${sum}`,
        );
      }
      crit.dispose();
    }
  });
});

/** A tiny image set: 3 classes of 8×8×3 uint8 images. */
function tinySet(): InMemoryDataset {
  const targets = [0, 0, 0, 0, 0, 1, 1, 2, 0, 1];
  const images = Uint8Array.from({ length: targets.length * 8 * 8 * 3 }, (_, i) => (i * 37 + (i >> 5) * 11) % 256);
  return { images, targets: Int32Array.from(targets), shape: [targets.length, 8, 8, 3] };
}

const toFloat = (x: Tensor) => x.permute([0, 3, 1, 2]).toDtype('float32').div(255);

test('the passes leave parameters, .grad, BatchNorm statistics and the mode as they were; progress counts', () => {
  const set = tinySet();
  const model = models.create('resnet8', { numClasses: 3 });
  const crit = losses.create('ce');
  try {
    model.train();
    const before = model.stateDict();
    const snapshot = Object.fromEntries(
      Object.entries(before).map(([k, v]) => [k, Array.from(v.toArray() as ArrayLike<number>)]),
    );
    dispose(before);
    const live = memory().numTensors;
    const data = { set, transform: toFloat, batchSize: 4 };
    const norms = featureGradNorms(model, data, { at: 'layer1', lossSum: perSampleLossSum(crit), numClasses: 4 });
    const progress = trainingProgress(model, data, 4);
    assert.equal(memory().numTensors, live, 'no tensor left behind');
    assert.ok(model.training, 'train mode restored');
    assert.equal(norms[3], null);
    assert.ok(norms.slice(0, 3).every((v) => typeof v === 'number' && v > 0));
    assert.equal(progress.accuracy[3], null);
    const after = model.stateDict();
    for (const [k, v] of Object.entries(after))
      assert.deepEqual(Array.from(v.toArray() as ArrayLike<number>), snapshot[k], k);
    dispose(after);
    for (const p of model.parameters()) assert.equal(p.grad, null, 'no gradient accumulated');
  } finally {
    crit.dispose();
    model.dispose();
  }
  const c = progressCounts([0, 0, 1, 2, 2, 2], [0, 1, 1, 0, 2, 2], 4);
  assert.deepEqual(perClassMean(c.correct, c.count), [0.5, 1, 2 / 3, null]);
  assert.deepEqual(perClassMean(c.predictedAs, c.count), [1, 2, 2 / 3, null]);
});

test('training progress of a model whose predictions are known: per-class accuracy and classification ratio', () => {
  const set = tinySet(); // 6 images of class 0, 3 of class 1, 1 of class 2
  const model = models.create('resnet8', { numClasses: 3 });
  try {
    // A head with zero weights predicts its largest bias for every image.
    const head = model.stateDict();
    const predictOnly = (c: number) =>
      tidy(() => {
        head['linear.weight'].zero_();
        head['linear.bias'].copy_(
          tensor(
            Float32Array.from([0, 1, 2], (k) => (k === c ? 5 : 0)),
            [3],
          ),
        );
      });
    const data = { set, transform: toFloat, batchSize: 4 };
    predictOnly(1);
    assert.deepEqual(trainingProgress(model, data, 3), { accuracy: [0, 1, 0], ratio: [0, 10 / 3, 0] });
    predictOnly(2);
    assert.deepEqual(trainingProgress(model, data, 3), { accuracy: [0, 0, 1], ratio: [0, 0, 10] });
    dispose(head);
  } finally {
    model.dispose();
  }
});
