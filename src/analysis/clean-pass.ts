// The clean pass over an image set that the training-time analyses share (S2 §3.4: "we evaluate this after
// each epoch, without altering the features"): the images in order, through the run's test-time transform
// (no augmentation), no feature hook, BatchNorm in eval mode; the model's mode is put back afterwards.
import type { Tensor } from '../engine';
import type { ClassifierModel } from '../models';
import { DataLoader, InMemorySource, ShuffleSampler } from '../data/loader';
import type { Batch, BatchTransform } from '../data/loader';
import type { ImageSet } from '../data/train-data';

/** What a clean pass runs over: the set and the run's test-time transform. */
export interface CleanSet {
  set: ImageSet;
  transform: BatchTransform<Tensor>;
  /** Images per forward (default 256, as evaluation). */
  batchSize?: number;
}

/** The set's batches in order (a sampler without shuffling draws nothing from any random stream). */
export function cleanBatches(s: CleanSet): Iterable<Batch> {
  const loader = new DataLoader(new InMemorySource(s.set), {
    sampler: new ShuffleSampler(s.set.targets.length, 0, false),
    batchSize: s.batchSize ?? 256,
    transform: s.transform,
  });
  return loader.epoch(0);
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
