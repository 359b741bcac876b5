// Long-tailed per-class image counts (SPEC §1.1, §1.2).
// Source: YyzHarry/imbalanced-semi-self, dataset/imbalance_cifar.py and dataset/imbalance_svhn.py
//   get_img_num_per_cls:           num = img_max * (imb_factor**(cls_idx / (cls_num - 1.0))); int(num)
//                                  step: int(img_max) for the first cls_num//2, int(img_max * imb_factor) after
//   get_img_num_per_cls_unlabeled: total = sum(labeled) * k; first = total // C;
//                                  u_i = int(first * (imb_u**(i / (C - 1.0)))); factor = total / sum(u);
//                                  u_i = int(u_i * factor)
// with imb_factor = 1/ρ. Note the reference multiplies by 1/ρ rather than dividing by ρ, so e.g.
// int(49 * (1/49)) = 0 (0.9999999999999999), not 1; ltkit follows the reference (SPEC §1.1's floor(img_max/ρ)
// is the same number except at such exact-multiple edge cases). The floating-point evaluation order of those expressions is reproduced exactly
// (JS numbers are IEEE doubles like Python floats; `**` maps to pow). Validated against NumPy-generated
// fixtures in fixtures/data/subsets/counts.json.

export type ImbalanceType = 'exp' | 'step';

export interface LongTailCountsOptions {
  numClasses: number;
  /** Images per class of the balanced source (CIFAR-10: 5000, CIFAR-100: 500, SVHN-LT protocol: 1000). */
  imgMax: number;
  /** Imbalance ratio ρ = n_max / n_min (≥ 1). */
  rho: number;
  type: ImbalanceType;
  /**
   * Class order the profile is applied in: order[i] is the class that gets the i-th count of the profile.
   * Default natural order 0..C-1. SVHN-LT uses [1,2,...,9,0].
   */
  order?: number[];
}

/** The imb_factor the reference scripts receive on the command line (e.g. 0.01 for ρ=100). */
export function imbFactor(rho: number): number {
  if (!(rho >= 1) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number >= 1, got ${rho}`);
  return 1 / rho;
}

/** The profile in *position* order (position i = i-th class of `order`). */
export function longTailProfile(numClasses: number, imgMax: number, rho: number, type: ImbalanceType): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new RangeError('numClasses must be a positive integer');
  if (!(imgMax >= 0)) throw new RangeError('imgMax must be >= 0');
  const f = imbFactor(rho);
  const out: number[] = [];
  if (type === 'exp') {
    for (let i = 0; i < numClasses; i++) {
      // Python: img_max * (imb_factor ** (cls_idx / (cls_num - 1.0))); cls_num == 1 → 0/0 in Python
      // raises ZeroDivisionError; we define the single class to keep img_max.
      const e = numClasses === 1 ? 0 : i / (numClasses - 1.0);
      out.push(Math.floor(imgMax * f ** e));
    }
  } else if (type === 'step') {
    const half = Math.floor(numClasses / 2);
    for (let i = 0; i < half; i++) out.push(Math.floor(imgMax));
    // The reference loops cls_num // 2 times for the tail too (drops a class when C is odd); we fill all C.
    for (let i = half; i < numClasses; i++) out.push(Math.floor(imgMax * f));
  } else {
    throw new Error(`unknown imbalance type ${String(type)}`);
  }
  return out;
}

/** Per-class counts in *label* order (counts[c] = images kept for class c). */
export function longTailCounts(opts: LongTailCountsOptions): number[] {
  const { numClasses, imgMax, rho, type } = opts;
  const profile = longTailProfile(numClasses, imgMax, rho, type);
  const order = opts.order ?? naturalOrder(numClasses);
  checkOrder(order, numClasses);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < numClasses; i++) counts[order[i]] = profile[i];
  return counts;
}

export interface UnlabeledCountsOptions {
  /** U = total unlabeled images requested (e.g. k · |labeled|). */
  total: number;
  numClasses: number;
  /** Unlabeled imbalance ratio ρU (1 = balanced). */
  rhoU: number;
  /** Same meaning as in longTailCounts; default natural order. */
  order?: number[];
}

/**
 * Per-class unlabeled counts (label order), reference `get_img_num_per_cls_unlabeled`:
 * first = U // C; u_i = int(first * (1/ρU) ** (i/(C-1))); u_i = int(u_i * (U / Σu)).
 */
export function unlabeledCounts(opts: UnlabeledCountsOptions): number[] {
  const { total, numClasses, rhoU } = opts;
  if (!Number.isInteger(total) || total < 0) throw new RangeError('total must be a non-negative integer');
  const f = imbFactor(rhoU);
  const first = Math.floor(total / numClasses);
  const u: number[] = [];
  for (let i = 0; i < numClasses; i++) {
    const e = numClasses === 1 ? 0 : i / (numClasses - 1.0);
    u.push(Math.floor(first * f ** e));
  }
  const sum = u.reduce((a, b) => a + b, 0);
  // Reference divides by np.sum(u) (→ inf/nan when 0); we return zeros then.
  const factor = sum === 0 ? 0 : total / sum;
  const profile = u.map((n) => Math.floor(n * factor));
  const order = opts.order ?? naturalOrder(numClasses);
  checkOrder(order, numClasses);
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < numClasses; i++) counts[order[i]] = profile[i];
  return counts;
}

export function naturalOrder(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** The SVHN-LT class order 1,2,…,9,0 (digit 0 is the tail). */
export const SVHN_LT_ORDER: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0];

function checkOrder(order: number[], c: number): void {
  if (order.length !== c) throw new RangeError(`order must list all ${c} classes`);
  const seen = new Uint8Array(c);
  for (const k of order) {
    if (!Number.isInteger(k) || k < 0 || k >= c || seen[k])
      throw new RangeError('order must be a permutation of 0..C-1');
    seen[k] = 1;
  }
}
