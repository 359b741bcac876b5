// Shared pieces of ltkit's index samplers (SPEC §1.4): the sampler interface, per-epoch seeded RNGs and
// class-probability sampling with replacement.
// RNG: NumPy-legacy MT19937 (../longtail/numpy-random.ts). Unless a caller passes its own RNG, epoch e of a
// sampler with seed s draws from RandomState([s, e]) (init_by_array), so every epoch is a pure function of
// (seed, epoch) — reproducible regardless of call order, and different epochs differ.

import { RandomState, Rng } from '../longtail/numpy-random';
import { classIndexLists } from '../longtail/subset';

export type { Rng } from '../longtail/numpy-random';
export { RandomState } from '../longtail/numpy-random';

export interface IndexSampler {
  readonly name: string;
  /** Indices produced per epoch. */
  readonly length: number;
  /** The dataset indices for one epoch (order = visiting order). */
  epochIndices(epoch: number, rng?: Rng): Int32Array;
}

export function epochRng(seed: number, epoch: number): RandomState {
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  return new RandomState([seed >>> 0, epoch >>> 0]);
}

/** Per-class lists of dataset indices (ascending); C inferred from the labels when not given. */
export function classLists(targets: ArrayLike<number>, numClasses?: number): Int32Array[] {
  let C = numClasses ?? 0;
  if (numClasses === undefined) for (let i = 0; i < targets.length; i++) C = Math.max(C, targets[i] + 1);
  return classIndexLists(targets, C);
}

/** Normalized cumulative distribution (last entry exactly 1). */
export function cdfOf(probs: ArrayLike<number>): Float64Array {
  const cdf = new Float64Array(probs.length);
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (!(p >= 0) || !Number.isFinite(p)) throw new RangeError(`probabilities must be finite and >= 0, got ${p}`);
    acc += p;
    cdf[i] = acc;
  }
  if (!(acc > 0)) throw new RangeError('probabilities sum to 0');
  for (let i = 0; i < cdf.length; i++) cdf[i] /= acc;
  cdf[cdf.length - 1] = 1;
  return cdf;
}

/** First index i with cdf[i] > u (numpy searchsorted side='right'). */
export function searchCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] <= u) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, cdf.length - 1);
}

/**
 * Draw `n` indices with replacement: class c with probability probs[c] (normalized), then a uniform image of
 * that class. Equivalent to per-sample weights w_i = probs[y_i] / n_{y_i} (torch WeightedRandomSampler with
 * replacement), but O(log C) per draw.
 */
export function drawByClass(lists: Int32Array[], probs: ArrayLike<number>, n: number, rng: Rng): Int32Array {
  const p = Array.from(probs, (x, c) => (lists[c].length === 0 ? 0 : x));
  const cdf = cdfOf(p);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = searchCdf(cdf, rng.randomSample());
    const list = lists[c];
    out[i] = list[rng.interval(list.length - 1)];
  }
  return out;
}
