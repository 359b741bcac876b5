// Tiny-ImageNet-200 (http://cs231n.stanford.edu/tiny-imagenet-200.zip): `wnids.txt` (one WordNet id per
// line), `train/<wnid>/images/*.JPEG`, `val/images/*.JPEG` with `val/val_annotations.txt`
// (`file<TAB>wnid<TAB>x0<TAB>y0<TAB>x1<TAB>y1`), optional `words.txt` (`wnid<TAB>names`). The test split has
// no labels. Class order = wnids sorted by name, matching ImageFolder on `train/` (the common convention).
import * as fs from 'fs';
import * as path from 'path';
import { checkFilesExist, FileImageSource } from './file-source';
import { isDir, isFile, readLines, sortNames } from './file-io';
import { IMAGE_EXTENSIONS } from './image-folder';
import { DataFormatError } from './types';

export interface TinyImageNetOptions {
  /** `tiny-imagenet-200` or the folder that holds it. */
  root: string;
  split?: 'train' | 'val';
  /** Expected class count (the official release has 200). */
  numClasses?: number;
  checkFiles?: boolean;
}

export interface TinyImageNetSource extends FileImageSource {
  /** Human-readable names from words.txt, per class, when present. */
  readonly words?: string[];
}

/** Loads the Tiny-ImageNet train or val split (64x64 RGB; grayscale JPEGs are expanded to RGB). */
export function loadTinyImageNet(opts: TinyImageNetOptions): TinyImageNetSource {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'val') {
    throw new RangeError(`Tiny-ImageNet split must be 'train' or 'val' (the test split has no labels), got '${split}'`);
  }
  const root = isFile(path.join(opts.root, 'wnids.txt')) ? opts.root : path.join(opts.root, 'tiny-imagenet-200');
  const wnidsFile = path.join(root, 'wnids.txt');
  const listed = readLines(wnidsFile);
  const wnids = sortNames([...new Set(listed)]);
  if (wnids.length !== listed.length) throw new DataFormatError(wnidsFile, 'duplicate wnids');
  if (opts.numClasses !== undefined && wnids.length !== opts.numClasses) {
    throw new DataFormatError(wnidsFile, `class count mismatch: ${wnids.length} wnids, expected ${opts.numClasses}`);
  }
  const index = new Map(wnids.map((w, k) => [w, k]));
  const paths: string[] = [];
  const targets: number[] = [];
  if (split === 'train') {
    for (const w of wnids) {
      const dir = path.join(root, 'train', w, 'images');
      if (!isDir(dir)) throw new DataFormatError(dir, `missing folder for class ${w}`);
      const files = sortNames(
        fs
          .readdirSync(dir)
          .filter((f) => !f.startsWith('.') && IMAGE_EXTENSIONS.includes(path.extname(f).toLowerCase())),
      );
      if (files.length === 0) throw new DataFormatError(dir, `no images for class ${w}`);
      for (const f of files) {
        paths.push(path.join(dir, f));
        targets.push(index.get(w) as number);
      }
    }
  } else {
    const ann = path.join(root, 'val', 'val_annotations.txt');
    const lines: number[] = [];
    readLines(ann).forEach((l, i) => {
      const [f, w] = l.split('\t');
      if (!f || !w) throw new DataFormatError(ann, `entry ${i + 1}: expected 'file<TAB>wnid...', got '${l}'`);
      const k = index.get(w);
      if (k === undefined)
        throw new DataFormatError(ann, `entry ${i + 1}: label out of range: wnid ${w} is not in wnids.txt`);
      paths.push(path.join(root, 'val', 'images', f));
      targets.push(k);
      lines.push(i + 1);
    });
    if (paths.length === 0) throw new DataFormatError(ann, 'no entries');
    if (opts.checkFiles ?? true) checkFilesExist(ann, paths, (i) => `entry ${lines[i]}`);
  }
  let words: string[] | undefined;
  const wordsFile = path.join(root, 'words.txt');
  if (isFile(wordsFile)) {
    const map = new Map<string, string>();
    for (const l of readLines(wordsFile)) {
      const t = l.indexOf('\t');
      if (t > 0) map.set(l.slice(0, t), l.slice(t + 1));
    }
    words = wnids.map((w) => map.get(w) ?? w);
  }
  const src = new FileImageSource({
    name: `tiny-imagenet-${split}`,
    file: split === 'train' ? wnidsFile : path.join(root, 'val', 'val_annotations.txt'),
    paths,
    targets: Int32Array.from(targets),
    numClasses: wnids.length,
    classNames: wnids,
    imageSize: [64, 64, 3],
  });
  return Object.assign(src, { words });
}
