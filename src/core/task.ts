// The contracts of the training core (ARCHITECTURE.md "Training core — one loop, tasks, hooks").
//
// One loop (src/train/loop.ts) runs every kind of training. What differs between kinds is a Stage: how
// many epochs, which optimizer and learning-rate schedule, and a Task — how batches are made, how a step
// turns a batch into a dictionary of named loss terms (the loop sums them, backpropagates the sum and
// logs each term), and how the result is evaluated. A run is a sequence of stages (supervised training,
// then e.g. cRT or LWS); methods contribute stages through src/methods, the loop never knows which.
import type { Tensor } from '../engine';
import type { Rng } from '../util/rng';
import type { ClassificationSummary } from '../eval/metrics';
import type { ExecContext } from './context';

/**
 * A seeded, epoch-addressable stream of batches (src/data/loader's DataLoader is one; src/data/stream's
 * StreamLoader, which decodes image files per batch, is another).
 */
export interface BatchStream<B> {
  numBatches(epoch: number): number;
  /** The batches of `epoch`, in order; the loop may stop early (the generator's cleanup then runs). */
  epoch(epoch: number): Iterator<B> & Iterable<B>;
  /**
   * The same batches as an async iterator. When a stream has it, the training loop awaits it instead of
   * calling `epoch` — so a stream can prepare batch i+1 off the JS thread (file decoding) while the
   * synchronous step of batch i runs, and hand it over when the loop awaits.
   */
  asyncEpoch?(epoch: number): AsyncIterator<B>;
}

/** What a task sees of the epoch it runs in. */
export interface EpochContext {
  /** The stage's name, e.g. 'train' or 'crt'. */
  readonly stage: string;
  readonly epoch: number;
  readonly epochs: number;
  /** Steps the loop runs this epoch. */
  readonly steps: number;
  /** The epoch's JS random stream (a pure function of seed, stage and epoch; see loop.ts). */
  readonly rng: Rng;
  /** Where and how the run executes (device, precision, rank, world size). */
  readonly ctx: ExecContext;
}

/** One training step's outcome. */
export interface StepOutput {
  /** Named loss terms, e.g. {ce} or {ce, consistency}; the loop backpropagates their sum. */
  losses: Record<string, Tensor>;
  /** Samples in the batch (epoch means are weighted by it). */
  size: number;
  /** Correctly classified samples, when the task has a notion of training accuracy. */
  correct?: number;
}

export type EvalSplit = 'val' | 'test';

export interface Task<B = unknown> {
  readonly batches: BatchStream<B>;
  /**
   * Called before the epoch's first step (per-epoch class weights, sampler, train mode). What it returns
   * is logged in the epoch's metrics line as `plan` (e.g. {sampler, classWeights}).
   */
  beginEpoch?(e: EpochContext): Record<string, unknown> | void;
  /** One batch → named loss terms. Runs inside the loop's tidy scope. */
  step(batch: B, e: EpochContext): StepOutput;
  /** After the optimizer step (EMA teachers, momentum encoders, queues). */
  afterStep?(e: EpochContext): void;
  /** After the epoch's last step: what it returns joins the epoch's `plan` in the metrics line. */
  endEpoch?(e: EpochContext): Record<string, unknown> | void;
  /** Evaluates the current model on a split; null when the split does not exist. */
  evaluate?(split: EvalSplit): ClassificationSummary | null;
}

/** Optimizer state for checkpoints: tensors (saved as safetensors) and JSON metadata. */
export interface OptimizerState {
  tensors: Record<string, Tensor>;
  meta: unknown;
}

/** What the loop needs of an optimizer (src/optim's SGD is one). */
export interface Optimizer {
  setLr(lr: number): void;
  zeroGrad(): void;
  step(): void;
  stateDict(): OptimizerState;
  loadStateDict(state: OptimizerState): void;
  /** The parameters it updates (data-parallel training averages their gradients across ranks). */
  parameters?(): Tensor[];
  dispose(): void;
}

/** One stage of a run, ready for the loop. */
export interface TrainingStage {
  readonly name: string;
  /** Training epochs (0: nothing to train; only `finish` runs). */
  readonly epochs: number;
  readonly task: Task | null;
  readonly optimizer: Optimizer | null;
  /** The learning rate at (epoch, step) of `steps` steps. */
  lrAt(epoch: number, step: number, steps: number): number;
  /** Cap on steps per epoch (smoke tests); undefined: the whole epoch. */
  readonly maxStepsPerEpoch?: number;
  /** Evaluate every this many epochs (0: only after the last epoch). */
  readonly evalEvery: number;
  /** Track the best epoch (by validation top-1, else test top-1) and keep its weights. */
  readonly selectBest: boolean;
  /** State beyond the model and optimizer that a checkpoint must hold (queues, EMA weights). */
  extraState?(): Record<string, Tensor>;
  loadExtraState?(tensors: Record<string, Tensor>): void;
  /**
   * After the last epoch: applies the stage's outcome to the model (a τ-normalised head, LWS scales)
   * and returns what the run records about it (e.g. the chosen τ).
   */
  finish?(): Record<string, unknown>;
  /** Frees the stage's own tensors (optimizer state, cached features). */
  dispose(): void;
}

/**
 * Counts the training samples of each class a task's batches really contained in an epoch (`seenPerClass` in
 * the metrics line): the evidence that a sampler did what the plan says.
 */
export class ClassTally {
  private counts: number[];
  constructor(
    private readonly targets: ArrayLike<number>,
    private readonly numClasses: number,
  ) {
    this.counts = new Array<number>(numClasses).fill(0);
  }
  add(indices: ArrayLike<number>): void {
    for (let i = 0; i < indices.length; i++) this.counts[this.targets[indices[i]]]++;
  }
  /** The epoch's counts; starts the next epoch from zero. */
  take(): { seenPerClass: number[] } {
    const seenPerClass = this.counts;
    this.counts = new Array<number>(this.numClasses).fill(0);
    return { seenPerClass };
  }
}
