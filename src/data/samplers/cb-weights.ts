// Class-balanced (effective number) weights, SPEC §3.
// Source: Cui et al., "Class-Balanced Loss Based on Effective Number of Samples" (CVPR 2019); reference
// implementation kaidic/LDAM-DRW cifar_train.py:
//     effective_num = 1.0 - np.power(beta, cls_num_list)
//     per_cls_weights = (1.0 - beta) / np.array(effective_num)
//     per_cls_weights = per_cls_weights / np.sum(per_cls_weights) * len(cls_num_list)
// Empty classes (n_c = 0) would give (1-β)/0 = inf/NaN in the reference; ltkit gives them weight 0 and
// normalizes the others so that the weights still sum to C.

export const DEFAULT_CB_BETA = 0.9999;

export function cbWeights(clsNumList: ArrayLike<number>, beta: number = DEFAULT_CB_BETA): number[] {
  if (!(beta >= 0 && beta < 1)) throw new RangeError(`beta must be in [0, 1), got ${beta}`);
  const C = clsNumList.length;
  const w = new Array<number>(C);
  let sum = 0;
  for (let c = 0; c < C; c++) {
    const n = clsNumList[c];
    if (!(n >= 0)) throw new RangeError(`class count must be >= 0, got ${n}`);
    w[c] = n === 0 ? 0 : (1.0 - beta) / (1.0 - Math.pow(beta, n));
    sum += w[c];
  }
  if (sum === 0) return new Array<number>(C).fill(0);
  for (let c = 0; c < C; c++) w[c] = (w[c] / sum) * C;
  return w;
}
