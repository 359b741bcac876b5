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
export { train, savedConfig } from './train/trainer';
export type { TrainResult, TrainOptions, Callbacks } from './train/trainer';
export { pseudoLabel, selfTrain, formatPseudoLabels } from './train/pseudo-label';
export type { PseudoLabelOptions, PseudoLabelResult, SelfTrainOptions, SelfTrainResult } from './train/pseudo-label';
export { runStage, epochSeed } from './train/loop';
export type { Hook, EpochLog, StepInfo, StepEnd, LoopControl, StageSummary } from './train/loop';
export * as hooks from './train/hooks';
export { ClassificationTask, supervisedStage, evaluateModel, extractFeatures, batchLoss } from './train/classification';
export { batchPipelines } from './train/pipelines';
export type { InputSpec, Pipelines } from './train/pipelines';
export { loadRunModel, buildModel } from './train/run-model';
export type { LoadedRun, RunCheckpoint } from './train/run-model';
export { RunDir } from './train/run-dir';
export type { RunJson, RunState, MetricsLine, FinalMetrics } from './train/run-dir';
export { resolveConfig, applyOverrides, readConfigFile, resumeConfig, PRESETS } from './train/config';
export type { TrainConfig, TrainConfigInput } from './train/config';
export { ConfigError, RecipeError } from './core/errors';
export type { Task, TrainingStage, StepOutput, EpochContext, BatchStream, Optimizer } from './core/task';
export { localContext } from './core/context';
export type { ExecContext } from './core/context';
export { Rng } from './util/rng';

import { cbWeights } from './data/samplers/cb-weights';
import { deferredSwitchEpoch } from './data/samplers/deferred';
/** Re-balancing helpers: CB weights (Cui et al. 2019) and the deferral epoch of DRW / DRS (SPEC §3). */
export const rebalance = { cbWeights, deferredSwitchEpoch };
