// The images of one split of a run, whatever holds them: an in-memory uint8 set (Fashion-MNIST, CIFAR, the
// synthetic sets) or files decoded per batch (ImageNet-LT, iNaturalist, Places-LT, own folders). Everything
// that reads a run's images — the training stages, evaluation, features for cRT and kNN, the pretext tasks,
// the analyses — asks a SplitImages for batches, so no caller branches on where the pixels live.
//
// Geometry: in-memory sets are already at the model's input size; streamed sets decode either to the
// training working image (`train`: a square image the training pipeline random-resize-crops from) or to the
// evaluation crop (`test`: resize + center crop, torchvision's Resize(256) + CenterCrop(224) at 224).
import type { Tensor } from '../engine';
import type { BatchStream } from '../core/task';
import { DataLoader, InMemorySource, ShuffleSampler } from './loader';
import type { Batch, BatchTransform, EpochSampler } from './loader';
import type { ImageSet, TrainData } from './train-data';
import { StreamLoader } from './stream/stream-loader';
import type { FileList } from './stream/stream-loader';
import type { StreamedSplits } from './stream/file-data';

export interface SplitLoaderOptions<X> {
  sampler: EpochSampler;
  /** Images per batch in this process. */
  batchSize: number;
  transform: BatchTransform<X>;
  /** 'train': the training geometry; 'test': the evaluation geometry (see the file comment). */
  geometry: 'train' | 'test';
  seed?: number;
  dropLast?: boolean;
  shard?: { rank: number; worldSize: number };
}

/** A batch stream that can also be iterated synchronously (evaluation, features). */
export type SplitLoader<X> = BatchStream<Batch<X>> & { epoch(epoch: number): Iterator<Batch<X>> & Iterable<Batch<X>> };

export interface SplitImages {
  /** Label per image (−1 for unlabeled images). */
  readonly targets: Int32Array;
  /** Images per batch for a pass in order (evaluation, features): 256 in memory, 64 decoded from files. */
  readonly passBatch: number;
  /** Batches of this split through `transform`. */
  loader<X>(o: SplitLoaderOptions<X>): SplitLoader<X>;
}

/** The options that both loaders (in memory and from files) take as given; the geometry is the file loader's. */
function loaderOptions<X>(o: SplitLoaderOptions<X>) {
  return {
    sampler: o.sampler,
    batchSize: o.batchSize,
    transform: o.transform,
    seed: o.seed,
    dropLast: o.dropLast,
    shard: o.shard,
  };
}

/** An in-memory image set as SplitImages. */
export function memoryImages(set: ImageSet): SplitImages {
  const source = new InMemorySource(set);
  return {
    targets: set.targets,
    passBatch: 256,
    loader: <X>(o: SplitLoaderOptions<X>) => new DataLoader<X>(source, loaderOptions(o)),
  };
}

/** A streamed split's files as SplitImages; bad images are reported through `report`. */
export function fileImages(f: StreamedSplits, list: FileList, report: (line: string) => void): SplitImages {
  return {
    targets: list.targets,
    passBatch: 64,
    loader: <X>(o: SplitLoaderOptions<X>) =>
      new StreamLoader<X>(list, {
        ...loaderOptions(o),
        decode:
          o.geometry === 'train'
            ? { mode: 'train', size: f.workSize }
            : { mode: 'test', size: f.crop, resize: f.testResize },
        prefetch: f.prefetch,
        badImages: f.badImages,
        report,
      }),
  };
}

/** The run's images of `split` (null when the split does not exist). */
export function splitImages(
  data: TrainData,
  split: 'train' | 'val' | 'test',
  report: (line: string) => void = () => undefined,
): SplitImages | null {
  const f = data.files;
  if (f) {
    const list = split === 'train' ? f.train : split === 'val' ? f.val : f.test;
    return list ? fileImages(f, list, report) : null;
  }
  const set = split === 'train' ? data.train : split === 'val' ? data.val : data.test;
  return set ? memoryImages(set) : null;
}

/** `images` as SplitImages: an in-memory set is wrapped, SplitImages pass through. */
export function asSplitImages(images: ImageSet | SplitImages): SplitImages {
  return 'loader' in images ? images : memoryImages(images);
}

/**
 * The images in order, once, through `transform` at the evaluation geometry (no augmentation). With `part`,
 * only part `rank` of `worldSize`: images rank, rank + W, rank + 2W, … — the parts cover the set exactly once
 * (no padding, unlike a training shard), so sums over them are the whole set's (data-parallel evaluation).
 */
export function inOrder(
  images: ImageSet | SplitImages,
  transform: BatchTransform<Tensor>,
  batchSize?: number,
  part?: { rank: number; worldSize: number },
): Iterable<Batch> {
  const s = asSplitImages(images);
  const n = s.targets.length;
  let sampler: EpochSampler = new ShuffleSampler(n, 0, false);
  if (part && part.worldSize > 1) {
    const { rank, worldSize } = part;
    const order = Int32Array.from(
      { length: Math.max(0, Math.ceil((n - rank) / worldSize)) },
      (_, k) => rank + k * worldSize,
    );
    sampler = { epochIndices: () => order };
  }
  return s.loader({ sampler, batchSize: batchSize ?? s.passBatch, transform, geometry: 'test' }).epoch(0);
}
