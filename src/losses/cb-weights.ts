// Class-balanced weights by effective number of samples, for CB re-weighting and DRW (SPEC §3).
// Source: Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019), eq. 3 (E_n =
// (1 − β^n)/(1 − β)) and the weight 1/E_n; normalization as kaidic/LDAM-DRW cifar_train.py:
//     per_cls_weights = (1 - beta) / (1 - beta ** cls_num_list)
//     per_cls_weights = per_cls_weights / np.sum(per_cls_weights) * len(cls_num_list)     # sums to C
// β = 0 gives all ones (the DRW "before" stage, `betas = [0, 0.9999]`).
//
// One definition serves both the samplers and the losses: this re-exports src/data/samplers/cb-weights.ts
// (the class-balanced sampler draws with the same weights), so the two can never disagree.
export { cbWeights, DEFAULT_CB_BETA } from '../data/samplers/cb-weights';
