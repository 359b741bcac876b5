// What the classifier stages that train a head (cRT, LWS) share: a cross-entropy step on the head's logits,
// SGD under a cosine schedule to 0 over the stage, and a stage that evaluates only after its last epoch and
// selects no best epoch.
import type { Tensor } from '../engine';
import { SGD } from '../optim';
import { cosineSchedule } from '../optim/schedules';
import type { StepOutput, Task, TrainingStage } from '../core/task';
import type { RunSettings } from './types';

/** The step output of a head trained with plain cross-entropy: the term `ce` and the correct count. */
export function crossEntropyStep(logits: Tensor, targets: Tensor): StepOutput {
  const correct = logits.argmax({ dim: 1 }).eq(targets).sum().item();
  return { losses: { ce: logits.crossEntropyLoss(targets) }, size: targets.shape[0], correct };
}

export function headStage(o: {
  name: string;
  epochs: number;
  task: Task;
  /**
   * SGD on `params` from the base rate `lr`, cosine-annealed to 0 over the stage's epochs (`cosineSchedule`),
   * updated every iteration (cRT: the reference's coslr) or once per epoch (LWS).
   */
  sgd: { params: Tensor[]; lr: number; momentum: number; weightDecay: number; perIteration: boolean };
  settings: RunSettings;
  finish(): Record<string, unknown>;
  /** Frees the stage's own tensors other than the optimizer's state (which is freed first). */
  dispose?(): void;
}): TrainingStage {
  const { params, lr, momentum, weightDecay, perIteration } = o.sgd;
  const optimizer = new SGD(params, { lr, momentum, weightDecay });
  const schedule = cosineSchedule({ baseLr: lr, epochs: o.epochs, perIteration });
  return {
    name: o.name,
    epochs: o.epochs,
    task: o.task,
    optimizer,
    // Per epoch, the cosine ignores (step, steps): lrAt(e, step, steps) = lrAt(e).
    lrAt: (e, step, steps) => schedule.lrAt(e, step, steps),
    maxStepsPerEpoch: o.settings.train.maxStepsPerEpoch,
    evalEvery: 0,
    selectBest: false,
    finish: o.finish,
    dispose() {
      optimizer.dispose();
      o.dispose?.();
    },
  };
}
