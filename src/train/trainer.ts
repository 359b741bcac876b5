// The training loop. It knows slots, not methods: the recipe gives a loss, a class-weight rule, a
// sampling rule, an optional feature hook and an optional classifier stage (methods/recipe.ts).
//
// Determinism and resume: at the start of epoch e the trainer reseeds libtorch's generator and the
// JS streams from (seed, e); checkpoints are written at epoch ends. A killed or interrupted run
// resumes from the last completed epoch and reaches the same weights and metrics as an
// uninterrupted run with the same seed (the test kills and resumes one).
import * as fs from 'fs';
import {
  Tensor,
  tensor,
  tidy,
  noGrad,
  manualSeed,
  setNumThreads,
  runtimeInfo,
  loadSafetensors,
  saveSafetensors,
  dispose,
} from '../engine';
import { writeFileAtomic } from '../engine/safetensors';
import * as losses from '../losses';
import type { Criterion } from '../losses';
import * as models from '../models';
import { SGD } from '../optim';
import { learningRate } from '../optim/schedules';
import { parseRecipe, Recipe } from '../methods/recipe';
import { classWeightsAt, samplingAt, RuleOptions, SamplingKind } from '../methods/rules';
import type { HookContext } from '../methods/types';
import { createSampler } from '../data/samplers';
import { AugRng } from '../data/transforms/rng';
import { Rng } from '../util/rng';
import { ClassificationMeter } from '../eval/metrics';
import { headline } from '../eval/headline';
import { TrainConfig, TrainConfigInput, resolveConfig, ConfigError } from './config';
import { buildTrainData, ImageSet, TrainData } from './datasets';
import { RunDir, gitSha, ltkitVersion } from './run-dir';
import { batchPipelines, Pipelines } from './pipelines';
import { Progress } from './progress';
import { runClassifierStage } from './classifier-stage';

export interface EpochLog {
  epoch: number;
  lr: number;
  loss: number;
  lossTerms: Record<string, number>;
  trainAcc: number;
  imgPerSec: number;
  seconds: number;
  test?: Record<string, unknown>;
  val?: Record<string, unknown>;
}

/** Hooks called in this order: onTrainBegin, (onEpochBegin, onBatchEnd*, onEpochEnd)*, onTrainEnd. */
export interface Callbacks {
  onTrainBegin?(ctx: { config: TrainConfig; runDir: string; startEpoch: number }): void;
  onEpochBegin?(epoch: number): void;
  onBatchEnd?(epoch: number, step: number, logs: { loss: number; lr: number }): void;
  onEpochEnd?(epoch: number, logs: EpochLog): void;
  onTrainEnd?(result: TrainResult): void;
}

export interface TrainOptions {
  resume?: boolean;
  callbacks?: Callbacks;
  /** Print a progress line (default: config.train.progress, 'auto' = when stderr is a TTY or not CI). */
  log?: (line: string) => void;
  /** Stop after this many epochs of this invocation (tests use it to simulate a kill). */
  stopAfterEpochs?: number;
  /** Reuse already-built data (e.g. two runs on one data set). */
  data?: TrainData;
}

export interface TrainResult {
  runDir: string;
  status: 'completed' | 'interrupted';
  epochs: number;
  final: Record<string, unknown> | null;
  best: Record<string, unknown> | null;
  bestEpoch: number | null;
  classifierStage?: Record<string, unknown> | null;
}

interface TrainerState {
  epoch: number; // last completed epoch
  bestScore: number;
  bestEpoch: number | null;
  best: Record<string, unknown> | null;
}

function defaultName(cfg: TrainConfig): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${cfg.data.dataset}-${cfg.data.imbType}${cfg.data.rho}-${cfg.method.recipe.replace(/\+/g, '_')}-${t}`;
}

function seedFor(seed: number, epoch: number, stream: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
}

/** Builds the criterion of a recipe (class counts feed LDAM margins and priors). */
export function buildCriterion(recipe: Recipe, cfg: TrainConfig, clsNumList: number[]): Criterion {
  const m = cfg.method;
  const byLoss: Record<string, losses.LossOptions> = {
    ce: {},
    focal: { gamma: m.gamma },
    ldam: { clsNumList, maxMargin: m.maxMargin, s: m.s },
    'balanced-softmax': { clsNumList },
    'logit-adjusted': { clsNumList, tau: m.tau },
  };
  return losses.create(recipe.loss, byLoss[recipe.loss]);
}

/**
 * The loss for a batch, with label mixing when a hook recorded it. Per-sample coefficients (Remix:
 * λ_y ∈ {0, 1, λ}) are applied by grouping samples that share a coefficient, so the result is
 * mean_n[λ_n·ℓ(a_n) + (1 − λ_n)·ℓ(b_n)] for any mean-reduced criterion. With class weights
 * (remix+drw) each group's loss is its own weighted mean, and groups count by their size.
 */
export function batchLoss(crit: Criterion, logits: Tensor, targets: Tensor, ctx: HookContext | null): Tensor {
  const mix = ctx?.labelMix;
  if (!mix) return crit(logits, targets);
  const mixed = (lg: Tensor, a: Tensor, b: Tensor, lam: number): Tensor => {
    if (lam === 1) return crit(lg, a);
    if (lam === 0) return crit(lg, b);
    return crit(lg, a)
      .mul(lam)
      .add(crit(lg, b).mul(1 - lam));
  };
  if (typeof mix.lam === 'number') return mixed(logits, mix.a, mix.b, mix.lam);
  const B = mix.lam.length;
  const groups = new Map<number, number[]>();
  mix.lam.forEach((v, n) => {
    const g = groups.get(v);
    if (g) g.push(n);
    else groups.set(v, [n]);
  });
  let total: Tensor | null = null;
  for (const [lam, members] of groups) {
    const idx = tensor(Int32Array.from(members), [members.length], 'int64');
    const part = mixed(logits.indexSelect(0, idx), mix.a.indexSelect(0, idx), mix.b.indexSelect(0, idx), lam).mul(
      members.length / B,
    );
    total = total === null ? part : total.add(part);
  }
  return total as Tensor;
}

export function buildModel(
  cfg: TrainConfig,
  recipe: Recipe,
  data: { numClasses: number; train: ImageSet },
): models.ClassifierModel {
  const normed = cfg.model.normedLinear === 'auto' ? recipe.normedLinear : cfg.model.normedLinear === 'on';
  const model = models.create(cfg.model.name, {
    numClasses: data.numClasses,
    normedLinear: normed,
    inChannels: data.train.shape[3],
  });
  // Channels-last is a CPU oneDNN speed-up (same values to rounding, ~3e-7 relative).
  return usesChannelsLast(cfg) ? model.toChannelsLast() : model;
}

export function usesChannelsLast(cfg: TrainConfig): boolean {
  return cfg.train.channelsLast && cfg.device === 'cpu';
}

/** Evaluates a model on an image set; returns the meter summary. */
export function evaluate(
  model: models.ClassifierModel,
  set: ImageSet,
  pipes: Pipelines,
  opts: { numClasses: number; trainCounts: number[]; batchSize: number },
): Record<string, unknown> {
  const meter = new ClassificationMeter(opts.numClasses, { trainCounts: opts.trainCounts });
  model.eval();
  const n = set.targets.length;
  noGrad(() => {
    for (let i = 0; i < n; i += opts.batchSize) {
      const idx = new Int32Array(Math.min(opts.batchSize, n - i)).map((_, k) => i + k);
      tidy(() => {
        const x = pipes.test(gatherImages(set, idx));
        const y = tensor(
          Int32Array.from(idx, (j) => set.targets[j]),
          [idx.length],
          'int64',
        );
        meter.update(model.forward(x), y);
      });
    }
  });
  return meter.summary() as unknown as Record<string, unknown>;
}

/** The uint8 NHWC images at `idx` as one tensor. */
export function gatherImages(set: ImageSet, idx: ArrayLike<number>): Tensor {
  const [, h, w, c] = set.shape;
  const per = h * w * c;
  const out = new Uint8Array(idx.length * per);
  for (let k = 0; k < idx.length; k++) out.set(set.images.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
  return tensor(out, [idx.length, h, w, c], 'uint8');
}

function selectionScore(summary: Record<string, unknown>): number {
  return Number(summary.top1 ?? 0);
}

/**
 * Trains a classifier as configured. Returns the run directory and the final and best metrics
 * (best by validation top-1 when a validation split exists, else by test top-1 as the papers report).
 */
export async function train(input: TrainConfigInput | TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const cfg = resolveConfig(input);
  if (cfg.device !== 'cpu') {
    // The engine and models take a device; the trainer's batch path is CPU-only until it is tested on a GPU.
    throw new ConfigError(`device: '${cfg.device}' is not supported by the trainer yet (allowed: cpu)`);
  }
  if (cfg.threads) setNumThreads(cfg.threads);
  const recipe = parseRecipe({ ...cfg.method }, cfg.data.imbType);
  const log =
    opts.log ?? (cfg.train.progress === 'off' ? () => undefined : (l: string) => process.stderr.write(l + '\n'));
  const name = cfg.name ?? defaultName(cfg);
  const run = opts.resume ? RunDir.open(`${cfg.outDir}/${name}`) : RunDir.create(cfg.outDir, name);

  const data = opts.data ?? buildTrainData(cfg);
  const pipes = batchPipelines(data, cfg.train.augment, { channelsLast: usesChannelsLast(cfg) });
  const epochs = cfg.train.epochs;
  const bs = cfg.train.batchSize;

  manualSeed(cfg.seed);
  const model = buildModel(cfg, recipe, data);
  const optimizer = new SGD(model.parameters(), {
    lr: cfg.optim.lr,
    momentum: cfg.optim.momentum,
    weightDecay: cfg.optim.weightDecay,
    nesterov: cfg.optim.nesterov,
  });
  const criterion = buildCriterion(recipe, cfg, data.clsNumList);

  let state: TrainerState = { epoch: -1, bestScore: -Infinity, bestEpoch: null, best: null };
  const ckpt = (n: string) => run.file('checkpoints', n);
  if (opts.resume && fs.existsSync(ckpt('last.state.json'))) {
    state = JSON.parse(fs.readFileSync(ckpt('last.state.json'), 'utf8')) as TrainerState;
    const w = loadSafetensors(ckpt('last.safetensors'));
    model.loadStateDict(w);
    dispose(w);
    const o = loadSafetensors(ckpt('last.optim.safetensors'));
    optimizer.loadStateDict({ tensors: o, meta: JSON.parse(fs.readFileSync(ckpt('last.optim.json'), 'utf8')) });
    dispose(o);
    run.truncateMetrics(state.epoch);
    log(`[ltkit] resuming ${run.dir} after epoch ${state.epoch + 1}/${epochs}`);
  } else if (!opts.resume) {
    run.writeRun({
      status: 'running',
      config: cfg,
      recipe: {
        text: recipe.text,
        components: recipe.components,
        slots: {
          loss: recipe.loss,
          classWeights: recipe.classWeightsRule,
          sampler: recipe.samplerRule,
          features: recipe.features?.name ?? null,
          classifier: recipe.classifier,
        },
      },
      data: {
        dataset: data.dataset,
        numClasses: data.numClasses,
        classNames: data.classNames,
        clsNumList: data.clsNumList,
        trainSize: data.train.targets.length,
        valSize: data.val?.targets.length ?? 0,
        testSize: data.test.targets.length,
        subsetHash: data.subset.hash,
        // What eval/predict need to rebuild the input pipeline from the run alone.
        imageShape: data.train.shape.slice(1),
        mean: data.mean,
        std: data.std,
      },
      versions: {
        ltkit: ltkitVersion(),
        libtorch: runtimeInfo().torchVersion,
        node: process.version,
        gitSha: gitSha(),
      },
      startedAt: new Date().toISOString(),
    });
    fs.writeFileSync(
      run.file('subset-indices.json'),
      JSON.stringify({ hash: data.subset.hash, indices: Array.from(data.subset.indices) }),
    );
  }
  log(
    `[ltkit] ${run.dir}: recipe ${recipe.text} (loss=${recipe.loss}, weights=${recipe.classWeightsRule}, ` +
      `sampler=${recipe.samplerRule}, features=${recipe.features?.name ?? 'none'}${recipe.classifier ? ', then ' + recipe.classifier : ''}); ` +
      `${data.train.targets.length} train / ${data.test.targets.length} test images, ${data.numClasses} classes`,
  );

  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(
      '\n[ltkit] interrupt: finishing this step; the last completed epoch stays checkpointed (Ctrl-C again to quit now)',
    );
  };
  process.on('SIGINT', onSigint);
  const cb = opts.callbacks ?? {};
  cb.onTrainBegin?.({ config: cfg, runDir: run.dir, startEpoch: state.epoch + 1 });
  const ruleOpts: RuleOptions = { epochs, deferFraction: cfg.method.deferFraction, beta: cfg.method.cbBeta };
  const progress = new Progress(log, cfg.train.progress);
  let ranEpochs = 0;
  let lastSummary: Record<string, unknown> | null = null;

  try {
    for (let epoch = state.epoch + 1; epoch < epochs && !interrupted; epoch++) {
      if (opts.stopAfterEpochs !== undefined && ranEpochs >= opts.stopAfterEpochs) break;
      cb.onEpochBegin?.(epoch);
      const t0 = Date.now();
      manualSeed(seedFor(cfg.seed, epoch, 0));
      const hookRng = new Rng(seedFor(cfg.seed, epoch, 1));
      const augRng = new AugRng(cfg.seed, epoch);
      const weights = classWeightsAt(recipe.classWeightsRule, epoch, data.clsNumList, ruleOpts);
      criterion.setWeight(weights);
      const sampling: SamplingKind = samplingAt(recipe.samplerRule, epoch, ruleOpts);
      const sampler = createSampler({
        kind: sampling,
        targets: data.train.targets,
        seed: cfg.seed,
        beta: cfg.method.cbBeta,
      });
      const order = sampler.epochIndices(epoch);
      const stepsFull = Math.floor(order.length / bs) + (order.length % bs > 0 ? 1 : 0);
      const steps = Math.min(stepsFull, cfg.train.maxStepsPerEpoch ?? Infinity);
      model.train();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let lr = 0;
      for (let step = 0; step < steps && !interrupted; step++) {
        lr = learningRate(cfg, epoch, step, steps);
        optimizer.setLr(lr);
        const idx = order.subarray(step * bs, Math.min(order.length, (step + 1) * bs));
        const yArr = Int32Array.from(idx, (i) => data.train.targets[i]);
        const [lossValue, nCorrect] = tidy(() => {
          const x = pipes.train(gatherImages(data.train, idx), augRng.fork(step));
          const y = tensor(yArr, [yArr.length], 'int64');
          let ctx: HookContext | null = null;
          let hook;
          if (recipe.features) {
            const h = recipe.features;
            ctx = { targets: y, targetsArray: yArr, clsNumList: data.clsNumList, rng: hookRng, labelMix: null };
            const c = ctx;
            hook = { stage: h.stage(hookRng), fn: (z: Tensor) => h.apply(z, c) };
          }
          const { logits } = model.forwardFeatures(x, { hook });
          const loss = batchLoss(criterion, logits, y, ctx);
          const v = loss.item();
          if (!Number.isFinite(v)) {
            throw new Error(
              `loss is ${v} at epoch ${epoch + 1}, step ${step + 1} (lr ${lr}); lower optim.lr or check the data`,
            );
          }
          optimizer.zeroGrad();
          loss.backward();
          optimizer.step();
          const nc = logits.argmax({ dim: 1 }).eq(y).sum().item();
          return [v, nc];
        });
        lossSum += lossValue * idx.length;
        correct += nCorrect;
        seen += idx.length;
        cb.onBatchEnd?.(epoch, step, { loss: lossValue, lr });
        // Let signal handlers (Ctrl-C) and other callbacks run between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
        progress.step({ epoch, epochs, step, steps, loss: lossSum / seen, lr, seen, t0 });
      }
      if (interrupted) break;
      const seconds = (Date.now() - t0) / 1000;
      const entry: EpochLog = {
        epoch,
        lr,
        loss: lossSum / Math.max(1, seen),
        lossTerms: { [recipe.loss]: lossSum / Math.max(1, seen) },
        trainAcc: correct / Math.max(1, seen),
        imgPerSec: seen / Math.max(1e-9, seconds),
        seconds,
      };
      const isLast = epoch === epochs - 1;
      if ((epoch + 1) % cfg.train.evalEvery === 0 || isLast) {
        const evalOpts = { numClasses: data.numClasses, trainCounts: data.clsNumList, batchSize: 256 };
        entry.test = evaluate(model, data.test, pipes, evalOpts);
        if (data.val) entry.val = evaluate(model, data.val, pipes, evalOpts);
        lastSummary = entry.test;
        const score = selectionScore(entry.val ?? entry.test);
        if (score > state.bestScore) {
          state.bestScore = score;
          state.bestEpoch = epoch;
          state.best = { epoch, test: entry.test, val: entry.val ?? null };
          saveState(ckpt('best.safetensors'), model.stateDict());
        }
      }
      progress.epochEnd(entry, state.bestEpoch);
      run.appendMetrics({ type: 'epoch', ...entry });
      state.epoch = epoch;
      // Checkpoint: weights, optimizer, then the state file last (it marks the checkpoint complete).
      if ((epoch + 1) % cfg.train.checkpointEvery === 0 || isLast) {
        saveState(ckpt('last.safetensors'), model.stateDict());
        const o = optimizer.stateDict();
        saveState(ckpt('last.optim.safetensors'), o.tensors);
        writeFileAtomic(ckpt('last.optim.json'), JSON.stringify(o.meta));
        writeFileAtomic(ckpt('last.state.json'), JSON.stringify(state));
      }
      cb.onEpochEnd?.(epoch, entry);
      ranEpochs++;
    }
  } finally {
    process.removeListener('SIGINT', onSigint);
  }

  const completed = state.epoch === epochs - 1;
  let classifierStage: Record<string, unknown> | null = null;
  if (completed && recipe.classifier && !interrupted) {
    classifierStage = runClassifierStage(recipe.classifier, { model, data, pipes, cfg, run, log });
  }
  const finalSummary = completed ? (lastSummary ?? readLastTest(run)) : null;
  const result: TrainResult = {
    runDir: run.dir,
    status: completed ? 'completed' : 'interrupted',
    epochs: state.epoch + 1,
    final: finalSummary,
    best: state.best,
    bestEpoch: state.bestEpoch,
    classifierStage,
  };
  run.updateRun({
    status: result.status,
    finishedAt: new Date().toISOString(),
    epochsDone: state.epoch + 1,
    final: summaryHead(finalSummary),
    best: state.best ? { epoch: state.bestEpoch, ...summaryHead(state.best.test as Record<string, unknown>) } : null,
    classifierStage: classifierStage ? summaryHead(classifierStage.test as Record<string, unknown>) : null,
  });
  fs.writeFileSync(
    run.file('final-metrics.json'),
    JSON.stringify({ final: finalSummary, best: state.best, classifierStage }, null, 2),
  );
  cb.onTrainEnd?.(result);
  // Free the native tensors this call owns (weights, momentum buffers, cached per-class vectors).
  model.dispose();
  optimizer.dispose();
  criterion.dispose();
  return result;
}

/** Saves detached state-dict views, then frees the views (the storage stays with the module). */
function saveState(file: string, views: Record<string, Tensor>): void {
  try {
    saveSafetensors(file, views);
  } finally {
    dispose(views);
  }
}

function readLastTest(run: RunDir): Record<string, unknown> | null {
  const ms = run.readMetrics().filter((m) => m.test);
  return ms.length ? (ms[ms.length - 1].test as Record<string, unknown>) : null;
}

function summaryHead(s: Record<string, unknown> | null | undefined): Record<string, unknown> | null {
  const h = headline(s);
  return h ? { ...h } : null;
}
