// Logit-adjusted softmax cross-entropy (SPEC §3 "newer losses").
// Source: Menon et al., "Long-tail Learning via Logit Adjustment" (ICLR 2021), eq. 10:
// ℓ(y, f(x)) = −log( e^{f_y + τ log π_y} / Σ_{y'} e^{f_{y'} + τ log π_{y'}} ), π = empirical class prior;
// mirrors the authors' code (google-research `logit_adjustment`, mode 'loss': τ · log(base_probs) added to the
// logits before softmax cross-entropy).
// τ = 1 is Balanced Softmax. Predict with the raw logits (the post-hoc variant, f − τ log π, is a separate
// inference-time correction, not part of this loss).
import { Criterion, WeightInput } from './criterion';
import { priorAdjustedCriterion } from './prior-adjusted';

export const DEFAULT_LOGIT_ADJUST_TAU = 1;

export interface LogitAdjustedOptions {
  clsNumList: ArrayLike<number>;
  tau?: number;
  weight?: WeightInput | null;
}

export function logitAdjusted(opts: LogitAdjustedOptions): Criterion {
  const tau = opts.tau ?? DEFAULT_LOGIT_ADJUST_TAU;
  return priorAdjustedCriterion('logit-adjusted', opts.clsNumList, tau, { tau }, opts.weight);
}
