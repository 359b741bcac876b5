// The clean pass over an image set that the training-time analyses share (S2 §3.4: "we evaluate this after
// each epoch, without altering the features"): the images in order, through the run's test-time transform
// (no augmentation), no feature hook, BatchNorm in eval mode; the model's mode is put back afterwards.
import type { Tensor } from '../engine';
import type { ClassifierModel } from '../models';
import type { Batch, BatchTransform } from '../data/loader';
import type { ImageSet } from '../data/train-data';
import { inOrder } from '../data/split-images';
import type { SplitImages } from '../data/split-images';

/** What a clean pass runs over: the set and the run's test-time transform. */
export interface CleanSet {
  set: ImageSet | SplitImages;
  transform: BatchTransform<Tensor>;
  /** Images per forward (default: the set's pass batch, as evaluation). */
  batchSize?: number;
}

/** The set's batches in order (a sampler without shuffling draws nothing from any random stream). */
export function cleanBatches(s: CleanSet): Iterable<Batch> {
  return inOrder(s.set, s.transform, s.batchSize);
}

/** Runs `fn` with the model in eval mode (BatchNorm running statistics, untouched), then restores its mode. */
export function inEvalMode<T>(model: ClassifierModel, fn: () => T): T {
  const was = model.training;
  model.eval();
  try {
    return fn();
  } finally {
    model.train(was);
  }
}

/** sums[c] / counts[c] per class; null for a class with no images. */
export function perClassMean(sums: ArrayLike<number>, counts: ArrayLike<number>): (number | null)[] {
  return Array.from(counts, (n, c) => (n > 0 ? sums[c] / n : null));
}
