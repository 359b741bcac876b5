// Balanced Softmax (SPEC §3 "newer losses").
// Source: Ren et al., "Balanced Meta-Softmax for Long-Tailed Visual Recognition" (NeurIPS 2020), eq. 4:
// φ̂_y = n_y e^{η_y} / Σ_j n_j e^{η_j}, i.e. CE on logits + log n_c; mirrors jiawei-ren/BalancedMetaSoftmax
// `balanced_softmax_loss` (`logits + spc.log()`, then F.cross_entropy). The log N constant cancels, so this
// uses log(n_c / N). At test time the raw logits are used (no adjustment).
import { Criterion, WeightInput } from './criterion';
import { priorAdjustedCriterion } from './prior-adjusted';

export interface BalancedSoftmaxOptions {
  clsNumList: ArrayLike<number>;
  weight?: WeightInput | null;
}

export function balancedSoftmax(opts: BalancedSoftmaxOptions): Criterion {
  return priorAdjustedCriterion('balanced-softmax', opts.clsNumList, 1, {}, opts.weight);
}
