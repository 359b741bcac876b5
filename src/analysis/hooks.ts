// The analyses as a training-core hook (ARCHITECTURE.md "Training core": analyses are a hook, not a loop).
// After an epoch of the run's main stage it records, as configured (`analysis` in the training config):
//   progress   per-class training accuracy and classification ratio (progress.ts; S2 Fig. 1, 3)
//   gradNorm   mean ‖∇_{g(x)} ℓ‖ per class at a model stage (grad-norms.ts; S2 Fig. 4)
//   deviation  per-class feature deviation between train and test (deviation.ts; S2 §5.4)
// Every pass is clean (clean-pass.ts) and draws on no training random stream: the deviation's subsets come
// from a stream of their own, so a run trains identically with and without the analyses.
import type { Tensor } from '../engine';
import type { Criterion } from '../losses';
import type { ClassifierModel, Stage } from '../models';
import type { BatchTransform } from '../data/loader';
import type { SplitImages } from '../data/split-images';
import type { TrainingStage } from '../core/task';
import { ConfigError } from '../core/errors';
import type { EpochLog, Hook } from '../train/loop';
import { epochSeed } from '../train/loop';
import { extractFeatures } from '../train/classification';
import type { AnalysisRecord } from './records';
import { trainingProgress } from './progress';
import { featureGradNorms, perSampleLossSum } from './grad-norms';
import { featureDeviation } from './deviation';
import { inEvalMode } from './clean-pass';

/** The `analysis` section of the training config. */
export interface AnalysisSettings {
  progress: boolean;
  gradNorms: { at: Stage } | false;
  deviation: { epochs: number[] | 'end'; R: number } | false;
  every: number;
}

/** What the analyses run on: the run's model, its sets, its test-time transform and its criterion. */
export interface AnalysisEnv {
  model: ClassifierModel;
  train: SplitImages;
  test: SplitImages;
  /** The run's test-time transform (normalisation only, no augmentation). */
  transform: BatchTransform<Tensor>;
  numClasses: number;
  /** A fresh criterion of the run (the loss's margins, γ, priors) and its class weights at an epoch. */
  createCriterion(): Criterion;
  classWeightsAt(epoch: number): number[] | null;
  /** The run's seed (the deviation's subsets draw from a stream of their own). */
  seed: number;
  write(record: AnalysisRecord): void;
}

export const anyAnalysis = (s: AnalysisSettings): boolean =>
  s.progress || s.gradNorms !== false || s.deviation !== false;

/** Checks the settings against the model and the schedule; errors name the config key. */
export function checkAnalysis(s: AnalysisSettings, o: { model: ClassifierModel; epochs: number }): void {
  if (s.gradNorms && !o.model.stages.includes(s.gradNorms.at)) {
    throw new ConfigError(
      `analysis.gradNorms.at: the model has no stage '${s.gradNorms.at}' (stages: ${o.model.stages.join(', ')})`,
    );
  }
  const late = s.deviation && s.deviation.epochs !== 'end' ? s.deviation.epochs.find((e) => e > o.epochs) : undefined;
  if (late !== undefined) {
    throw new ConfigError(
      `analysis.deviation.epochs: epoch ${late} is after the last one (train.epochs = ${o.epochs})`,
    );
  }
}

/** Whether the epoch-wise analyses (progress, gradNorms) run after `epoch` (0-based): every `every`, and the last. */
export function dueEvery(every: number, epoch: number, epochs: number): boolean {
  return (epoch + 1) % every === 0 || epoch === epochs - 1;
}

/** Whether the deviation runs after `epoch` (0-based): its 1-based epochs, or 'end' (the last). */
export function dueDeviation(epochs: number[] | 'end', epoch: number, last: number): boolean {
  return epochs === 'end' ? epoch === last - 1 : epochs.includes(epoch + 1);
}

function timed<T>(fn: () => T): { value: T; seconds: number } {
  const t0 = process.hrtime.bigint();
  const value = fn();
  return { value, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

/** Feature deviation of the model now, train vs test features (S2 §5.4). */
function deviationNow(env: AnalysisEnv, o: { R: number; seed: number }): { perClass: (number | null)[]; K: number } {
  const { train, test } = inEvalMode(env.model, () => ({
    train: extractFeatures(env.model, env.train, env.transform),
    test: extractFeatures(env.model, env.test, env.transform),
  }));
  try {
    const counts = new Array<number>(env.numClasses).fill(0);
    for (const y of Array.from(env.train.targets)) counts[y]++;
    const K = Math.min(...counts.filter((n) => n > 0));
    const values = featureDeviation({
      trainFeatures: train.features,
      trainLabels: train.targets,
      testFeatures: test.features,
      testLabels: test.targets,
      numClasses: env.numClasses,
      K,
      R: o.R,
      seed: o.seed,
    });
    return { perClass: values.map((v) => (Number.isFinite(v) ? v : null)), K };
  } finally {
    for (const t of [train.features, train.targets, test.features, test.targets]) t.dispose();
  }
}

/**
 * The analyses hook: active during the run's main stage (the first; later stages such as cRT train a part
 * of the model under their own criterion). Runs in the trainer right after evaluation, before the epoch's
 * metrics line and checkpoint (hooks.ts), so that a resumed run redoes exactly the lines it drops.
 */
export function analysisHook(s: AnalysisSettings, env: AnalysisEnv): Hook {
  let active = false;
  let stageIndex = 0;
  let criterion: Criterion | null = null;
  const release = () => {
    criterion?.dispose();
    criterion = null;
  };
  const run = (log: EpochLog, stage: TrainingStage) => {
    const { epoch } = log;
    const base = { stage: stage.name, epoch };
    const cleanTrain = { set: env.train, transform: env.transform };
    if (dueEvery(s.every, epoch, stage.epochs) && s.progress) {
      const r = timed(() => trainingProgress(env.model, cleanTrain, env.numClasses));
      env.write({ type: 'progress', ...base, ...r.value, seconds: r.seconds });
    }
    if (dueEvery(s.every, epoch, stage.epochs) && s.gradNorms) {
      const { at } = s.gradNorms;
      const crit = (criterion ??= env.createCriterion());
      // The criterion as the epoch used it: its class weights (DRW) at this epoch.
      crit.setWeight(env.classWeightsAt(epoch));
      const lossSum = perSampleLossSum(crit);
      const r = timed(() => featureGradNorms(env.model, cleanTrain, { at, lossSum, numClasses: env.numClasses }));
      env.write({ type: 'gradNorm', ...base, at, perClass: r.value, seconds: r.seconds });
    }
    const dev = s.deviation;
    if (dev && dueDeviation(dev.epochs, epoch, stage.epochs)) {
      const seed = epochSeed(env.seed, stageIndex, epoch, 7);
      const r = timed(() => deviationNow(env, { R: dev.R, seed }));
      env.write({ type: 'deviation', ...base, K: r.value.K, R: dev.R, perClass: r.value.perClass, seconds: r.seconds });
    }
  };
  return {
    onStageBegin(_stage, index) {
      active = index === 0;
      stageIndex = index;
    },
    onEpochEnd(log, stage) {
      // Each pass restores the mode it found (evaluation may have left eval mode; beginEpoch sets train mode).
      if (active) run(log, stage);
    },
    onStageEnd: release,
    onRunEnd: release,
  };
}
