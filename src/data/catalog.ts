// The dataset catalogue: every fact ltkit knows about a long-tailed data set, in one table — which
// file-format source it reads, where its files are by default, the reference protocol's img_max and class
// order (SPEC §1.1, §1.3), the per-channel normalisation of its pipelines (SPEC §1.4), and where its
// relevant unlabeled pool comes from (SPEC §1.2). The trainer, `ltkit data inspect`, `ltkit list datasets`,
// the transform presets and `fmnistLT()` all read this table; nothing else holds these numbers.
import type { SourceName, SourceSplit } from './sources';
import { longTailCounts, naturalOrder, SVHN_LT_ORDER, ImbalanceType } from './longtail/counts';

/** Where a data set's relevant unlabeled pool comes from (SPEC §1.2). */
export interface PoolSpec {
  /** The source split the pool is drawn from. */
  split: SourceSplit;
  /** Only the images the labeled subset left unused (when the pool shares the labeled split). */
  unusedOnly: boolean;
  note: string;
}

export interface CatalogEntry {
  /** The `data.dataset` value. */
  name: string;
  /** Other names accepted by `ltkit data inspect` (the source's own name, short forms). */
  aliases: readonly string[];
  description: string;
  /** The file-format loader (src/data/sources). */
  source: SourceName;
  /** Folder of the files when `data.root` is not set (none: the user must say where). */
  defaultRoot?: string;
  numClasses: number;
  /** Images of the largest class in the reference protocol. */
  imgMax: number;
  /** Class order the long-tail profile is applied in (default natural order). */
  classOrder: readonly number[];
  mean: readonly number[];
  std: readonly number[];
  testSplit: SourceSplit;
  pool: PoolSpec | null;
}

/** ImageNet statistics (torchvision), the normalisation of the large-image pipelines (SPEC §1.4). */
export const IMAGENET_STATS = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

/**
 * The CIFAR-10 statistics, the normalisation of CIFAR-10-LT and CIFAR-100-LT alike: both reference scripts
 * normalise CIFAR-100 with them (kaidic/LDAM-DRW cifar_train.py has one transform for both;
 * YyzHarry/imbalanced-semi-self uses them for every 'cifar*' data set).
 */
const CIFAR_STATS = { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] } as const;

const HELD_OUT: PoolSpec = {
  split: 'train',
  unusedOnly: true,
  note: 'training images the long-tailed subset left unused',
};

export const CATALOG: readonly CatalogEntry[] = [
  {
    name: 'fmnist-lt',
    aliases: ['fmnist', 'fashion-mnist'],
    description: 'Fashion-MNIST-LT: img_max 1000, natural order, Debian dataset-fashion-mnist (embedded default)',
    source: 'fashion-mnist',
    defaultRoot: '/usr/share/datasets/fashion-mnist',
    numClasses: 10,
    // FMNIST-LT = the SVHN-LT recipe (img_max 1000) in natural class order (SPEC §1.3).
    imgMax: 1000,
    classOrder: naturalOrder(10),
    // Fashion-MNIST statistics of the full training set.
    mean: [0.286],
    std: [0.353],
    testSplit: 'test',
    pool: HELD_OUT,
  },
  {
    name: 'cifar10-lt',
    aliases: ['cifar10'],
    description: 'CIFAR-10-LT: img_max 5000 (needs cifar-10-batches-py under data.root)',
    source: 'cifar10',
    numClasses: 10,
    imgMax: 5000,
    classOrder: naturalOrder(10),
    ...CIFAR_STATS,
    testSplit: 'test',
    // The reference draws from a 500k TinyImages selection that is not public; held-out CIFAR images
    // are the documented substitute (SPEC §1.2 "images held out of the labeled subset").
    pool: HELD_OUT,
  },
  {
    name: 'cifar100-lt',
    aliases: ['cifar100'],
    description: 'CIFAR-100-LT: img_max 500 (needs cifar-100-python under data.root)',
    source: 'cifar100',
    numClasses: 100,
    imgMax: 500,
    classOrder: naturalOrder(100),
    ...CIFAR_STATS,
    testSplit: 'test',
    pool: HELD_OUT,
  },
  {
    name: 'svhn-lt',
    aliases: ['svhn'],
    description: 'SVHN-LT: img_max 1000, class order 1..9,0 (needs the .mat files under data.root)',
    source: 'svhn',
    numClasses: 10,
    // imbalance_svhn.py hard-codes img_max = 1000 and rotates the classes so digit 0 is the tail.
    imgMax: 1000,
    classOrder: SVHN_LT_ORDER,
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
    testSplit: 'test',
    pool: { split: 'extra', unusedOnly: false, note: "SVHN's extra split (531,131 images), as the reference" },
  },
];

/** The catalogue's data set names (the values `data.dataset` takes, with 'synthetic'). */
export const CATALOG_NAMES: readonly string[] = CATALOG.map((e) => e.name);

/** The entry named `name` (or one of its aliases); throws listing the known names. */
export function catalogEntry(name: string): CatalogEntry {
  const e = CATALOG.find((x) => x.name === name || x.aliases.includes(name));
  if (!e) {
    const known = CATALOG.flatMap((x) => [x.name, ...x.aliases]);
    throw new RangeError(`unknown data set '${name}' (known: ${known.join(', ')})`);
  }
  return e;
}

/** Per-class training counts (label order) of a catalogue data set's long-tailed subset. */
export function catalogCounts(name: string, rho: number, type: ImbalanceType = 'exp', imgMax?: number): number[] {
  const e = catalogEntry(name);
  return longTailCounts({
    numClasses: e.numClasses,
    imgMax: imgMax ?? e.imgMax,
    rho,
    type,
    order: [...e.classOrder],
  });
}

/** The default folder of a source's files, when the catalogue knows one. */
export function defaultRoot(source: string): string | undefined {
  return CATALOG.find((e) => e.source === source && e.defaultRoot !== undefined)?.defaultRoot;
}
