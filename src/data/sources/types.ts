// Common types for dataset file-format loaders (ltkit SPEC §1.3). Images are uint8, HWC per image,
// NHWC for batches. Loaders validate eagerly and throw DataFormatError naming the file and the problem.

/** A batch of images: N,H,W,C uint8, channels last. */
export interface RawImages {
  data: Uint8Array;
  shape: [number, number, number, number];
}

/** One decoded image, HWC uint8. */
export interface RawImage {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

/** An in-memory or lazily decoded labelled image set. */
export interface ImageSource {
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  /** Label per image, 0..numClasses-1. */
  readonly targets: Int32Array;
  readonly classNames?: string[];
  /** H,W,C when every image has the same size. */
  readonly imageSize?: [number, number, number];
  /** All requested images must share one size, else throws naming the first mismatch. */
  getBatch(indices: ArrayLike<number>): RawImages;
  getImage(i: number): RawImage;
}

/** A malformed, missing or inconsistent dataset file. The message always names the file and the problem. */
export class DataFormatError extends Error {
  readonly file: string;
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'DataFormatError';
    this.file = file;
  }
}

/** Throws DataFormatError unless every label is an integer in [0, numClasses). */
export function checkTargets(file: string, targets: ArrayLike<number>, numClasses: number): void {
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i];
    if (!Number.isInteger(t) || t < 0 || t >= numClasses) {
      throw new DataFormatError(file, `label out of range at index ${i}: ${t} (expected 0..${numClasses - 1})`);
    }
  }
}

/** Throws a RangeError unless i is a valid image index of a source of this length. */
export function checkIndex(name: string, i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new RangeError(`${name}: image index ${i} out of range [0, ${length})`);
  }
}

/** Labels in range, and class names (when given) one per class; errors name the file. */
export function checkLabels(file: string, targets: ArrayLike<number>, numClasses: number, classNames?: string[]): void {
  if (classNames && classNames.length !== numClasses) {
    throw new DataFormatError(file, `class count mismatch: ${classNames.length} class names for ${numClasses} classes`);
  }
  checkTargets(file, targets, numClasses);
}
