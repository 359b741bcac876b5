// Cross-entropy with optional per-class weights (SPEC §3 "CE"; the reference's `nn.CrossEntropyLoss(weight=
// per_cls_weights)` in kaidic/LDAM-DRW cifar_train.py). Weighted mean: L = Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i},
// exactly F.cross_entropy(logits, target, weight=w).
import { Tensor } from '../engine/tensor';
import { crossEntropyLoss } from '../engine/ops.generated';
import { Criterion, WeightInput, makeCriterion } from './criterion';

/** ATen reduction codes (at::Reduction). */
export const REDUCTION_NONE = 0;
export const REDUCTION_MEAN = 1;

export interface CrossEntropyOptions {
  weight?: WeightInput | null;
}

/** Weighted-mean CE; `weight` on the logits' device and dtype, or null. */
export function crossEntropyBody(logits: Tensor, targets: Tensor, weight: Tensor | null): Tensor {
  return crossEntropyLoss(logits, targets, { weight, reduction: REDUCTION_MEAN });
}

export function crossEntropy(opts: CrossEntropyOptions = {}): Criterion {
  return makeCriterion({ name: 'ce', options: {}, numClasses: null, body: crossEntropyBody }, opts.weight);
}
