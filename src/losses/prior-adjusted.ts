// Shared body of Balanced Softmax and logit adjustment: CE on logits + τ · log(prior), prior_c = n_c / N.
// Shifting every row by the same log-prior vector leaves the softmax normalizer well defined; the constant
// log N cancels, so using n_c or n_c / N gives the same loss.
import { Tensor } from '../engine/tensor';
import { crossEntropyLoss } from '../engine/ops.generated';
import { ClassVector, Criterion, WeightInput, makeCriterion, toClassCounts } from './criterion';
import { REDUCTION_MEAN } from './cross-entropy';

/** log(n_c / N) for each class. */
export function logPrior(clsNumList: ArrayLike<number>, where = 'logPrior'): number[] {
  const n = toClassCounts(clsNumList, where);
  const total = n.reduce((a, b) => a + b, 0);
  return n.map((v) => Math.log(v / total));
}

export function priorAdjustedCriterion(
  name: string,
  clsNumList: ArrayLike<number>,
  tau: number,
  options: Record<string, unknown>,
  weight: WeightInput | null | undefined,
): Criterion {
  if (!Number.isFinite(tau)) throw new RangeError(`loss '${name}': tau must be finite, got ${tau}`);
  const counts = Array.from(clsNumList, Number);
  const shift = new ClassVector(logPrior(counts, `loss '${name}'`).map((v) => tau * v));
  const body = (logits: Tensor, targets: Tensor, w: Tensor | null): Tensor =>
    crossEntropyLoss(logits.add(shift.like(logits)), targets, { weight: w, reduction: REDUCTION_MEAN });
  return makeCriterion(
    { name, options: { clsNumList: counts, ...options }, numClasses: counts.length, body, owned: [shift] },
    weight,
  );
}
