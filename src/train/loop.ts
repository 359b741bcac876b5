// The training loop — the one loop every kind of training runs through (ARCHITECTURE.md "Training core").
// It knows stages, tasks and hooks; nothing about methods, data sets or files.
//
// For each epoch of a stage:
//   1. reseed: libtorch's generator and the epoch's JS stream from (seed, stage, epoch) — so a resumed run
//      replays exactly what an uninterrupted one does;
//   2. task.beginEpoch (class weights, sampler, train mode), then hooks' onEpochBegin;
//   3. for each step (the batch from the task's stream: awaited when the stream is asynchronous, e.g. decoded
//      from files while the previous step ran): hooks' onStepBegin (one of them, lrSchedule, returns the lr), then in one tidy scope task.step → named loss terms
//      (under autocast when the context's precision is bf16 or fp16), their sum checked finite, zeroGrad, backward,
//      optimizer step (fp16: through the stage's gradient scaler), task.afterStep; then hooks' onStepEnd,
//      and a yield to the event loop (Ctrl-C and callbacks run between steps);
//   4. an epoch cut short by a stop request ends the stage without logging; otherwise the epoch's log —
//      mean of every loss term, training accuracy, speed — goes to the hooks' onEpochEnd.
// Hooks run in the order they are given (src/train/hooks.ts documents the trainer's order).
import { manualSeed, tidy, autocast, GradScaler } from '../engine';
import type { Tensor } from '../engine';
import { Rng } from '../util/rng';
import type { ClassificationSummary } from '../eval/metrics';
import type { EpochContext, TrainingStage } from '../core/task';
import type { ExecContext } from '../core/context';
import { stageParallel } from './parallel';
import type { StageParallel } from './parallel';

/** One epoch's line in metrics.jsonl (a hook may add the evaluation before it is written). */
export interface EpochLog {
  stage: string;
  epoch: number;
  /** The learning rate of the epoch's last step. */
  lr: number;
  /** Sum of the loss terms, mean over the epoch's samples. */
  loss: number;
  /** Every loss term, mean over the epoch's samples. */
  lossTerms: Record<string, number>;
  /** Training accuracy over the epoch's batches, when the task counts it. */
  trainAcc: number | null;
  imgPerSec: number;
  seconds: number;
  /** What task.beginEpoch and task.endEpoch reported (sampler, class weights, samples seen per class). */
  plan?: Record<string, unknown>;
  test?: ClassificationSummary;
  val?: ClassificationSummary;
}

export interface StepInfo {
  stage: TrainingStage;
  epoch: number;
  step: number;
  steps: number;
}

export interface StepEnd extends StepInfo {
  /** This step's loss terms and their sum. */
  stepLosses: Record<string, number>;
  stepLoss: number;
  /** Running epoch mean of the summed loss so far. */
  loss: number;
  lr: number;
  seen: number;
  /** Epoch start, ms since the epoch. */
  startedAt: number;
}

/**
 * Something called around the step; every method is optional. The loop calls the epoch and step events;
 * the trainer calls the run and stage events (src/train/hooks.ts lists the trainer's hooks in order).
 */
export interface Hook {
  onRunBegin?(): void;
  onStageBegin?(stage: TrainingStage, index: number): void;
  onEpochBegin?(e: EpochContext, stage: TrainingStage): void;
  /** Returns the learning rate for this step when the hook owns the schedule (the last one returned wins). */
  onStepBegin?(s: StepInfo): number | void;
  onStepEnd?(s: StepEnd): void;
  onEpochEnd?(log: EpochLog, stage: TrainingStage): void;
  /** After a stage's last epoch and its `finish`, with the stage's evaluation. */
  onStageEnd?(summary: StageSummary, stage: TrainingStage): void;
  /** Always called when the run ends, completed or not (also after an error). */
  onRunEnd?(): void;
}

/** A completed stage: what its `finish` recorded and the resulting model's evaluation. */
export interface StageSummary {
  name: string;
  result: Record<string, unknown>;
  test: ClassificationSummary | null;
  val: ClassificationSummary | null;
}

/** Shared between the loop and the hooks: a hook (Ctrl-C, a step budget) asks the loop to stop. */
export interface LoopControl {
  stopRequested: boolean;
}

/** The seed of one (stage, epoch) stream; stage 0 keeps the streams of ltkit's earlier single-stage trainer. */
export function epochSeed(seed: number, stage: number, epoch: number, stream: number): number {
  const s = stream + 16 * stage;
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(s + 1, 0xc2b2ae35)) >>> 0;
}

const scalers = new WeakMap<TrainingStage, GradScaler>();

/**
 * The fp16 gradient scaler of a stage, made on first use with PyTorch's GradScaler defaults (scale 2^16, ×2
 * after 2000 steps in a row without inf/NaN, ×0.5 after one with). The checkpoint hook saves its state with
 * the stage's (state.json `scaler`), and a resumed stage loads it back before training.
 */
export function stageScaler(stage: TrainingStage): GradScaler {
  let s = scalers.get(stage);
  if (!s) scalers.set(stage, (s = new GradScaler()));
  return s;
}

/** The stage's scaler if it has one (fp16 runs), for checkpoints. */
export function existingScaler(stage: TrainingStage): GradScaler | null {
  return scalers.get(stage) ?? null;
}

/**
 * Trains `stage` from epoch `from` to its last epoch (or until a stop is requested). Returns whether every
 * epoch ran.
 */
export async function runStage(
  stage: TrainingStage,
  o: { stageIndex: number; from: number; seed: number; hooks: Hook[]; control: LoopControl; ctx: ExecContext },
): Promise<boolean> {
  const { task, optimizer } = stage;
  if (stage.epochs > 0 && (!task || !optimizer)) throw new Error(`stage '${stage.name}' trains but has no task`);
  const { precision } = o.ctx;
  const scaler = precision === 'fp16' && optimizer ? stageScaler(stage) : null;
  const scaled = scaler && optimizer ? (optimizer.parameters?.() ?? null) : [];
  if (scaled === null) {
    throw new Error(
      `stage '${stage.name}': precision fp16 needs an optimizer that lists its parameters (parameters())`,
    );
  }
  // Several processes: gradients averaged across ranks, stop requests agreed, epoch sums reduced.
  const dp = stageParallel(o.ctx, optimizer, { findUnusedParameters: o.ctx.findUnusedParameters });
  try {
    return await epochs(stage, o, dp, scaler, scaled);
  } finally {
    dp?.dispose();
  }
}

/** A stop request, agreed by every rank when there are several (each then leaves at the same step). */
function stopNow(control: LoopControl, dp: StageParallel | null): boolean {
  if (dp) control.stopRequested = dp.agreeStop(control.stopRequested);
  return control.stopRequested;
}

async function epochs(
  stage: TrainingStage,
  o: { stageIndex: number; from: number; seed: number; hooks: Hook[]; control: LoopControl; ctx: ExecContext },
  dp: StageParallel | null,
  scaler: GradScaler | null,
  scaled: Tensor[],
): Promise<boolean> {
  const { task, optimizer } = stage;
  const { precision, device } = o.ctx;
  for (let epoch = o.from; epoch < stage.epochs; epoch++) {
    if (stopNow(o.control, dp) || !task || !optimizer) return false;
    const steps = Math.min(task.batches.numBatches(epoch), stage.maxStepsPerEpoch ?? Infinity);
    manualSeed(epochSeed(o.seed, o.stageIndex, epoch, 0));
    const e: EpochContext = {
      stage: stage.name,
      epoch,
      epochs: stage.epochs,
      steps,
      rng: new Rng(epochSeed(o.seed, o.stageIndex, epoch, 1)),
      ctx: o.ctx,
    };
    const plan = task.beginEpoch?.(e) ?? undefined;
    for (const h of o.hooks) h.onEpochBegin?.(e, stage);

    const startedAt = Date.now();
    const termSums: Record<string, number> = {};
    let lossSum = 0;
    let correct: number | null = null;
    let seen = 0;
    let lr = 0;
    let step = 0;
    // A stream that prepares batches asynchronously (file decoding) is awaited; others are iterated as before.
    const asyncBatches = task.batches.asyncEpoch?.(epoch) ?? null;
    const batches = asyncBatches ? null : task.batches.epoch(epoch);
    try {
      for (; step < steps && !stopNow(o.control, dp); step++) {
        const next = asyncBatches ? await asyncBatches.next() : (batches as Iterator<unknown>).next();
        if (next.done) break;
        const info: StepInfo = { stage, epoch, step, steps };
        let set: number | undefined;
        for (const h of o.hooks) set = h.onStepBegin?.(info) ?? set;
        if (set === undefined) throw new Error(`${stage.name}: no hook set the learning rate (add lrSchedule())`);
        lr = set;
        optimizer.setLr(lr);
        const out = tidy(() => {
          // Forward and loss terms under autocast (bf16 / fp16); backward and the optimizer step outside it, as
          // in PyTorch's AMP recipe (the gradients come back in the parameters' float32).
          const r = autocast(precision, () => task.step(next.value, e), device);
          const names = Object.keys(r.losses);
          const values = names.map((n) => r.losses[n].item());
          const bad = names.findIndex((_, i) => !Number.isFinite(values[i]));
          if (bad >= 0) {
            throw new Error(
              `${stage.name}: loss term '${names[bad]}' is ${values[bad]} at epoch ${epoch + 1}, step ${step + 1} ` +
                `(lr ${lr}); lower optim.lr or check the data`,
            );
          }
          const total = names.map((n) => r.losses[n]).reduce((a: Tensor, b: Tensor) => a.add(b));
          optimizer.zeroGrad();
          dp?.beforeBackward([total]);
          (scaler ? scaler.scale(total) : total).backward();
          if (scaler) {
            scaler.step(optimizer, scaled); // skipped when a gradient is inf/NaN
            scaler.update();
          } else optimizer.step();
          task.afterStep?.(e);
          return { names, values, size: r.size, correct: r.correct };
        });
        const stepLosses = Object.fromEntries(out.names.map((n, i) => [n, out.values[i]]));
        const stepLoss = out.values.reduce((a, b) => a + b, 0);
        out.names.forEach((n, i) => (termSums[n] = (termSums[n] ?? 0) + out.values[i] * out.size));
        lossSum += stepLoss * out.size;
        if (out.correct !== undefined) correct = (correct ?? 0) + out.correct;
        seen += out.size;
        const end: StepEnd = { ...info, stepLosses, stepLoss, loss: lossSum / seen, lr, seen, startedAt };
        for (const h of o.hooks) h.onStepEnd?.(end);
        // Let signal handlers (Ctrl-C) and other callbacks run between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      if (asyncBatches) await asyncBatches.return?.();
      else batches?.return?.();
    }
    if (o.control.stopRequested && step < steps) return false;
    const end = task.endEpoch?.(e) ?? undefined;
    const report = plan || end ? { ...(plan ?? {}), ...(end ?? {}) } : undefined;

    if (dp) {
      // The epoch's figures over all ranks' images (every rank runs the same terms).
      const names = Object.keys(termSums);
      const sums = dp.sum([lossSum, seen, correct ?? 0, ...names.map((k) => termSums[k])]);
      [lossSum, seen] = sums;
      if (correct !== null) correct = sums[2];
      names.forEach((k, i) => (termSums[k] = sums[3 + i]));
    }
    const seconds = (Date.now() - startedAt) / 1000;
    const n = Math.max(1, seen);
    const log: EpochLog = {
      stage: stage.name,
      epoch,
      lr,
      loss: lossSum / n,
      lossTerms: Object.fromEntries(Object.entries(termSums).map(([k, v]) => [k, v / n])),
      trainAcc: correct === null ? null : correct / n,
      imgPerSec: seen / Math.max(1e-9, seconds),
      seconds,
      ...(report ? { plan: report } : {}),
    };
    for (const h of o.hooks) h.onEpochEnd?.(log, stage);
  }
  return true;
}
