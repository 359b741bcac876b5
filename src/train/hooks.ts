// The trainer's hooks: everything a run does that is not the step. At every event they run in this order:
//
//   1. lrSchedule    onStepBegin               the stage's learning rate for this step
//   2. evaluation    onEpochEnd                test (and validation) evaluation when due — every
//                                              `evalEvery` epochs and after a stage's last epoch — and
//                                              best-epoch selection (validation top-1, else test top-1)
//   2b. analyses     onEpochEnd                opt-in training progress, feature-gradient norms, feature
//                                              deviation into analysis.jsonl (src/analysis/hooks.ts; main
//                                              process only), before the checkpoint like the metrics line
//   3. metricsLog    onEpochEnd, onStageEnd    one line per epoch / stage in metrics.jsonl
//   4. runState      onEpochEnd, onStageEnd    where the run stands (the state a checkpoint records)
//   5. checkpoints   onEpochEnd, onStageEnd    an atomic checkpoint every `checkpointEvery` epochs, after a
//                                              stage's last epoch and after each stage
//   6. Progress      onStepEnd, onEpochEnd     the progress line with ETA (progress.ts)
//   7. interrupt     onRunBegin, onRunEnd      Ctrl-C asks the loop to stop after the current step
//   8. the user's    (TrainOptions.hooks, then TrainOptions.callbacks)
//
// Evaluation comes before logging and checkpointing so that the epoch's line carries its evaluation and the
// checkpoint its best weights. Only the main process writes files (ExecContext.isMain).
import type { ClassifierModel } from '../models';
import { dispose } from '../engine';
import type { EvalSplit, TrainingStage } from '../core/task';
import type { EpochLog, Hook, LoopControl } from './loop';
import { existingScaler } from './loop';
import type { CheckpointStore } from './checkpoint';
import type { RunDir, RunState } from './run-dir';

export function lrSchedule(): Hook {
  return { onStepBegin: (s) => s.stage.lrAt(s.epoch, s.step, s.steps) };
}

export function evaluation(state: RunState, o: { model: ClassifierModel; store: CheckpointStore }): Hook {
  return {
    onEpochEnd(log: EpochLog, stage: TrainingStage) {
      const last = log.epoch === stage.epochs - 1;
      const due = last || (stage.evalEvery > 0 && (log.epoch + 1) % stage.evalEvery === 0);
      if (!due || !stage.task?.evaluate) return;
      const run = (split: EvalSplit) => stage.task?.evaluate?.(split) ?? undefined;
      log.test = run('test');
      log.val = run('val');
      const score = (log.val ?? log.test)?.top1;
      if (!stage.selectBest || typeof score !== 'number') return;
      if (state.best === null || score > state.best.score) {
        state.best = {
          stage: state.stagesDone,
          epoch: log.epoch,
          score,
          test: log.test ?? null,
          val: log.val ?? null,
        };
        const views = o.model.stateDict();
        try {
          o.store.selectBest(views);
        } finally {
          dispose(views);
        }
      }
    },
  };
}

export function metricsLog(run: RunDir): Hook {
  return {
    onEpochEnd: (log) => run.appendMetrics({ type: 'epoch', ...log }),
    onStageEnd: (s) => run.appendMetrics({ type: 'stage', stage: s.name, result: s.result, test: s.test, val: s.val }),
  };
}

/** Checkpoints `model`, the running stage's optimizer, its extra state and fp16 gradient scaler, with the run state. */
export function checkpoints(
  state: RunState,
  o: { model: ClassifierModel; store: CheckpointStore; every: number },
): Hook {
  const save = (stage: TrainingStage | null) => {
    const model = o.model.stateDict();
    const opt = stage?.optimizer?.stateDict();
    const extra = stage?.extraState?.();
    try {
      o.store.save(`stage${state.stagesDone}-epoch${state.epoch + 1}`, {
        model,
        optimizer: opt?.tensors,
        extra,
        state: { ...state, optimizer: opt?.meta, scaler: (stage && existingScaler(stage)?.stateDict()) ?? undefined },
      });
    } finally {
      dispose([model, opt?.tensors, extra]);
    }
  };
  return {
    onEpochEnd(log, stage) {
      if ((log.epoch + 1) % o.every === 0 || log.epoch === stage.epochs - 1) save(stage);
    },
    onStageEnd: () => save(null),
  };
}

/** Keeps `state` current: the last completed epoch, and each completed stage's summary. */
export function runState(state: RunState): Hook {
  return {
    onEpochEnd(log) {
      state.epoch = log.epoch;
    },
    onStageEnd(summary) {
      state.stages.push(summary);
      state.stagesDone++;
      state.epoch = -1;
    },
  };
}

/** Ctrl-C stops the loop after the current step (the last checkpoint stays); a second Ctrl-C exits now. */
export function interrupt(control: LoopControl, log: (line: string) => void): Hook {
  const onSigint = () => {
    if (control.stopRequested) process.exit(130);
    control.stopRequested = true;
    log('\n[ltkit] interrupt: finishing this step; the last checkpoint stays (Ctrl-C again to quit now)');
  };
  return {
    onRunBegin: () => void process.on('SIGINT', onSigint),
    onRunEnd: () => void process.removeListener('SIGINT', onSigint),
  };
}

/** Stops the run after `n` epochs of this call (tests use it to stand in for a kill). */
export function stopAfterEpochs(n: number, control: LoopControl): Hook {
  let ran = 0;
  return {
    onEpochEnd() {
      if (++ran >= n) control.stopRequested = true;
    },
  };
}
