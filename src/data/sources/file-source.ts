// Lazily decoded image set backed by JPEG/PNG files (image folders, list files, CSV, Tiny-ImageNet).
// Images are decoded on access (see image-decode.ts); labels and paths are validated at load time.
import * as fs from 'fs';
import { readImageFile } from './image-decode';
import { checkIndex, checkLabels, checkTargets, DataFormatError, ImageSource, RawImage, RawImages } from './types';

export interface FileSourceInit {
  name: string;
  /** The index file or root folder, named in label errors. */
  file: string;
  /** Absolute (or cwd-relative) path per image. */
  paths: string[];
  targets: Int32Array;
  numClasses: number;
  classNames?: string[];
  /** Declare when every image is known to have this H,W,C (e.g. Tiny-ImageNet 64x64x3). */
  imageSize?: [number, number, number];
}

export class FileImageSource implements ImageSource {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly targets: Int32Array;
  readonly classNames?: string[];
  readonly imageSize?: [number, number, number];
  readonly paths: readonly string[];

  constructor(init: FileSourceInit) {
    if (init.paths.length !== init.targets.length) {
      throw new DataFormatError(init.file, `${init.paths.length} paths but ${init.targets.length} labels`);
    }
    checkLabels(init.file, init.targets, init.numClasses, init.classNames);
    this.name = init.name;
    this.length = init.paths.length;
    this.numClasses = init.numClasses;
    this.targets = init.targets;
    this.classNames = init.classNames;
    this.imageSize = init.imageSize;
    this.paths = init.paths;
  }

  getImage(i: number): RawImage {
    checkIndex(this.name, i, this.length);
    return readImageFile(this.paths[i]);
  }

  getBatch(indices: ArrayLike<number>): RawImages {
    const imgs: RawImage[] = [];
    let ref: [number, number, number] | undefined = this.imageSize;
    let refWhat = ref ? `the declared size of ${this.name}` : '';
    for (let k = 0; k < indices.length; k++) {
      const im = this.getImage(indices[k]);
      if (!ref) {
        ref = [im.height, im.width, im.channels];
        refWhat = this.paths[indices[k]];
      } else if (im.height !== ref[0] || im.width !== ref[1] || im.channels !== ref[2]) {
        throw new DataFormatError(
          this.paths[indices[k]],
          `image size ${im.height}x${im.width}x${im.channels} (index ${indices[k]}) differs from ${ref.join('x')} of ${refWhat}; resize before batching`,
        );
      }
      imgs.push(im);
    }
    const [h, w, c] = ref ?? [0, 0, 3];
    const per = h * w * c;
    const data = new Uint8Array(indices.length * per);
    imgs.forEach((im, k) => data.set(im.data, k * per));
    return { data, shape: [indices.length, h, w, c] };
  }
}

export interface ClassCountOptions {
  /** The number of classes the caller expects; labels must lie below it. */
  numClasses?: number;
  /** With numClasses stated, allow classes that have no image (default false). */
  allowMissingClasses?: boolean;
}

/** Number of classes for integer labels: the stated count (checked) or max label + 1. */
export function resolveClassCount(file: string, targets: Int32Array, opts: ClassCountOptions): number {
  let max = -1;
  const seen = new Set<number>();
  for (let i = 0; i < targets.length; i++) {
    if (targets[i] < 0) throw new DataFormatError(file, `label out of range at entry ${i}: ${targets[i]} is negative`);
    max = Math.max(max, targets[i]);
    seen.add(targets[i]);
  }
  if (opts.numClasses === undefined) return max + 1;
  checkTargets(file, targets, opts.numClasses);
  if (!opts.allowMissingClasses && seen.size !== opts.numClasses) {
    throw new DataFormatError(
      file,
      `class count mismatch: labels cover ${seen.size} classes, expected ${opts.numClasses}`,
    );
  }
  return opts.numClasses;
}

/** Throws naming the first path that is not an existing file. */
export function checkFilesExist(file: string, paths: string[], where: (i: number) => string): void {
  for (let i = 0; i < paths.length; i++) {
    let ok = false;
    try {
      ok = fs.statSync(paths[i]).isFile();
    } catch {
      ok = false;
    }
    if (!ok) throw new DataFormatError(file, `${where(i)}: image file missing: ${paths[i]}`);
  }
}
