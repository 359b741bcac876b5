// Re-balancing rules (SPEC §3; Cao et al., "Learning Imbalanced Datasets with Label-Distribution-
// Aware Margin Loss", NeurIPS 2019, and its reference code kaidic/LDAM-DRW cifar_train.py):
//   none      — no class weights, instance sampling;
//   reweight  — class-balanced (CB) weights (Cui et al. 2019, β = 0.9999) from epoch 0;
//   drw       — deferred re-weighting: no weights until the deferral epoch, CB weights after
//               (reference: `idx = epoch // 160; betas = [0, 0.9999]`; β = 0 gives all-ones);
//   resample  — class-balanced sampling with replacement (per-sample weight = its class's CB weight);
//   drs       — deferred re-sampling: instance sampling until the deferral epoch, then resample.
// The deferral epoch is floor(deferFraction · epochs): 160 of 200 by default.

/** How to sample one epoch. */
export type SamplingKind = 'instance' | 'class-balanced' | 'class-aware' | 'sqrt' | 'progressive';

export interface EpochPlan {
  /** Per-class loss weights, or null for none. */
  classWeights: number[] | null;
  sampling: SamplingKind;
}

import { cbWeights } from '../data/samplers/cb-weights';

export { cbWeights };

export function deferEpoch(epochs: number, deferFraction: number): number {
  return Math.floor(epochs * deferFraction);
}

export interface RuleOptions {
  epochs: number;
  deferFraction: number;
  beta: number;
}

export type RuleName = 'none' | 'reweight' | 'drw' | 'resample' | 'drs';

export function classWeightsAt(rule: RuleName, epoch: number, clsNumList: number[], o: RuleOptions): number[] | null {
  if (rule === 'reweight') return cbWeights(clsNumList, o.beta);
  if (rule === 'drw') return epoch >= deferEpoch(o.epochs, o.deferFraction) ? cbWeights(clsNumList, o.beta) : null;
  return null;
}

export function samplingAt(rule: RuleName, epoch: number, o: RuleOptions): SamplingKind {
  if (rule === 'resample') return 'class-balanced';
  if (rule === 'drs') return epoch >= deferEpoch(o.epochs, o.deferFraction) ? 'class-balanced' : 'instance';
  return 'instance';
}
