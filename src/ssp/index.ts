// ssp/: self-supervised pre-training (S1 §4) — the pretext tasks (rotation, MoCo v2), MoCo's parts and the
// kNN monitor.
export { PRETEXT_METHODS } from './names';
export type { PretextMethod } from './names';
export { pretext, modelOutputs, balancedRotations } from './pretext';
export type { Pretext, PretextEnv } from './pretext';
export { FeatureQueue, infoNce, MlpHidden, embed, groupedForward, defaultQueueSize, defaultBnGroups } from './moco';
export { knnScores, knnSummary } from './knn';
export type { KnnOptions } from './knn';
