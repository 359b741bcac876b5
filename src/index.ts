// ltkit: deep learning on class-imbalanced (long-tailed) data, over libtorch.
//   import * as lt from 'ltkit';
//   lt.models.create('resnet32', {numClasses: 10}); lt.losses.create('ldam', {clsNumList});
//   await lt.train({data: {dataset: 'fmnist-lt'}, method: {recipe: 'mfw+drw'}});
export * from './engine';
export * as nn from './nn';
export * as optim from './optim';
export * as models from './models';
export * as losses from './losses';
export * as data from './data';
export * as methods from './methods';
export * as evaluation from './eval';
export { train, evaluate } from './train/trainer';
export type { TrainResult, TrainOptions, Callbacks, EpochLog } from './train/trainer';
export { resolveConfig, applyOverrides, readConfigFile, PRESETS, ConfigError } from './train/config';
export type { TrainConfig, TrainConfigInput } from './train/config';
export { Rng } from './util/rng';

import { cbWeights } from './data/samplers/cb-weights';
import { classWeightsAt, samplingAt, deferEpoch } from './methods/rules';
/** Re-balancing helpers: CB weights (Cui et al. 2019) and the DRW / DRS schedule of SPEC §3. */
export const rebalance = { cbWeights, classWeightsAt, samplingAt, deferEpoch };
