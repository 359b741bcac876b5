// File data sets for the streamed path: the large long-tailed benchmarks (ImageNet-LT, iNaturalist 2018,
// Places-LT — the user brings the images and the reference split lists) and a user's own images
// (`folder:<dir>`, `list:<file>`, `csv:<file>`). Only paths and labels are read here; images are decoded per
// batch by ./stream-loader.ts.
//
// Reference layouts (facebookresearch/classifier-balancing data/, zhmiao/OpenLongTailRecognition-OLTR, and
// YyzHarry/imbalanced-semi-self imagenet_inat/, which reuses them): one `relative/path label` per line,
//   ImageNet-LT  ImageNet_LT_{train,val,test}.txt   1000 classes, 115,846 / 20,000 / 50,000 images,
//                paths like train/n01440764/n01440764_10026.JPEG relative to the ImageNet folder;
//   iNat 2018    iNaturalist18_{train,val}.txt       8142 classes, 437,513 / 24,426; the reference reports on
//                val (there is no labelled test split), so val is the test split here;
//   Places-LT    Places_LT_{train,val,test}.txt      365 classes, 62,500 / 7,300 / 36,500, paths relative to
//                the Places365 folder (a leading '/' in the lists is ignored).
// The lists are looked up in data.root and in data.root/<ImageNet_LT|iNaturalist18|Places_LT> (the
// references' data/ folder names); listed paths are relative to data.root.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadListFile } from '../sources/list-file';
import { loadCsv } from '../sources/csv';
import { loadImageFolder } from '../sources/image-folder';
import type { FileImageSource } from '../sources/file-source';
import { IMAGENET_STATS } from '../catalog';
import { Rng } from '../../util/rng';
import { ConfigError } from '../../core/errors';
import type { BadImagePolicy, FileList } from './stream-loader';

export interface FileDatasetEntry {
  name: string;
  description: string;
  numClasses: number;
  /** The references' data/ sub-folder name (lists are also looked for there). */
  subdir: string;
  lists: { train: string; val: string | null; test: string };
  mean: readonly number[];
  std: readonly number[];
  /** ColorJitter(0.4, 0.4, 0.4, 0) in training (SPEC §1.4: ImageNet yes, iNaturalist no). */
  colorJitter: boolean;
}

/** iNaturalist 2018 statistics (classifier-balancing data/dataloader.py RGB_statistics['iNaturalist18']). */
export const INAT_STATS = { mean: [0.466, 0.471, 0.38], std: [0.195, 0.194, 0.192] } as const;

export const FILE_DATASETS: readonly FileDatasetEntry[] = [
  {
    name: 'imagenet-lt',
    description: 'ImageNet-LT (1000 classes, ρ=256): your ImageNet images + ImageNet_LT_{train,val,test}.txt',
    numClasses: 1000,
    subdir: 'ImageNet_LT',
    lists: { train: 'ImageNet_LT_train.txt', val: 'ImageNet_LT_val.txt', test: 'ImageNet_LT_test.txt' },
    ...IMAGENET_STATS,
    colorJitter: true,
  },
  {
    name: 'inat2018',
    description: 'iNaturalist 2018 (8142 classes): your images + iNaturalist18_{train,val}.txt (val = test)',
    numClasses: 8142,
    subdir: 'iNaturalist18',
    lists: { train: 'iNaturalist18_train.txt', val: null, test: 'iNaturalist18_val.txt' },
    ...INAT_STATS,
    colorJitter: false,
  },
  {
    name: 'places-lt',
    description: 'Places-LT (365 classes, ρ=996): your Places365 images + Places_LT_{train,val,test}.txt',
    numClasses: 365,
    subdir: 'Places_LT',
    lists: { train: 'Places_LT_train.txt', val: 'Places_LT_val.txt', test: 'Places_LT_test.txt' },
    ...IMAGENET_STATS,
    colorJitter: true,
  },
];

export const FILE_DATASET_NAMES: readonly string[] = FILE_DATASETS.map((e) => e.name);

/** Own-data forms of `data.dataset`. */
const OWN = /^(folder|list|csv):(.+)$/;

/** Whether `data.dataset` names a streamed file data set (a catalogue one or own data). */
export function isFileDataset(name: string): boolean {
  return FILE_DATASET_NAMES.includes(name) || OWN.test(name);
}

/** The streamed-data settings of the `data` config section. */
export interface StreamSettings {
  dataset: string;
  root?: string;
  /** Training crop (RandomResizedCrop) and test crop side (224). */
  cropSize: number;
  /** Side of the square working image the training crop is taken from (default round(crop·256/224)). */
  workSize?: number;
  /** Test Resize (shorter side) before the centre crop (default round(crop·256/224) = 256). */
  testResize?: number;
  colorJitter: 'auto' | boolean;
  badImages: BadImagePolicy;
  prefetch: number;
  subsetSeed: number;
  valPerClass: number;
  valFraction?: number;
  testFraction: number;
  /** Own data: the test images (folder:/list:/csv:), instead of a held-out part. */
  test?: string;
}

export interface StreamedSplits {
  train: FileList;
  val: FileList | null;
  test: FileList;
  numClasses: number;
  classNames: string[];
  mean: number[];
  std: number[];
  crop: number;
  workSize: number;
  testResize: number;
  colorJitter: boolean;
  badImages: BadImagePolicy;
  prefetch: number;
  /** Where each split came from (logged and recorded). */
  from: { train: string; val: string | null; test: string };
  /** Warnings for the run's log. */
  notes: string[];
}

const defaultResize = (crop: number) => Math.round((crop * 256) / 224);

/** Reads a streamed data set's splits (paths and labels only). */
export function loadStreamedSplits(d: StreamSettings): StreamedSplits {
  const crop = d.cropSize;
  const geometry = {
    crop,
    workSize: d.workSize ?? defaultResize(crop),
    testResize: d.testResize ?? defaultResize(crop),
    badImages: d.badImages,
    prefetch: d.prefetch,
  };
  if (geometry.workSize < crop)
    throw new ConfigError(`data.workSize (${geometry.workSize}) must be ≥ data.cropSize (${crop})`);
  if (geometry.testResize < crop)
    throw new ConfigError(`data.testResize (${geometry.testResize}) must be ≥ data.cropSize (${crop})`);
  const entry = FILE_DATASETS.find((e) => e.name === d.dataset);
  if (entry) {
    const root = d.root;
    if (!root) {
      throw new ConfigError(
        `data.root: data set '${entry.name}' needs data.root, the folder its images are under; the split lists ` +
          `(${listNames(entry)}) go there or in <data.root>/${entry.subdir}/`,
      );
    }
    const load = (name: string) => {
      const file = findList(entry, root, name);
      const src = loadListFile({ file, root, allowMissingClasses: true, checkFiles: false, pathsUnderRoot: true });
      if (src.numClasses > entry.numClasses) {
        throw new ConfigError(
          `${file}: label ${src.numClasses - 1} is out of range for ${entry.name} (${entry.numClasses} classes)`,
        );
      }
      checkFirstImage(src, file, root);
      return { list: asList(src), file, numClasses: src.numClasses };
    };
    const train = load(entry.lists.train);
    const test = load(entry.lists.test);
    const val = entry.lists.val ? load(entry.lists.val) : null;
    // A list with fewer classes (a debugging subset of the benchmark) trains that many classes, with a note.
    const C = Math.max(train.numClasses, test.numClasses, val?.numClasses ?? 0);
    const notes =
      C < entry.numClasses
        ? [`${train.file}: labels 0..${C - 1} only — training ${C} of ${entry.name}'s ${entry.numClasses} classes`]
        : [];
    return {
      ...geometry,
      train: train.list,
      val: val?.list ?? null,
      test: test.list,
      numClasses: C,
      classNames: Array.from({ length: C }, (_, i) => String(i)),
      notes,
      mean: [...entry.mean],
      std: [...entry.std],
      colorJitter: d.colorJitter === 'auto' ? entry.colorJitter : d.colorJitter,
      from: { train: train.file, val: val?.file ?? null, test: test.file },
    };
  }
  const own = loadOwn(d.dataset, d.root, 'data.dataset');
  const C = own.numClasses;
  let train = asList(own);
  let test: FileList;
  let testFrom: string;
  if (d.test) {
    const t = loadOwn(d.test, d.root, 'data.test');
    if (t.numClasses > C)
      throw new ConfigError(`data.test: ${d.test} has ${t.numClasses} classes, the training data ${C}`);
    if (
      own.classNames &&
      t.classNames &&
      t.classNames.join('\n') !== own.classNames.slice(0, t.numClasses).join('\n')
    ) {
      throw new ConfigError(`data.test: the class names of ${d.test} differ from those of ${d.dataset}`);
    }
    test = asList(t);
    testFrom = d.test;
  } else {
    const s = stratifiedSplit(train.targets, C, { fraction: d.testFraction }, new Rng(d.subsetSeed, 11));
    test = pick(train, s.held);
    train = pick(train, s.kept);
    testFrom = `${d.dataset} (stratified ${d.testFraction} per class, data.subsetSeed ${d.subsetSeed})`;
  }
  const valFraction = d.valFraction ?? (d.valPerClass > 0 ? 0 : 0.1);
  let val: FileList | null = null;
  if (d.valPerClass > 0 || valFraction > 0) {
    const s = stratifiedSplit(
      train.targets,
      C,
      d.valPerClass > 0 ? { perClass: d.valPerClass } : { fraction: valFraction },
      new Rng(d.subsetSeed, 7),
    );
    val = pick(train, s.held);
    train = pick(train, s.kept);
  }
  if (test.paths.length === 0) throw new ConfigError(`data.testFraction: no test images left out of ${d.dataset}`);
  return {
    ...geometry,
    train,
    val: val && val.paths.length > 0 ? val : null,
    test,
    numClasses: C,
    classNames: own.classNames ?? Array.from({ length: C }, (_, i) => String(i)),
    mean: [...IMAGENET_STATS.mean],
    std: [...IMAGENET_STATS.std],
    colorJitter: d.colorJitter === 'auto' ? true : d.colorJitter,
    from: { train: d.dataset, val: val ? `held out of ${d.dataset} (stratified)` : null, test: testFrom },
    notes: [],
  };
}

function listNames(e: FileDatasetEntry): string {
  return [e.lists.train, e.lists.val, e.lists.test].filter((x): x is string => x !== null).join(', ');
}

function findList(e: FileDatasetEntry, root: string, name: string): string {
  const places = [path.join(root, name), path.join(root, e.subdir, name)];
  const hit = places.find((p) => fs.existsSync(p));
  if (!hit) {
    throw new ConfigError(
      `data set '${e.name}': missing split list ${name}; expected at ${places.join(' or ')} ` +
        `(the reference lists of facebookresearch/classifier-balancing / OLTR: 'relative/path label' per line; ` +
        `needs ${listNames(e)})`,
    );
  }
  return hit;
}

/** A wrong data.root shows at once: the first listed image must exist. */
function checkFirstImage(src: FileImageSource, file: string, root: string): void {
  const first = src.paths[0];
  if (first !== undefined && !fs.existsSync(first)) {
    throw new ConfigError(
      `data.root: the first image of ${file}, ${first}, does not exist; data.root (${root}) must be the folder ` +
        `the listed paths are relative to`,
    );
  }
}

/** Own data: folder:<dir> (a class per sub-folder), list:<file> ('path label' lines), csv:<file> (path,label). */
function loadOwn(spec: string, root: string | undefined, key: string): FileImageSource {
  const m = OWN.exec(spec);
  if (!m) throw new ConfigError(`${key}: '${spec}' is not folder:<dir>, list:<file> or csv:<file>`);
  const [, kind, target] = m;
  const where = path.resolve(target);
  if (!fs.existsSync(where)) {
    const what = kind === 'folder' ? 'image folder (one sub-folder per class)' : `${kind} file`;
    throw new ConfigError(`${key}: ${spec}: the ${what} ${where} does not exist`);
  }
  if (kind === 'folder') return loadImageFolder({ root: where });
  if (kind === 'list') {
    const src = loadListFile({
      file: where,
      root: root ?? path.dirname(where),
      checkFiles: false,
      allowMissingClasses: true,
    });
    checkFirstImage(src, where, root ?? path.dirname(where));
    return src;
  }
  const src = loadCsv({ file: where, root: root ?? path.dirname(where), checkFiles: false, allowMissingClasses: true });
  checkFirstImage(src, where, root ?? path.dirname(where));
  return src;
}

function asList(src: FileImageSource): FileList {
  return { paths: [...src.paths], targets: src.targets };
}

function pick(l: FileList, idx: Int32Array): FileList {
  return { paths: Array.from(idx, (i) => l.paths[i]), targets: Int32Array.from(idx, (i) => l.targets[i]) };
}

/**
 * A stratified, seeded split: per class (ascending), its indices shuffled, the first k held out — k =
 * min(perClass, n_c − 1) or floor(fraction · n_c) capped at n_c − 1, so every class keeps a training image.
 * Indices stay in ascending order within each part.
 */
export function stratifiedSplit(
  targets: ArrayLike<number>,
  numClasses: number,
  how: { perClass?: number; fraction?: number },
  rng: Rng,
): { kept: Int32Array; held: Int32Array } {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < targets.length; i++) byClass[targets[i]].push(i);
  const held = new Uint8Array(targets.length);
  for (const list of byClass) {
    const n = list.length;
    const want = how.perClass !== undefined ? how.perClass : Math.floor((how.fraction ?? 0) * n);
    const k = Math.max(0, Math.min(want, n - 1));
    const p = rng.permutation(n);
    for (let j = 0; j < k; j++) held[list[p[j]]] = 1;
  }
  const kept: number[] = [];
  const out: number[] = [];
  held.forEach((h, i) => (h ? out : kept).push(i));
  return { kept: Int32Array.from(kept), held: Int32Array.from(out) };
}

/** sha256 of a split's paths and labels (the run's subset hash for streamed data). */
export function listHash(l: FileList): string {
  const h = createHash('sha256');
  l.paths.forEach((p, i) => h.update(`${p}\t${l.targets[i]}\n`));
  return h.digest('hex');
}
