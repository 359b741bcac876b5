// Builds the in-memory train / validation / test sets of a training config's `data` section (SPEC §1),
// for any data set of the catalogue (./catalog.ts): the long-tailed training subset (reference-compatible
// selection), an optional balanced validation split taken from the source's *unused* training images (so
// the LT set itself is untouched and the test set never selects models), and the standard balanced test set.
import { createHash } from 'crypto';
import { loadSource } from './sources';
import type { ImageSource } from './sources/types';
import { longTailCounts, selectLongTail, classIndexLists, SelectionMode } from './longtail';
import type { InMemoryDataset } from './loader';
import { catalogEntry } from './catalog';
import { Rng } from '../util/rng';

/** Images in memory: N×H×W×C uint8 and their labels. */
export type ImageSet = InMemoryDataset;

/** The generated data set for smoke tests and examples (not a catalogue entry: it has no files). */
export const SYNTHETIC = 'synthetic';

/** The `data` section of a training config (what this module reads). */
export interface DataSettings {
  dataset: string;
  root?: string;
  imbType: 'exp' | 'step';
  rho: number;
  imgMax?: number;
  subsetMode: SelectionMode;
  /** Picks the long-tailed subset and the validation images (the reference's `rand_number`, default 0). */
  subsetSeed: number;
  valPerClass: number;
  synthetic: { numClasses: number; imgMax: number; size: number; channels: number; testPerClass: number };
}

export interface TrainData {
  dataset: string;
  numClasses: number;
  classNames: string[];
  train: ImageSet;
  val: ImageSet | null;
  test: ImageSet;
  clsNumList: number[];
  /** Indices of the training subset in the source's train split, and their hash (for audits). */
  subset: { indices: Int32Array; hash: string };
  /** Indices of the validation images in the same split (disjoint from the subset), or null. */
  valIndices: Int32Array | null;
  /** Per-channel normalisation of this data set. */
  mean: number[];
  std: number[];
}

export function take(src: ImageSource, indices: ArrayLike<number>): ImageSet {
  const b = src.getBatch(indices);
  const targets = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) targets[i] = src.targets[indices[i]];
  return { images: b.data, shape: b.shape, targets };
}

/**
 * The data of a run. `d.subsetSeed` picks the long-tailed subset and the validation images (and generates
 * the synthetic set); the training seed does not, so several training seeds share one subset, as in the
 * reference code (`rand_number` vs `seed`).
 */
export function buildTrainData(d: DataSettings): TrainData {
  const seed = d.subsetSeed;
  if (d.dataset === SYNTHETIC) return syntheticData(d, seed);
  const meta = catalogEntry(d.dataset);
  const root = d.root ?? meta.defaultRoot;
  const trainSrc = loadSource(meta.source, { root, split: 'train' });
  const testSrc = loadSource(meta.source, { root, split: meta.testSplit });
  const C = trainSrc.numClasses;
  const order = [...meta.classOrder];
  const counts = longTailCounts({ numClasses: C, imgMax: d.imgMax ?? meta.imgMax, rho: d.rho, type: d.imbType, order });
  const sel = selectLongTail(trainSrc.targets, counts, { seed, mode: d.subsetMode, classOrder: order });
  checkTrainable(meta.name, sel.perClass, trainSrc.classNames, testSrc.length, d);
  const train = take(trainSrc, sel.indices);
  let val: ImageSet | null = null;
  let valIndices: Int32Array | null = null;
  if (d.valPerClass > 0) {
    const used = new Set(sel.indices);
    const rng = new Rng(seed, 7);
    const pick: number[] = [];
    for (const [c, list] of classIndexLists(trainSrc.targets, C).entries()) {
      const free = Array.from(list).filter((i) => !used.has(i));
      if (free.length < d.valPerClass) {
        throw new Error(`data.valPerClass=${d.valPerClass}: class ${c} has only ${free.length} unused training images`);
      }
      const p = rng.permutation(free.length);
      for (let k = 0; k < d.valPerClass; k++) pick.push(free[p[k]]);
    }
    val = take(trainSrc, pick);
    valIndices = Int32Array.from(pick);
  }
  const all = new Int32Array(testSrc.length).map((_, i) => i);
  return {
    dataset: meta.name,
    numClasses: C,
    classNames: trainSrc.classNames ?? Array.from({ length: C }, (_, i) => String(i)),
    train,
    val,
    test: take(testSrc, all),
    clsNumList: sel.perClass,
    subset: { indices: sel.indices, hash: sel.hash },
    valIndices,
    mean: [...meta.mean],
    std: [...meta.std],
  };
}

/**
 * Refuses data a run cannot learn from: an empty test set, or a class without a training image (CE would
 * train as if the class did not exist, LDAM/priors would divide by zero; the counts say why).
 */
function checkTrainable(
  name: string,
  perClass: number[],
  classNames: string[] | undefined,
  testSize: number,
  d: DataSettings,
): void {
  if (testSize === 0) throw new Error(`data set '${name}': the test split has no images`);
  const empty = perClass.map((n, c) => (n === 0 ? c : -1)).filter((c) => c >= 0);
  if (empty.length > 0) {
    const which = empty.map((c) => (classNames?.[c] ? `${c} (${classNames[c]})` : String(c))).join(', ');
    throw new Error(
      `data set '${name}': class${empty.length > 1 ? 'es' : ''} ${which} would get no training image ` +
        `(per-class counts ${perClass.join(', ')} for data.rho=${d.rho}, data.imbType=${d.imbType}` +
        `${d.imgMax !== undefined ? `, data.imgMax=${d.imgMax}` : ''}); lower data.rho or raise data.imgMax`,
    );
  }
}

/**
 * A small learnable synthetic set for smoke tests and examples: class c has its own colour (one
 * level per channel, spread over [30, 225]) plus pixel noise, so it survives crop/flip augmentation;
 * counts follow the long-tailed profile.
 */
function syntheticData(d: DataSettings, seed: number): TrainData {
  const s = d.synthetic;
  const C = s.numClasses;
  const H = s.size;
  const ch = s.channels;
  const rng = new Rng(seed, 99);
  // Class colours: evenly spaced levels, shuffled per channel, so classes differ in every channel.
  const levels = Array.from({ length: ch }, () => rng.permutation(C));
  const colour = (c: number, k: number) => 30 + (195 * levels[k][c]) / Math.max(1, C - 1);
  // At least 2 images per class, so tiny smoke-test sets keep every class.
  const counts = longTailCounts({ numClasses: C, imgMax: s.imgMax, rho: d.rho, type: d.imbType }).map((n) =>
    Math.max(2, n),
  );
  const make = (perClass: number[]): ImageSet => {
    const n = perClass.reduce((a, b) => a + b, 0);
    const images = new Uint8Array(n * H * H * ch);
    const targets = new Int32Array(n);
    let k = 0;
    perClass.forEach((m, c) => {
      for (let j = 0; j < m; j++, k++) {
        targets[k] = c;
        const base = k * H * H * ch;
        for (let p = 0; p < H * H * ch; p++) {
          images[base + p] = Math.max(0, Math.min(255, colour(c, p % ch) + 40 * rng.normal()));
        }
      }
    });
    return { images, shape: [n, H, H, ch], targets };
  };
  const train = make(counts);
  const indices = new Int32Array(train.targets.length).map((_, i) => i);
  return {
    dataset: 'synthetic',
    numClasses: C,
    classNames: Array.from({ length: C }, (_, i) => `class${i}`),
    train,
    val: d.valPerClass > 0 ? make(new Array(C).fill(d.valPerClass)) : null,
    test: make(new Array(C).fill(s.testPerClass)),
    clsNumList: counts,
    // The generated images are the subset: their hash tells two synthetic sets apart.
    subset: { indices, hash: createHash('sha256').update(train.images).digest('hex') },
    valIndices: null, // the synthetic validation images are generated apart from the training ones
    mean: new Array(ch).fill(0.5),
    std: new Array(ch).fill(0.25),
  };
}
