// analysis/: what a run records about its training beyond the metrics (SPEC §6; S2 §3.4, §5.4) — training
// progress, feature-gradient norms and feature deviation — and the record schemas reports read.
export * from './records';
export { featureDeviation, deviationFromSubsets, l2NormalizeRows, toMatrix, toLabels } from './deviation';
export type { FeatureDeviationOptions, FeatureInput, Matrix } from './deviation';
export { trainingProgress, progressCounts } from './progress';
export type { TrainingProgress } from './progress';
export { featureGradNorms, batchGradNorms, perSampleLossSum } from './grad-norms';
export type { LossSum } from './grad-norms';
export type { CleanSet } from './clean-pass';
export { analysisHook, checkAnalysis, anyAnalysis } from './hooks';
export type { AnalysisSettings, AnalysisEnv } from './hooks';
export { embedRun, stratifiedQuota } from './embedding';
export type { EmbedOptions, EmbedResult } from './embedding';
