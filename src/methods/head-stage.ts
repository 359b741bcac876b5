// What the classifier stages that train a head (cRT, LWS) share: a cross-entropy step on the head's logits,
// and a stage that evaluates only after its last epoch and selects no best epoch.
import type { Tensor } from '../engine';
import type { Optimizer, StepOutput, Task, TrainingStage } from '../core/task';
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
  optimizer: Optimizer;
  lrAt: TrainingStage['lrAt'];
  settings: RunSettings;
  finish(): Record<string, unknown>;
  dispose(): void;
}): TrainingStage {
  return {
    name: o.name,
    epochs: o.epochs,
    task: o.task,
    optimizer: o.optimizer,
    lrAt: o.lrAt,
    maxStepsPerEpoch: o.settings.train.maxStepsPerEpoch,
    evalEvery: 0,
    selectBest: false,
    finish: o.finish,
    dispose: o.dispose,
  };
}
