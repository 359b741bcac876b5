// Unlabeled pools for S1 semi-supervised learning (SPEC §1.2).
// Source: Yang & Xu, "Rethinking the Value of Labels for Improving Class-Imbalanced Learning" (NeurIPS 2020),
// §3 and Fig. 2; reference counts/selection from YyzHarry/imbalanced-semi-self dataset/imbalance_cifar.py
// (SemiSupervisedImbalanceCIFAR10: U = unlabel_size_factor · |labeled|, per-class counts from
// get_img_num_per_cls_unlabeled, selection by per-class shuffle continuing the labeled np.random stream).
//
// DU@k×: U = k · |labeled| (paper k = 5), per-class counts with ratio ρU (unlabeledCounts), drawn from the
// held-out images of the same source (every source image not in the labeled subset, or `candidates`).
//
// Relevance mixing (paper Fig. 2; the authors never released this code, so this is ltkit's documented
// construction): with relevance r ∈ [0, 1],
//   U_rel = round(r · U) relevant images, per-class counts unlabeledCounts({total: U_rel, rhoU}) drawn as
//           above (same stream, same order as the reference);
//   U_out = U − U_rel out-of-task images drawn uniformly WITHOUT replacement from `outOfTask.ids`
//           (ids in another source / classes outside the task): rng.permutation(|ids|)[:U_out], continuing
//           the same stream after the relevant draws.
// The pool lists relevant items first, then out-of-task ones (training concatenates labeled ∪ pool and
// shuffles, as the reference does). True labels (`trueTargets`, −1 when unknown) are kept for
// pseudo-label evaluation only; training must use pseudo-labels.

import { RandomState } from './numpy-random';
import { unlabeledCounts } from './counts';
import { selectUnlabeled, indexHash, SelectionMode } from './subset';

export const POOL_RELEVANT = 0;
export const POOL_OUT_OF_TASK = 1;

export interface BuildPoolOptions {
  /** TRUE labels of the relevant source (used only to choose per-class counts). */
  targets: ArrayLike<number>;
  numClasses: number;
  /** Labeled subset (source indices) — excluded from the pool, and |labeled| sets U = k·|labeled|. */
  labeled: ArrayLike<number>;
  /** DU@k×; default 5. Ignored when `total` is given. */
  k?: number;
  /** Explicit U. */
  total?: number;
  /** Unlabeled imbalance ratio ρU (paper grid {1, ρ/2, ρ, 2ρ}); default 1. */
  rhoU?: number;
  /** Class order the ρU profile is applied in (and RNG processing order); default ascending. */
  classOrder?: number[];
  /** Relevant candidate source indices (default: all indices of `targets` not in `labeled`). */
  candidates?: ArrayLike<number>;
  /** Fraction r of relevant data; default 1. */
  relevance?: number;
  /** Out-of-task candidates; required when relevance < 1. */
  outOfTask?: { ids: ArrayLike<number>; targets?: ArrayLike<number> };
  /** Seed for a fresh stream (ignored when `rng` is given). */
  seed?: number;
  /** Continue a stream (e.g. the labeled selection's, as the reference does). */
  rng?: RandomState;
  mode?: SelectionMode;
}

export interface UnlabeledPool {
  /** Relevant: source indices; out-of-task: entries of outOfTask.ids. */
  indices: Int32Array;
  /** POOL_RELEVANT (0) or POOL_OUT_OF_TASK (1) per item. */
  source: Uint8Array;
  /** True labels for evaluation only (−1 where unknown). */
  trueTargets: Int32Array;
  /** Planned U and the split. */
  total: number;
  relevantTotal: number;
  outOfTaskTotal: number;
  /** Per-class relevant counts requested (label order) and obtained. */
  requestedPerClass: number[];
  relevantPerClass: number[];
  relevantHash: string;
  outOfTaskHash: string;
  rng: RandomState;
}

export function buildUnlabeledPool(opts: BuildPoolOptions): UnlabeledPool {
  const { targets, numClasses, labeled } = opts;
  const k = opts.k ?? 5;
  const total = opts.total ?? Math.floor(k * labeled.length);
  if (!Number.isInteger(total) || total < 0) throw new RangeError('pool total must be a non-negative integer');
  const r = opts.relevance ?? 1;
  if (!(r >= 0 && r <= 1)) throw new RangeError('relevance must be in [0, 1]');
  const rng = opts.rng ?? new RandomState(opts.seed ?? 0);
  const relTotal = Math.round(r * total);
  const outTotal = total - relTotal;

  const requested = unlabeledCounts({ total: relTotal, numClasses, rhoU: opts.rhoU ?? 1, order: opts.classOrder });
  const rel = selectUnlabeled(targets, requested, {
    rng,
    exclude: labeled,
    candidates: opts.candidates,
    classOrder: opts.classOrder,
    mode: opts.mode ?? 'reference',
  });

  let outIdx = new Int32Array(0);
  let outTargets: Int32Array | null = null;
  if (outTotal > 0) {
    const src = opts.outOfTask;
    if (!src) throw new Error('relevance < 1 needs outOfTask candidates');
    if (src.ids.length < outTotal) {
      throw new Error(`out-of-task source has ${src.ids.length} candidates, ${outTotal} needed`);
    }
    const perm = rng.permutation(src.ids.length);
    outIdx = new Int32Array(outTotal);
    outTargets = new Int32Array(outTotal).fill(-1);
    for (let i = 0; i < outTotal; i++) {
      outIdx[i] = src.ids[perm[i]];
      if (src.targets) outTargets[i] = src.targets[perm[i]];
    }
  }

  const n = rel.indices.length + outIdx.length;
  const indices = new Int32Array(n);
  indices.set(rel.indices, 0);
  indices.set(outIdx, rel.indices.length);
  const source = new Uint8Array(n);
  source.fill(POOL_OUT_OF_TASK, rel.indices.length);
  const trueTargets = new Int32Array(n);
  for (let i = 0; i < rel.indices.length; i++) trueTargets[i] = targets[rel.indices[i]];
  if (outTargets) trueTargets.set(outTargets, rel.indices.length);

  return {
    indices,
    source,
    trueTargets,
    total,
    relevantTotal: relTotal,
    outOfTaskTotal: outTotal,
    requestedPerClass: requested,
    relevantPerClass: rel.perClass,
    relevantHash: rel.hash,
    outOfTaskHash: indexHash(outIdx),
    rng,
  };
}
