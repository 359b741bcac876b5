// The contracts between methods and the rest of ltkit (ARCHITECTURE.md "methods/ — composition, not flags").
//
// A method is a registered Component: a name, the one slot it fills, its own options (a zod shape merged
// into the config's `method` section) and a `build(ctx)` that returns its contributions to named slots —
// a loss, class weights per epoch, a sampler per epoch, a feature hook at a model stage, extra training
// stages. The trainer consumes contributions, never component names.
import type { z } from 'zod';
import type { Tensor } from '../engine';
import type { Rng } from '../util/rng';
import type { Criterion } from '../losses';
import type { ClassifierModel } from '../models';
import type { Batch, EpochSampler } from '../data/loader';
import type { IndexSampler } from '../data/samplers';
import type { ClassificationSummary } from '../eval/metrics';
import type { BatchStream, EvalSplit, TrainingStage } from '../core/task';
import type { ExecContext } from '../core/context';
import type { PretextMethod } from '../ssp/names';

/** Where a feature hook runs: the network input, after the stem, or after a residual stage. */
export type Stage = 'input' | 'stem' | 'layer1' | 'layer2' | 'layer3';
export const STAGES: Stage[] = ['input', 'stem', 'layer1', 'layer2', 'layer3'];

/** Label mixing recorded by a hook: loss = lam·L(a) + (1 − lam)·L(b) (lam scalar or per sample). */
export interface LabelMix {
  a: Tensor;
  b: Tensor;
  lam: number | Float32Array;
}

/** What a feature hook sees for one training batch. */
export interface HookContext {
  targets: Tensor; // [B] int64
  targetsArray: Int32Array; // the same labels in JS
  clsNumList: number[];
  rng: Rng;
  /** Set by hooks that mix labels (mixup family); MFW keeps labels and leaves it null. */
  labelMix: LabelMix | null;
}

/** The `features` slot: transform the activation after one stage during training. */
export interface FeatureHook {
  name: string;
  /** The stage for this batch (manifold mixup draws one per batch). */
  stage(rng: Rng): Stage;
  apply(z: Tensor, ctx: HookContext): Tensor;
}

/** The slots of a recipe; each holds at most one component. */
export type Slot = 'loss' | 'classWeights' | 'sampler' | 'features' | 'classifier' | 'unlabeled' | 'pretrain';
export const SLOTS: Slot[] = ['loss', 'classWeights', 'sampler', 'features', 'classifier', 'unlabeled', 'pretrain'];

/** The parts of a training config a component may read (a TrainConfig satisfies it). */
export interface RunSettings {
  seed: number;
  /** The `method` section: `recipe` and every component's options. */
  method: { recipe: string } & Record<string, unknown>;
  data: { imbType: 'exp' | 'step' };
  optim: { lr: number; momentum: number; weightDecay: number; nesterov: boolean };
  train: { epochs: number; batchSize: number; maxStepsPerEpoch?: number; checkpointEvery: number };
}

export interface BuildContext {
  settings: RunSettings;
  /** Training images per class (label order) — what margins, priors and re-balancing weights use. */
  clsNumList: number[];
  numClasses: number;
}

export interface LossContribution {
  /** The loss term's name in the logs (e.g. 'ce', 'ldam'). */
  name: string;
  create(): Criterion;
  /** The loss needs the cosine (NormedLinear) head. */
  normedLinear: boolean;
}

/** What an extra stage gets from the run it belongs to. */
export interface StageEnv {
  model: ClassifierModel;
  settings: RunSettings;
  ctx: ExecContext;
  numClasses: number;
  clsNumList: number[];
  trainTargets: Int32Array;
  /** The training images through the run's augmentation, in the order of `sampler`. */
  trainLoader(sampler: EpochSampler): BatchStream<Batch>;
  /** Pooled backbone features of a split (eval mode, no augmentation); null when the split does not exist. */
  features(split: 'train' | EvalSplit): { features: Tensor; targets: Tensor } | null;
  /** Evaluates the model as it is now; null when the split does not exist. */
  evaluate(split: EvalSplit): ClassificationSummary | null;
  log(line: string): void;
}

/** An extra stage a component adds after the main training (cRT, τ-norm, LWS). */
export interface StageFactory {
  name: string;
  build(env: StageEnv): TrainingStage;
  /**
   * Gives `model` the structure the completed stage left (e.g. a τ-normalised or LWS-scaled head), so
   * weights saved after it load; `record` is what the stage's `finish` returned — or, empty, the structure
   * the stage has while it trains (a run stopped half-way through it).
   */
  restore?(model: ClassifierModel, record: Record<string, unknown>): void;
}

/** Views of an unlabeled batch a method asks for: the training augmentation, or FixMatch's strong one. */
export type ViewKind = 'weak' | 'strong';

/** What an unlabeled loss term sees at one step. */
export interface UnlabeledStep {
  model: ClassifierModel;
  /** The unlabeled batch's views, in the order the contribution's `views` lists them. */
  views: Tensor[];
  /**
   * The unlabeled batch's labels: the pseudo-labels of a pseudo-label stream; −1 for a pool (true labels are
   * never handed to training).
   */
  targets: Tensor;
  /**
   * The model's logits of the views the term lists in `joint` (in that order), from the step's one training
   * forward pass of the labeled batch and those views together.
   */
  logits: Tensor[];
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  rng: Rng;
}

/** One unlabeled loss term of a stage (a consistency method, or the pseudo-label stream). */
export interface UnlabeledTerm {
  /** The term's name in the logs (e.g. 'consistency'). */
  name: string;
  /**
   * Views (indices into the contribution's `views`) the model forwards with gradient in one pass with the
   * labeled batch, rows concatenated (FixMatch's interleaving, USB's use_cat): BatchNorm normalizes them as
   * one batch and its running statistics follow that batch. Passes a term makes itself (`model.forward` in
   * `loss`) leave the running statistics as they were: the task puts them back after the step (USB's
   * freeze_bn), so they describe the batches the labeled loss trains on.
   */
  joint?: number[];
  loss(u: UnlabeledStep): Tensor;
  /** After the optimizer step (the EMA teacher). */
  afterStep?(u: { epoch: number; step: number; steps: number }): void;
  /** What the epoch's metrics line should record (e.g. FixMatch's mask rate); resets the counters. */
  endEpoch?(): Record<string, unknown>;
  /** Tensors a checkpoint must hold (the teacher's weights). */
  state?(): Record<string, Tensor>;
  loadState?(t: Record<string, Tensor>): void;
  dispose?(): void;
}

/** What an unlabeled term is built from. */
export interface UnlabeledEnv {
  model: ClassifierModel;
  /** A fresh model of the run's architecture (for a teacher). */
  cloneModel(): ClassifierModel;
  numClasses: number;
}

/** The `unlabeled` slot: a loss on a stream of unlabeled images (Mean Teacher, VAT, FixMatch). */
export interface UnlabeledContribution {
  views: ViewKind[];
  create(env: UnlabeledEnv): UnlabeledTerm;
}

export interface Contribution {
  loss?: LossContribution;
  /** Per-class loss weights for an epoch, or null for none. */
  classWeights?(epoch: number): number[] | null;
  /** The training set's sampler (its epoch order may change with the epoch, as DRS's does). */
  sampler?(targets: ArrayLike<number>, seed: number): IndexSampler;
  features?: FeatureHook;
  stages?: StageFactory[];
  unlabeled?: UnlabeledContribution;
  /** Start from the backbone of a self-supervised pre-training run of this pretext task (made or reused). */
  pretrain?: PretextMethod;
}

export interface Component {
  name: string;
  slot: Slot;
  help: string;
  /** Options under `method` (merged into the config schema; a key shared by components is one schema). */
  options: z.ZodRawShape;
  /** Fills its slot when a recipe names no component for it (one per slot at most). */
  isDefault?: boolean;
  build(ctx: BuildContext): Contribution;
}
