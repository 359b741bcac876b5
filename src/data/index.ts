// data/: sources (file formats), long-tailed subsets and pools, samplers, batched transforms,
// downloads. `load(name, {root, split})` is the one-call entry point.
import { loadSource, LoadSourceOptions } from './sources';
import type { ImageSource } from './sources/types';

export * from './sources';
export * from './longtail';
export * from './samplers';
export * as transforms from './transforms';
export * as download from './download';

/** Loads a data set split (`cifar10`, `cifar100`, `svhn`, `mnist`, `fashion-mnist`, …). */
export function load(name: string, opts: LoadSourceOptions = {}): ImageSource {
  return loadSource(name, opts);
}
export { fmnistLT } from './fmnist-lt';
export type { FmnistLt, FmnistLtOptions } from './fmnist-lt';
