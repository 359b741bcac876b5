// Feature-gradient norms (S2 §3.4, Fig. 4): after an epoch, per class c, the mean over c's training images
// of ‖∇_{g(x)} ℓ(y, h(g(x)))‖₂, where g(x) is the activation at a model stage (S2 §3.1: f = h ∘ g) and ℓ the
// image's own loss under the run's criterion, on a clean pass over the training set (clean-pass.ts).
//
// One backward per batch gives every image's own gradient: with BatchNorm in eval mode the rows of a batch do
// not interact, so the gradient of Σ_n ℓ_n with respect to the batch activation has ∇_{g(x_n)} ℓ_n as row n.
// The gradient is taken with autograd's grad() for the activation only: nothing accumulates into the
// parameters' .grad, and eval mode leaves the running statistics as they were.
import { Tensor, enableGrad, grad, tidy } from '../engine';
import type { Criterion } from '../losses';
import type { ClassifierModel, Stage } from '../models';
import { CleanSet, cleanBatches, inEvalMode, perClassMean } from './clean-pass';

/** Σ_n ℓ_n over a batch: logits [B, C], targets [B] → a scalar. */
export type LossSum = (logits: Tensor, targets: Tensor) => Tensor;

/**
 * Σ_n ℓ_n for a criterion, ℓ_n being the criterion's loss on image n alone. Without class weights every
 * registered loss is a plain batch mean, so B · criterion(batch) is that sum (grad-norms.test.ts checks it
 * for each loss); with class weights the reduction may be a weighted mean, so each image is scored alone.
 */
export function perSampleLossSum(criterion: Criterion): LossSum {
  return (logits, targets) => {
    const B = logits.shape[0];
    if (criterion.weight === null) return criterion(logits, targets).mul(B);
    let total = criterion(logits.narrow(0, 0, 1), targets.narrow(0, 0, 1));
    for (let n = 1; n < B; n++) total = total.add(criterion(logits.narrow(0, n, 1), targets.narrow(0, n, 1)));
    return total;
  };
}

/**
 * Row n of the gradient of `lossSum` with respect to the activation at `at`, as one norm per image: [B].
 * 'input' (the image itself) has no graph before it, so the hook makes it a leaf that requires grad.
 */
export function batchGradNorms(
  model: ClassifierModel,
  x: Tensor,
  y: Tensor,
  at: Stage,
  lossSum: LossSum,
): Float32Array {
  return tidy(() =>
    enableGrad(() => {
      let z: Tensor | null = null;
      // The model frees each stage's activation handle once the next stage consumed it, so the hook keeps a
      // handle of its own (a view, in the graph) and passes on another.
      const fn = (a: Tensor) => {
        const held = a.requiresGrad ? a.view(a.shape) : a.detach().requiresGrad_(true);
        z = held;
        return held.view(held.shape);
      };
      const { logits } = model.forwardFeatures(x, { hook: { stage: at, fn } });
      if (z === null) throw new Error(`feature-gradient norms: the model never reached stage '${at}'`);
      const [g] = grad(lossSum(logits, y), z);
      if (!g) throw new Error(`feature-gradient norms: the loss does not depend on stage '${at}'`);
      return Float32Array.from(g.flatten({ startDim: 1 }).norm(2, 1).toArray() as ArrayLike<number>);
    }),
  );
}

/** Mean ‖∇_{g(x)} ℓ‖ per class over a clean pass of `data` (S2 Fig. 4); null for a class with no images. */
export function featureGradNorms(
  model: ClassifierModel,
  data: CleanSet,
  o: { at: Stage; lossSum: LossSum; numClasses: number },
): (number | null)[] {
  const sums = new Float64Array(o.numClasses);
  const counts = new Float64Array(o.numClasses);
  inEvalMode(model, () => {
    for (const b of cleanBatches(data)) {
      const norms = batchGradNorms(model, b.x, b.y, o.at, o.lossSum);
      b.indices.forEach((i, k) => {
        const c = data.set.targets[i];
        sums[c] += norms[k];
        counts[c]++;
      });
    }
  });
  return perClassMean(sums, counts);
}
