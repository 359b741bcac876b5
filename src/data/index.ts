// data/: sources (file formats), long-tailed subsets and pools, samplers, batched transforms,
// downloads. `load(name, {root, split})` is the one-call entry point.
import { loadSource, LoadSourceOptions } from './sources';
import type { ImageSource } from './sources/types';
import { defaultRoot } from './catalog';

export * from './sources';
export * from './longtail';
export * from './samplers';
export * from './loader';
export { buildTrainData, take, SYNTHETIC } from './train-data';
export type { TrainData, ImageSet, DataSettings } from './train-data';
export { catalogPool, ownImagesPool, generatedPool } from './pool';
export type { RunPool, PoolManifest, UnlabeledSettings } from './pool';
export * from './pseudo-labels';
export { loadMnistDigits, loadImageList, resolveImageSource } from './unlabeled-sources';
export * as transforms from './transforms';
export * as download from './download';

/**
 * Loads a data set split (`cifar10`, `cifar100`, `svhn`, `mnist`, `fashion-mnist`, …); `root` defaults to
 * the catalogue's folder for the source (Fashion-MNIST: Debian's /usr/share/datasets/fashion-mnist).
 */
export function load(name: string, opts: LoadSourceOptions = {}): ImageSource {
  return loadSource(name, { ...opts, root: opts.root ?? defaultRoot(name) });
}
export * from './catalog';
export { fmnistLT } from './fmnist-lt';
export type { FmnistLt, FmnistLtOptions } from './fmnist-lt';
export * from './stream';
