// Focal loss, in the form the long-tail references use (SPEC §3 "Focal").
// Source: Lin et al., "Focal Loss for Dense Object Detection" (ICCV 2017), FL(p_t) = −(1 − p_t)^γ log p_t;
// mirrors kaidic/LDAM-DRW losses.py `FocalLoss` / `focal_loss`:
//     ce_i = F.cross_entropy(input, target, reduction='none', weight=w)     # w_y · (−log p_y)
//     p = exp(-ce_i);  loss = ((1 - p) ** gamma * ce_i).mean()
// Two consequences of that form, kept on purpose for reproduction:
//  - with weights, p = p_y^{w_y} (not p_y), and the batch reduction is a plain mean, not Σ w_y ℓ / Σ w_y;
//    so focal(γ=0, w) equals CE only when w is null (or all equal to 1).
//  - γ defaults to 1, the value cifar_train.py passes for `--loss_type Focal` (the class default is 0).
import { Tensor } from '../engine/tensor';
import { crossEntropyLoss, exp, mean } from '../engine/ops.generated';
import { Criterion, WeightInput, makeCriterion } from './criterion';
import { REDUCTION_NONE } from './cross-entropy';

export const DEFAULT_FOCAL_GAMMA = 1;

export interface FocalOptions {
  gamma?: number;
  weight?: WeightInput | null;
}

export function focalBody(gamma: number) {
  return (logits: Tensor, targets: Tensor, weight: Tensor | null): Tensor => {
    const ce = crossEntropyLoss(logits, targets, { weight, reduction: REDUCTION_NONE }); // [B]
    if (gamma === 0) return mean(ce);
    const p = exp(ce.neg()); // [B]
    const modulator = gamma === 1 ? p.rsub(1) : p.rsub(1).pow(gamma); // (1 − p)^γ
    return mean(modulator.mul(ce));
  };
}

export function focal(opts: FocalOptions = {}): Criterion {
  const gamma = opts.gamma ?? DEFAULT_FOCAL_GAMMA;
  if (!(Number.isFinite(gamma) && gamma >= 0)) throw new RangeError(`loss 'focal': gamma must be >= 0, got ${gamma}`);
  return makeCriterion({ name: 'focal', options: { gamma }, numClasses: null, body: focalBody(gamma) }, opts.weight);
}
