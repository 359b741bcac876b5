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
import { catalogPool, generatedPool, RunPool, UnlabeledSettings } from './pool';
import { keptIndices, keptPerClass, readPseudoLabels } from './pseudo-labels';
import { Rng } from '../util/rng';
import { ConfigError } from '../core/errors';
import { isFileDataset, listHash, loadStreamedSplits, StreamedSplits, StreamSettings } from './stream/file-data';

/** Images in memory: N×H×W×C uint8 and their labels. */
export type ImageSet = InMemoryDataset;

/** The generated data set for smoke tests and examples (not a catalogue entry: it has no files). */
export const SYNTHETIC = 'synthetic';

/** The `data` section of a training config (what this module reads). */
export interface DataSettings extends Partial<Omit<StreamSettings, 'dataset' | 'root' | 'subsetSeed' | 'valPerClass'>> {
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
  /** The unlabeled pool (semi-supervised training); absent: none. */
  unlabeled?: UnlabeledSettings;
}

/** Pseudo-labels a run trains with (S1 §3): their file and what the threshold kept. */
export interface PseudoLabelUse {
  file: string;
  sha256: string;
  threshold: number;
  kept: number;
  perClass: number[];
  /** 'concat': joined to the training set; 'stream': a second, weighted stream. */
  use: 'concat' | 'stream';
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
  /** The run's unlabeled pool (data.unlabeled), or null. */
  pool: RunPool | null;
  /** The pseudo-labeled pool images of a 'stream' run (labels = pseudo-labels), else null. */
  pseudoStream: ImageSet | null;
  /** The pseudo-labels in use, or null. */
  pseudo: PseudoLabelUse | null;
  /** The labeled subset's own per-class counts (clsNumList also counts pseudo-labels). */
  labeledCounts: number[];
  /**
   * Streamed file data (ImageNet-LT, iNat, Places-LT, own folders/lists/CSV): the splits' paths and labels and
   * how to decode them. Then `train`/`val`/`test` hold labels only (no pixels: `images` is empty, `shape` is
   * [n, crop, crop, 3]); batches come from src/data/stream's StreamLoader.
   */
  files?: StreamedSplits;
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
  if (isFileDataset(d.dataset)) return streamedData(d);
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
  let pool: RunPool | null = null;
  if (d.unlabeled) {
    if (!meta.pool && !d.unlabeled.images) {
      throw new ConfigError(
        `data.unlabeled: data set '${meta.name}' has no unlabeled pool; give data.unlabeled.images`,
      );
    }
    const spec = meta.pool;
    const shared = spec?.split === 'train';
    const poolSrc = !spec || shared ? trainSrc : loadSource(meta.source, { root, split: spec.split });
    // Sharing the labeled split, the pool skips the subset (and the validation images).
    const exclude = !shared ? null : valIndices ? Int32Array.from([...sel.indices, ...valIndices]) : sel.indices;
    pool = catalogPool(d.unlabeled, {
      source: poolSrc,
      from: `${meta.name} ${spec?.split ?? 'train'}${shared ? ' (unused by the subset)' : ''}`,
      numClasses: C,
      classOrder: order,
      labeled: sel.indices,
      exclude,
      rng: sel.rng,
      imageShape: train.shape.slice(1),
    });
  }
  const all = new Int32Array(testSrc.length).map((_, i) => i);
  return withPseudoLabels(d, {
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
    pool,
    pseudoStream: null,
    pseudo: null,
    labeledCounts: sel.perClass,
  });
}

/**
 * A streamed file data set: its splits' paths and labels (no pixels in memory). The training set is the whole
 * train list (the benchmarks' lists are long-tailed already; own data is what it is): data.rho / imbType /
 * imgMax do not apply.
 */
function streamedData(d: DataSettings): TrainData {
  if (d.unlabeled)
    throw new ConfigError(`data.unlabeled: not supported for streamed file data sets ('${d.dataset}') yet`);
  const f = loadStreamedSplits({
    dataset: d.dataset,
    root: d.root,
    cropSize: d.cropSize ?? 224,
    workSize: d.workSize,
    testResize: d.testResize,
    colorJitter: d.colorJitter ?? 'auto',
    badImages: d.badImages ?? 'skip',
    prefetch: d.prefetch ?? 2,
    subsetSeed: d.subsetSeed,
    valPerClass: d.valPerClass,
    valFraction: d.valFraction,
    testFraction: d.testFraction ?? 0.2,
    test: d.test,
  });
  const C = f.numClasses;
  const labelsOnly = (targets: Int32Array): ImageSet => ({
    images: new Uint8Array(0),
    shape: [targets.length, f.crop, f.crop, 3],
    targets,
  });
  const counts = new Array<number>(C).fill(0);
  for (const t of f.train.targets) counts[t]++;
  checkTrainable(d.dataset, counts, f.classNames, f.test.paths.length, d);
  const indices = new Int32Array(f.train.targets.length).map((_, i) => i);
  return {
    dataset: d.dataset,
    numClasses: C,
    classNames: f.classNames,
    train: labelsOnly(f.train.targets),
    val: f.val ? labelsOnly(f.val.targets) : null,
    test: labelsOnly(f.test.targets),
    clsNumList: counts,
    subset: { indices, hash: listHash(f.train) },
    valIndices: null,
    mean: f.mean,
    std: f.std,
    pool: null,
    pseudoStream: null,
    pseudo: null,
    labeledCounts: counts,
    files: f,
  };
}

/** The images of an in-memory set at `indices`, labelled by `labels[index]`. */
function subsetOf(set: ImageSet, indices: Int32Array, labels: ArrayLike<number>): ImageSet {
  const per = set.shape.slice(1).reduce((a, b) => a * b, 1);
  const images = new Uint8Array(indices.length * per);
  const targets = new Int32Array(indices.length);
  indices.forEach((i, k) => {
    images.set(set.images.subarray(i * per, (i + 1) * per), k * per);
    targets[k] = labels[i];
  });
  return { images, shape: [indices.length, set.shape[1], set.shape[2], set.shape[3]], targets };
}

/**
 * Applies `data.unlabeled.pseudoLabels` (S1 §3, SPEC §4): the kept pseudo-labeled pool images join the
 * training set ('concat', the reference: one shuffled set, ω = 1) or become a second stream ('stream'); either
 * way the class counts that LDAM margins, DRW/CB weights, MFW and the samplers read include them.
 */
function withPseudoLabels(d: DataSettings, data: TrainData): TrainData {
  const u = d.unlabeled;
  if (!u?.pseudoLabels || !data.pool) return data;
  const { file, sha256, labels: pl } = readPseudoLabels(u.pseudoLabels);
  const key = 'data.unlabeled.pseudoLabels';
  if (pl.poolHash !== data.pool.manifest.hash) {
    throw new ConfigError(
      `${key}: ${file} labels pool ${pl.poolHash.slice(0, 12)}…, this run's data.unlabeled gives pool ` +
        `${data.pool.manifest.hash.slice(0, 12)}… (another data set, subset or data.unlabeled setting); ` +
        `use the same data and data.unlabeled settings as the run that made them`,
    );
  }
  if (pl.numClasses !== data.numClasses || pl.labels.length !== data.pool.images.targets.length) {
    throw new ConfigError(
      `${key}: ${file} does not match this run's pool (${pl.labels.length} labels, ${pl.numClasses} classes)`,
    );
  }
  const kept = keptIndices(pl);
  if (kept.length === 0) {
    throw new ConfigError(
      `${key}: ${file} keeps none of its ${pl.labels.length} pseudo-labels at threshold ${pl.threshold}; ` +
        `make them again with a lower --threshold`,
    );
  }
  const perClass = keptPerClass(pl.labels, kept, data.numClasses);
  const pseudoSet = subsetOf(data.pool.images, kept, pl.labels);
  const clsNumList = data.labeledCounts.map((n, c) => n + perClass[c]);
  const pseudo: PseudoLabelUse = { file, sha256, threshold: pl.threshold, kept: kept.length, perClass, use: u.use };
  if (u.use === 'stream') return { ...data, clsNumList, pseudoStream: pseudoSet, pseudo };
  const per = data.train.shape.slice(1).reduce((a, b) => a * b, 1);
  const n = data.train.targets.length + kept.length;
  const images = new Uint8Array(n * per);
  images.set(data.train.images, 0);
  images.set(pseudoSet.images, data.train.targets.length * per);
  const targets = new Int32Array(n);
  targets.set(data.train.targets, 0);
  targets.set(pseudoSet.targets, data.train.targets.length);
  const [, h, w, c] = data.train.shape;
  const train: ImageSet = { images, shape: [n, h, w, c], targets };
  return { ...data, train, clsNumList, pseudo };
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
  let pool: RunPool | null = null;
  if (d.unlabeled) {
    if (d.unlabeled.relevance < 1 || d.unlabeled.images) {
      throw new ConfigError('data.unlabeled: the synthetic data set takes only k and rhoU (relevance 1, no images)');
    }
    pool = generatedPool(d.unlabeled, { labeledSize: train.targets.length, numClasses: C, make, from: 'synthetic' });
  }
  return withPseudoLabels(d, {
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
    pool,
    pseudoStream: null,
    pseudo: null,
    labeledCounts: counts,
  });
}
