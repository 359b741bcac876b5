// Registry of dataset file-format loaders (ltkit SPEC §1.3): loadSource(name, {root, split}) picks the
// loader; each loader validates its files and throws DataFormatError naming the file and the problem.
import * as path from 'path';
import { CifarFormat, loadCifar10, loadCifar100 } from './cifar';
import { loadCsv } from './csv';
import { loadMnist } from './idx';
import { loadImageFolder } from './image-folder';
import { loadListFile } from './list-file';
import { loadSvhn } from './svhn';
import { loadTinyImageNet } from './tiny-imagenet';
import { ImageSource } from './types';

export * from './types';
export * from './pickle';
export * from './mat5';
export * from './dense-source';
export * from './file-source';
export * from './image-decode';
export * from './cifar';
export * from './svhn';
export * from './idx';
export * from './image-folder';
export * from './list-file';
export * from './csv';
export * from './tiny-imagenet';

export type SourceName =
  'cifar10' | 'cifar100' | 'svhn' | 'mnist' | 'fashion-mnist' | 'tiny-imagenet' | 'imagefolder' | 'list' | 'csv';
export type SourceSplit = 'train' | 'test' | 'extra' | 'val';

/** Splits each source accepts (for list/csv the split is given by the file; imagefolder reads root/<split>). */
export const SOURCE_SPLITS: Readonly<Record<SourceName, readonly SourceSplit[]>> = {
  cifar10: ['train', 'test'],
  cifar100: ['train', 'test'],
  svhn: ['train', 'test', 'extra'],
  mnist: ['train', 'test'],
  'fashion-mnist': ['train', 'test'],
  'tiny-imagenet': ['train', 'val'],
  imagefolder: ['train', 'val', 'test'],
  list: [],
  csv: [],
};

export interface LoadSourceOptions {
  /** Data folder (see each loader). `lt.data.load` fills in the catalogue's default (src/data/catalog.ts). */
  root?: string;
  /** Default 'train' where the source has splits. */
  split?: SourceSplit;
  /** list / csv: the index file. */
  file?: string;
  /** Expected class count (imagefolder, list, csv, tiny-imagenet). */
  numClasses?: number;
  allowMissingClasses?: boolean;
  classNames?: string[];
  /** list / csv / tiny-imagenet val: stat every image at load (default true). */
  checkFiles?: boolean;
  /** cifar10 / cifar100: 'python' or 'binary' (default: whichever is present, python first). */
  format?: CifarFormat;
  /** cifar100: 'fine' (default) or 'coarse'. */
  labels?: 'fine' | 'coarse';
  /** csv: header row present (default 'auto'). */
  header?: boolean | 'auto';
}

export const SOURCE_NAMES = Object.keys(SOURCE_SPLITS) as SourceName[];

/** Loads a labelled image set by name. Throws with the valid names/splits on a bad request. */
export function loadSource(name: string, opts: LoadSourceOptions = {}): ImageSource {
  if (!(SOURCE_NAMES as string[]).includes(name)) {
    throw new RangeError(`unknown data source '${name}'; valid names: ${SOURCE_NAMES.join(', ')}`);
  }
  const n = name as SourceName;
  const splits = SOURCE_SPLITS[n];
  if (opts.split !== undefined && splits.length > 0 && !splits.includes(opts.split)) {
    throw new RangeError(`data source '${n}' has no split '${opts.split}'; valid splits: ${splits.join(', ')}`);
  }
  if (opts.split !== undefined && splits.length === 0) {
    throw new RangeError(`data source '${n}' takes no split: pass the split's index file as 'file'`);
  }
  const root = opts.root;
  const needRoot = (): string => {
    if (root === undefined) throw new RangeError(`data source '${n}' needs option 'root'`);
    return root;
  };
  const needFile = (): string => {
    if (opts.file === undefined)
      throw new RangeError(`data source '${n}' needs option 'file' (the ${n === 'csv' ? 'CSV' : 'list'} file)`);
    return opts.file;
  };
  const split = opts.split ?? 'train';
  switch (n) {
    case 'cifar10':
      return loadCifar10({ root: needRoot(), split: split as 'train' | 'test', format: opts.format });
    case 'cifar100':
      return loadCifar100({
        root: needRoot(),
        split: split as 'train' | 'test',
        format: opts.format,
        labels: opts.labels,
      });
    case 'svhn':
      return loadSvhn({ root: needRoot(), split: split as 'train' | 'test' | 'extra' });
    case 'mnist':
    case 'fashion-mnist':
      return loadMnist({ root: needRoot(), split: split as 'train' | 'test', flavour: n });
    case 'tiny-imagenet':
      return loadTinyImageNet({
        root: needRoot(),
        split: split as 'train' | 'val',
        numClasses: opts.numClasses,
        checkFiles: opts.checkFiles,
      });
    case 'imagefolder':
      return loadImageFolder({
        root: opts.split ? path.join(needRoot(), opts.split) : needRoot(),
        numClasses: opts.numClasses,
      });
    case 'list':
    case 'csv': {
      const o = {
        file: needFile(),
        root,
        numClasses: opts.numClasses,
        allowMissingClasses: opts.allowMissingClasses,
        classNames: opts.classNames,
        checkFiles: opts.checkFiles,
      };
      return n === 'list' ? loadListFile(o) : loadCsv({ ...o, header: opts.header });
    }
  }
}
