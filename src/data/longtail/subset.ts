// Seeded long-tailed subset selection (SPEC §1.1, §1.2).
// Source: YyzHarry/imbalanced-semi-self, dataset/imbalance_cifar.py (ImbalanceCIFAR10.gen_imbalanced_data,
// SemiSupervisedImbalanceCIFAR10.gen_imbalanced_data) and dataset/imbalance_svhn.py:
//     np.random.seed(rand_number)
//     for the_class, n in zip(classes, img_num_per_cls):         # classes ascending (SVHN: 1..9,0)
//         idx = np.where(targets == the_class)[0]; np.random.shuffle(idx); take idx[:n]
//     # semi-supervised: the SAME stream continues for the unlabeled pool
//     for the_class, n in zip(classes, img_num_per_cls_unlabeled):
//         idx = np.where(pool_truth == the_class)[0]; np.random.shuffle(idx); take idx[:n]
// `mode: 'reference'` reproduces these draws image for image (NumPy legacy MT19937, see numpy-random.ts),
// including the reference's silent truncation when a class holds fewer images than requested, and the
// class processing order (`classOrder`, default ascending; SVHN-LT uses 1..9,0).
// `mode: 'ltkit'` uses the very same algorithm and RNG stream (so subsets are identical for the same seed
// and class order) but is strict: it throws when a class has fewer images than requested instead of
// silently returning a smaller subset.
// `hash` = sha256 hex of the ASCII string of the ascending-sorted indices joined by ',' (e.g. "0,5,17"),
// reproducible in Python with hashlib.sha256(','.join(map(str, sorted(idx))).encode()).hexdigest().

import { createHash } from 'crypto';
import { RandomState } from './numpy-random';

export type SelectionMode = 'reference' | 'ltkit';

export interface SelectOptions {
  /** np.random.seed(seed); ignored when `rng` is given. */
  seed?: number;
  /** Continue an existing stream (e.g. the labeled selection's) instead of seeding a new one. */
  rng?: RandomState;
  mode?: SelectionMode;
  /** Class processing order (affects the RNG stream). Default ascending labels. */
  classOrder?: number[];
}

export interface Selection {
  /** Selected source indices, in selection order (class by class in classOrder, shuffled within class). */
  indices: Int32Array;
  /** Selected images per class, label order. */
  perClass: number[];
  /** sha256 hex of the sorted index list (see header). */
  hash: string;
  /** The stream after the selection (continue it for the unlabeled pool, as the reference does). */
  rng: RandomState;
}

/** sha256 hex over ascending-sorted indices joined by ','. */
export function indexHash(indices: ArrayLike<number>): string {
  const sorted = Array.from(indices).sort((a, b) => a - b);
  return createHash('sha256').update(sorted.join(','), 'ascii').digest('hex');
}

/** Indices i (ascending) with targets[i] === c for each class c — `np.where(targets == c)[0]`. */
export function classIndexLists(targets: ArrayLike<number>, numClasses: number): Int32Array[] {
  const sizes = new Int32Array(numClasses);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t >= 0 && t < numClasses) sizes[t]++;
  }
  const lists = Array.from(sizes, (s) => new Int32Array(s));
  const fill = new Int32Array(numClasses);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (t >= 0 && t < numClasses) lists[t][fill[t]++] = i;
  }
  return lists;
}

function runSelection(
  targets: ArrayLike<number>,
  counts: number[],
  positions: ArrayLike<number> | null,
  opts: SelectOptions,
): Selection {
  const mode = opts.mode ?? 'reference';
  const numClasses = counts.length;
  const rng = opts.rng ?? new RandomState(opts.seed ?? 0);
  const order = opts.classOrder ?? Array.from({ length: numClasses }, (_, i) => i);
  if (order.length !== numClasses) throw new RangeError('classOrder must list every class once');
  const lists = classIndexLists(targets, numClasses);
  const perClass = new Array<number>(numClasses).fill(0);
  const chunks: Int32Array[] = [];
  let total = 0;
  for (const c of order) {
    const want = counts[c];
    if (!Number.isInteger(want) || want < 0)
      throw new RangeError(`count for class ${c} must be a non-negative integer`);
    const idx = lists[c];
    if (mode === 'ltkit' && idx.length < want) {
      throw new Error(`class ${c} has ${idx.length} images, ${want} requested`);
    }
    rng.shuffle(idx);
    const take = idx.slice(0, Math.min(want, idx.length));
    if (positions) for (let k = 0; k < take.length; k++) take[k] = positions[take[k]];
    chunks.push(take);
    perClass[c] = take.length;
    total += take.length;
  }
  const indices = new Int32Array(total);
  let off = 0;
  for (const ch of chunks) {
    indices.set(ch, off);
    off += ch.length;
  }
  return { indices, perClass, hash: indexHash(indices), rng };
}

/**
 * Long-tailed labeled subset: per class (in `classOrder`), shuffle that class's indices with the seeded
 * legacy NumPy stream and keep the first counts[c].
 */
export function selectLongTail(targets: ArrayLike<number>, counts: number[], opts: SelectOptions = {}): Selection {
  return runSelection(targets, counts, null, opts);
}

export interface SelectUnlabeledOptions extends SelectOptions {
  /** Labeled subset to exclude (source indices). */
  exclude?: ArrayLike<number>;
  /**
   * Candidate source indices (ascending recommended). Default: every index of `targets` not in `exclude`,
   * ascending. `exclude` is removed from the candidates either way. The per-class candidate list is `np.where(targets[candidates] == c)[0]`, mapped back.
   */
  candidates?: ArrayLike<number>;
}

/**
 * Unlabeled pool from held-out images of the same source, continuing `opts.rng` (the labeled selection's
 * stream) when given — the reference's semi-supervised datasets do exactly that with their external pool.
 * `targets` are the TRUE labels, used only to pick per-class counts.
 */
export function selectUnlabeled(
  targets: ArrayLike<number>,
  counts: number[],
  opts: SelectUnlabeledOptions = {},
): Selection {
  const excluded = new Uint8Array(targets.length);
  if (opts.exclude) for (let i = 0; i < opts.exclude.length; i++) excluded[opts.exclude[i]] = 1;
  const cand: number[] = [];
  if (opts.candidates) {
    for (let i = 0; i < opts.candidates.length; i++) if (!excluded[opts.candidates[i]]) cand.push(opts.candidates[i]);
  } else {
    for (let i = 0; i < targets.length; i++) if (!excluded[i]) cand.push(i);
  }
  const candidates = Int32Array.from(cand);
  const sub = new Int32Array(candidates.length);
  for (let i = 0; i < candidates.length; i++) sub[i] = targets[candidates[i]];
  return runSelection(sub, counts, candidates, opts);
}

/** JSON-serializable record of a subset, saved with a run (SPEC §1.1: "save the chosen indices"). */
export interface SubsetManifest {
  version: 1;
  seed: number | null;
  mode: SelectionMode;
  classOrder: number[] | null;
  counts: number[];
  perClass: number[];
  total: number;
  /** indexHash(indices). */
  hash: string;
  /** Selected source indices in selection order. */
  indices: number[];
}

export function subsetManifest(
  sel: Pick<Selection, 'indices' | 'perClass' | 'hash'>,
  meta: { seed?: number; mode?: SelectionMode; classOrder?: number[]; counts: number[] },
): SubsetManifest {
  return {
    version: 1,
    seed: meta.seed ?? null,
    mode: meta.mode ?? 'reference',
    classOrder: meta.classOrder ?? null,
    counts: meta.counts.slice(),
    perClass: sel.perClass.slice(),
    total: sel.indices.length,
    hash: sel.hash,
    indices: Array.from(sel.indices),
  };
}

/** Checks a loaded manifest (hash, totals, per-class counts against `targets` when given). */
export function verifyManifest(m: SubsetManifest, targets?: ArrayLike<number>): string[] {
  const errs: string[] = [];
  if (m.version !== 1) errs.push(`unknown manifest version ${String(m.version)}`);
  if (m.indices.length !== m.total) errs.push(`total ${m.total} != ${m.indices.length} indices`);
  if (indexHash(m.indices) !== m.hash) errs.push('hash mismatch');
  if (new Set(m.indices).size !== m.indices.length) errs.push('duplicate indices');
  if (targets) {
    const per = new Array<number>(m.perClass.length).fill(0);
    for (const i of m.indices) {
      if (!(i >= 0 && i < targets.length)) {
        errs.push(`index ${i} out of range`);
        break;
      }
      per[targets[i]]++;
    }
    if (per.some((n, c) => n !== m.perClass[c])) errs.push('per-class counts do not match targets');
  }
  return errs;
}
