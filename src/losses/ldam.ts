// LDAM: label-distribution-aware margin loss (SPEC §3 "LDAM").
// Source: Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss" (NeurIPS 2019),
// eq. 13: Δ_j = C / n_j^{1/4}; mirrors kaidic/LDAM-DRW losses.py `LDAMLoss`:
//     m_list = 1 / n_c^{1/4};  m_list *= max_m / max(m_list)        # largest margin = max_m (0.5)
//     output = where(onehot(target), x - m_y, x)                     # margin on the true-class logit only
//     loss = F.cross_entropy(s * output, target, weight=w)           # s = 30, weighted mean
// The inputs are cosine logits from the NormedLinear head (SPEC §2), which is why the scale s is needed.
// Subtracting onehot · m_y equals the reference's `where(index, x - m_y, x)` bit for bit (x − 0 = x), with the
// same gradient (identity) w.r.t. x.
import { Tensor } from '../engine/tensor';
import { crossEntropyLoss, gather, oneHot } from '../engine/ops.generated';
import { ClassVector, Criterion, WeightInput, makeCriterion, toClassCounts } from './criterion';
import { REDUCTION_MEAN } from './cross-entropy';

export const DEFAULT_LDAM_MAX_MARGIN = 0.5;
export const DEFAULT_LDAM_SCALE = 30;

export interface LdamOptions {
  clsNumList: ArrayLike<number>;
  maxMargin?: number;
  s?: number;
  weight?: WeightInput | null;
}

/** Per-class margins m_c ∝ n_c^{-1/4}, the largest equal to maxMargin. */
export function ldamMargins(clsNumList: ArrayLike<number>, maxMargin = DEFAULT_LDAM_MAX_MARGIN): number[] {
  const n = toClassCounts(clsNumList, "loss 'ldam'");
  const m = n.map((v) => 1 / Math.sqrt(Math.sqrt(v)));
  const top = Math.max(...m);
  return m.map((v) => v * (maxMargin / top));
}

export function ldam(opts: LdamOptions): Criterion {
  const maxMargin = opts.maxMargin ?? DEFAULT_LDAM_MAX_MARGIN;
  const s = opts.s ?? DEFAULT_LDAM_SCALE;
  if (!(Number.isFinite(maxMargin) && maxMargin >= 0)) {
    throw new RangeError(`loss 'ldam': maxMargin must be >= 0, got ${maxMargin}`);
  }
  if (!(Number.isFinite(s) && s > 0)) throw new RangeError(`loss 'ldam': s must be > 0, got ${s}`);
  const clsNumList = Array.from(opts.clsNumList, Number);
  const margins = new ClassVector(ldamMargins(clsNumList, maxMargin));
  const C = clsNumList.length;

  const body = (x: Tensor, targets: Tensor, weight: Tensor | null): Tensor => {
    const m = margins.like(x); // [C]
    const batchM = gather(m, 0, targets).unsqueeze(1); // [B, 1] margin of each sample's true class
    const onehot = oneHot(targets, { numClasses: C }).toDtype(x.dtype); // [B, C]
    const output = x.sub(onehot.mul(batchM)); // x − m_y on the true-class logit only
    return crossEntropyLoss(output.mul(s), targets, { weight, reduction: REDUCTION_MEAN });
  };
  return makeCriterion(
    { name: 'ldam', options: { clsNumList, maxMargin, s }, numClasses: C, body, owned: [margins] },
    opts.weight,
  );
}
