// The one way to get a model out of a run directory (ARCHITECTURE.md "Runs are the interface"), for
// `ltkit eval`, `ltkit predict`, the library and the reports: rebuild the architecture from run.json, give it
// the structure every completed stage left (a cRT head, a τ-normalised head, LWS scales — each stage's
// component says how), then load the chosen weights from the current checkpoint (verified against its
// manifest). The same `buildModel` makes the model the trainer trains.
import type { Tensor } from '../engine';
import { dispose } from '../engine';
import * as models from '../models';
import type { ClassifierModel } from '../models';
import type { ExecContext } from '../core/context';
import { localContext } from '../core/context';
import { parseRecipe, buildPlan, MethodPlan } from '../methods';
import { resolveConfig, TrainConfig } from './config';
import { RunDir, RunJson } from './run-dir';
import { batchPipelines, InputSpec, Pipelines } from './pipelines';
import { modelOutputs } from '../ssp/pretext';

/** The model a training config describes, freshly initialised (seed libtorch first for reproducible weights). */
export function buildModel(
  cfg: TrainConfig,
  normedLinear: boolean,
  o: { numClasses: number; inChannels: number; ctx: ExecContext },
): ClassifierModel {
  const normed = cfg.model.normedLinear === 'auto' ? normedLinear : cfg.model.normedLinear === 'on';
  const model = models.create(cfg.model.name, {
    numClasses: o.numClasses,
    normedLinear: normed,
    inChannels: o.inChannels,
  });
  if (o.ctx.device !== 'cpu') model.to(o.ctx.device);
  return o.ctx.channelsLast ? model.toChannelsLast() : model;
}

/** Which weights: the final model (every stage applied), or the selected best epoch of the main stage. */
export type RunCheckpoint = 'final' | 'best';

export interface LoadedRun {
  run: RunDir;
  info: RunJson;
  config: TrainConfig;
  model: ClassifierModel;
  /** The test-time input pipeline of the run. */
  pipes: Pipelines;
  input: InputSpec;
  /** What was loaded, in words (e.g. "final model: 'train', then 'crt'"). */
  description: string;
  /** The run's device and precision: evaluating under the same autocast reproduces the run's own numbers. */
  ctx: ExecContext;
}

export function loadRunModel(dir: string, which: RunCheckpoint = 'final'): LoadedRun {
  const run = RunDir.open(dir);
  const info = run.readRun();
  const config = resolveConfig(info.config, `${run.file('run.json')}: config`);
  if (config.pretrain.method !== 'none') {
    throw new Error(
      `${run.dir} is a pre-training run (pretrain.method: ${config.pretrain.method}): it has no classifier for the ` +
        `data set's classes (its kNN accuracy is in final-metrics.json); fine-tune from it with ` +
        `--set model.initFrom=${run.dir}`,
    );
  }
  const store = run.checkpoints;
  const state = run.readState();
  if (!state) throw new Error(`${run.dir}: the run has no checkpoint yet`);
  const numClasses = info.data.numClasses;
  const plan: MethodPlan = buildPlan(parseRecipe(config.method.recipe), {
    settings: config,
    clsNumList: info.data.clsNumList,
    numClasses,
  });
  // The precision the run trained in (run.json; runs before it was recorded: the setting, resolved here).
  const ctx = localContext({
    device: config.device,
    channelsLast: config.train.channelsLast,
    precision: info.precision ?? config.train.precision,
  });
  const model = buildModel(config, plan.normedLinear, {
    numClasses: modelOutputs(config, numClasses),
    inChannels: info.data.imageShape[2],
    ctx,
  });
  const factories = plan.stages;
  let file: string;
  let description: string;
  if (which === 'best') {
    if (!state.best || !store.file('best.safetensors')) throw new Error(`${run.dir}: no best epoch was selected`);
    // Stages completed before the one the best epoch belongs to shaped the model it was taken from.
    for (let i = 1; i < state.best.stage; i++) factories[i - 1].restore?.(model, state.stages[i].result);
    file = 'best.safetensors';
    description = `best epoch ${state.best.epoch + 1} of '${info.stages[state.best.stage]}'`;
  } else {
    // Stage 0 is the main training; stage i > 0 is plan.stages[i − 1]. A stage stopped half-way has the
    // structure it had while training (restore without a record).
    for (let i = 1; i < state.stagesDone; i++) factories[i - 1].restore?.(model, state.stages[i].result);
    if (state.stagesDone > 0 && state.epoch >= 0) factories[state.stagesDone - 1]?.restore?.(model, {});
    file = 'model.safetensors';
    const done = info.stages.slice(0, state.stagesDone);
    description =
      state.stagesDone === info.stages.length
        ? `final model: ${done.map((s) => `'${s}'`).join(', then ')}`
        : `last checkpoint of an unfinished run: '${info.stages[state.stagesDone]}' epoch ${state.epoch + 1}` +
          (done.length ? ` after ${done.map((s) => `'${s}'`).join(', ')}` : '');
  }
  const weights: Record<string, Tensor> = store.loadTensors(file);
  try {
    model.loadStateDict(weights);
  } finally {
    dispose(weights);
  }
  model.eval();
  const input: InputSpec = { imageShape: info.data.imageShape, mean: info.data.mean, std: info.data.std };
  const pipes = batchPipelines(input, false, { channelsLast: ctx.channelsLast });
  return { run, info, config, model, pipes, input, description, ctx };
}
