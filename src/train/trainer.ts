// train(): a run from a configuration — the run directory, the data, the recipe's plan, the model and the
// stages (the main supervised stage, then every stage the recipe's components add), each trained by the
// one loop (loop.ts) with the trainer's hooks (hooks.ts).
//
// Determinism and resume: every epoch reseeds from (seed, stage, epoch) (loop.ts), and checkpoints are
// crash-consistent (checkpoint.ts). A resumed run takes its configuration from run.json (a result-changing
// difference on the command line is refused), loads the last checkpoint and reaches the same weights and
// metrics as an uninterrupted run (resume.test.ts kills one with SIGKILL).
import * as fs from 'fs';
import {
  manualSeed,
  setNumThreads,
  runtimeInfo,
  dispose,
  resolvePrecision,
  setDefaultDevice,
  defaultDevice,
} from '../engine';
import type { ClassificationSummary } from '../eval/metrics';
import { headline } from '../eval/headline';
import { buildTrainData, TrainData } from '../data/train-data';
import { splitImages } from '../data/split-images';
import type { SplitImages } from '../data/split-images';
import { DataLoader, InMemorySource, EpochSampler } from '../data/loader';
import type { Batch } from '../data/loader';
import { countsProfile, formatProfile } from '../data/stream';
import { recommend } from '../data/recommend';
import type { StreamedSplits } from '../data/stream';
import type { BatchStream } from '../core/task';
import { parseRecipe, buildPlan, describeRecipe } from '../methods';
import type { MethodPlan, StageEnv, StageFactory, UnlabeledTerm, ViewKind } from '../methods';
import { InstanceSampler } from '../data/samplers';
import type { Criterion } from '../losses';
import type { Tensor } from '../engine';
import { POOL_FILE } from '../data/pseudo-labels';
import type { ExecContext } from '../core/context';
import { executionContext, broadcastModule, broadcastBuffers, fromMain, syncBatchNorms } from './parallel';
import type { ClassifierModel } from '../models';
import type { EvalSplit, TrainingStage } from '../core/task';
import { TrainConfig, TrainConfigInput, resolveConfig, resumeConfig, ConfigError } from './config';
import { RunDir, RunFileError, RunState, gitSha, ltkitVersion } from './run-dir';
import { runStage, stageScaler, Hook, LoopControl, EpochLog, StageSummary } from './loop';
import { lrSchedule, evaluation, metricsLog, runState, checkpoints, interrupt, stopAfterEpochs } from './hooks';
import { Progress } from './progress';
import { batchPipelines, streamPipelines, unlabeledViews, InputSpec } from './pipelines';
import { buildModel } from './run-model';
import { evaluateModel, extractFeatures, supervisedStage } from './classification';
import { writeFileAtomic } from '../util/fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { modelOutputs, pretext, PretextEnv } from '../ssp/pretext';
import { loadBackbone, formatInitReport, InitReport } from './init-from';
import { analysisHook, anyAnalysis, checkAnalysis } from '../analysis/hooks';
import type { AnalysisEnv } from '../analysis/hooks';

/** The simple callback form of hooks (tfjs style); `TrainOptions.hooks` takes full Hook objects. */
export interface Callbacks {
  onTrainBegin?(ctx: { config: TrainConfig; runDir: string; startEpoch: number }): void;
  onEpochBegin?(epoch: number, stage: string): void;
  /** `loss` is this step's loss (the sum of its terms, each in `terms`). */
  onBatchEnd?(
    epoch: number,
    step: number,
    logs: { loss: number; terms: Record<string, number>; lr: number; stage: string },
  ): void;
  onEpochEnd?(epoch: number, logs: EpochLog): void;
  onTrainEnd?(result: TrainResult): void;
}

export interface TrainOptions {
  /** Continue the named run from its last checkpoint (its run.json's configuration). */
  resume?: boolean;
  /** Replace an existing run of the same name (without it, an existing run is refused). */
  overwrite?: boolean;
  callbacks?: Callbacks;
  /** Hooks run after the trainer's own (hooks.ts lists the order). */
  hooks?: Hook[];
  /** Where progress and messages go (default: stderr, unless config.train.progress is 'off'). */
  log?: (line: string) => void;
  /** Stop after this many epochs of this invocation (tests use it to stand in for a kill). */
  stopAfterEpochs?: number;
  /** Reuse already-built data (e.g. two runs on one data set). */
  data?: TrainData;
}

export interface TrainResult {
  runDir: string;
  status: 'completed' | 'interrupted';
  /** Epochs of the main stage completed. */
  epochs: number;
  /** The final model (after every stage) on the test split; null until the run completes. */
  final: ClassificationSummary | null;
  /** The selected epoch of the main stage (by validation top-1, else test top-1). */
  best: { epoch: number; test: ClassificationSummary | null; val: ClassificationSummary | null } | null;
  bestEpoch: number | null;
  /** Every completed stage: its record (e.g. τ-norm's τ) and evaluation. */
  stages: StageSummary[];
}

function defaultName(cfg: TrainConfig): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${cfg.data.dataset}-${cfg.data.imbType}${cfg.data.rho}-${cfg.method.recipe.replace(/\+/g, '_')}-${t}`;
}

function callbackHook(cb: Callbacks, begin: () => Parameters<NonNullable<Callbacks['onTrainBegin']>>[0]): Hook {
  return {
    onRunBegin: () => cb.onTrainBegin?.(begin()),
    onEpochBegin: (e) => cb.onEpochBegin?.(e.epoch, e.stage),
    onStepEnd: (s) =>
      cb.onBatchEnd?.(s.epoch, s.step, { loss: s.stepLoss, terms: s.stepLosses, lr: s.lr, stage: s.stage.name }),
    onEpochEnd: (log) => cb.onEpochEnd?.(log.epoch, log),
  };
}

/**
 * Opens the run (new, or resumed with its own configuration), settles the configuration and takes the
 * run's lock (released by `release`). With several processes only rank 0 creates, locks and cleans the run
 * directory; the others open it once rank 0 has (they write nothing there).
 */
function openRun(
  requested: TrainConfig,
  o: TrainOptions,
  ctx: ExecContext,
): { run: RunDir; cfg: TrainConfig; release(): void } {
  const name = requested.name ?? defaultName(requested);
  if (o.resume && !requested.name) {
    throw new ConfigError('--resume needs the name of the run to continue (name / --name)');
  }
  if (!ctx.isMain) {
    ctx.group?.barrier(); // rank 0 has created (or checked) the run directory
    if (!o.resume)
      return {
        run: new RunDir(path.resolve(requested.outDir, name)),
        cfg: { ...requested, name },
        release: () => undefined,
      };
    const run = RunDir.open(`${requested.outDir}/${name}`);
    return { run, cfg: resumeConfig(runConfig(run), requested, run.file('run.json')), release: () => undefined };
  }
  const opened = ((): { run: RunDir; cfg: TrainConfig; release(): void } => {
    if (!o.resume) {
      const run = RunDir.create(requested.outDir, name, { overwrite: o.overwrite });
      return { run, cfg: { ...requested, name }, release: run.lock() };
    }
    const run = RunDir.open(`${requested.outDir}/${name}`);
    const release = run.lock();
    try {
      const cfg = resumeConfig(runConfig(run), requested, run.file('run.json'));
      run.removeStale();
      return { run, cfg, release };
    } catch (e) {
      release();
      throw e;
    }
  })();
  ctx.group?.barrier();
  return opened;
}

/** What a run is made of, once its configuration is settled. */
interface RunParts {
  cfg: TrainConfig;
  run: RunDir;
  data: TrainData;
  model: ClassifierModel;
  factories: StageFactory[];
  env: StageEnv;
  evaluate(split: EvalSplit): ClassificationSummary | null;
  log(line: string): void;
  /** What the starting encoder filled (model.initFrom / ssp-*), or null. */
  initReport: InitReport | null;
  /** What the analyses run on (src/analysis); null for a pre-training run (no classifier to analyse). */
  analysis: Omit<AnalysisEnv, 'write'> | null;
}

/**
 * Trains as configured. Returns the run directory and the final and best metrics (best by validation top-1
 * when a validation split exists, else by test top-1 as the papers report).
 */
export async function train(config: TrainConfigInput | TrainConfig, opts: TrainOptions = {}): Promise<TrainResult> {
  const requested = resolveConfig(config);
  checkDevice(requested.device);
  let ctx: ExecContext = executionContext({
    findUnusedParameters: requested.train.findUnusedParameters,
    device: requested.device,
    channelsLast: requested.train.channelsLast,
    precision: resolvePrecision(requested.train.precision, requested.device),
  });
  const previousDevice = defaultDevice();
  const { run, cfg, release } = openRun(requested, opts, ctx);
  try {
    // A resumed run keeps the precision it started with ('auto' may resolve otherwise on another machine).
    const saved = opts.resume ? run.readRun().precision : undefined;
    if (saved && saved !== ctx.precision) ctx = { ...ctx, precision: saved };
    const log = logFor(cfg, opts, ctx);
    const init = await startingEncoder(cfg, opts, log, ctx);
    if (init && typeof init !== 'string') return init; // the pre-training stopped (Ctrl-C): so does this run
    // New tensors (batches, the methods' own) go to the run's device, until this run ends.
    setDefaultDevice(ctx.device);
    return await trainRun(run, cfg, ctx, { ...opts, log }, init);
  } finally {
    setDefaultDevice(previousDevice);
    release();
  }
}

/**
 * `device`: 'cpu', or a CUDA device this libtorch has. On a GPU every tensor a run makes goes there: the model,
 * the batches (uploaded as uint8 and augmented on the device), the methods' own tensors (setDefaultDevice).
 */
function checkDevice(device: string): void {
  const m = /^cuda(?::(\d+))?$/.exec(device);
  if (device === 'cpu') return;
  if (!m) throw new ConfigError(`device: '${device}' (allowed: cpu, cuda, cuda:N)`);
  const info = runtimeInfo();
  if (!info.cuda) {
    throw new ConfigError(
      `device: '${device}', but this libtorch (${info.torchVersion}) has no CUDA; build ltkit against a CUDA ` +
        `libtorch (LIBTORCH=/path/to/libtorch bash scripts/setup.sh) on a machine with a GPU`,
    );
  }
  const index = Number(m[1] ?? 0);
  if (index >= info.cudaDevices) {
    throw new ConfigError(`device: '${device}', but there are ${info.cudaDevices} CUDA devices`);
  }
}

/**
 * Self-supervised pre-training (S1 §4): `train` with `pretrain.method` (default 'rotation'); the run's one
 * stage is the pretext task and its metrics the kNN monitor.
 */
export async function pretrain(config: TrainConfigInput, opts: TrainOptions = {}): Promise<TrainResult> {
  const method = config.pretrain?.method && config.pretrain.method !== 'none' ? config.pretrain.method : 'rotation';
  return train({ ...config, pretrain: { ...config.pretrain, method } }, opts);
}

function logFor(cfg: TrainConfig, opts: TrainOptions, ctx: ExecContext): (line: string) => void {
  // With several processes only rank 0 talks (the others' lines would repeat its own).
  if (!ctx.isMain) return () => undefined;
  return opts.log ?? (cfg.train.progress === 'off' ? () => undefined : (l: string) => process.stderr.write(l + '\n'));
}

/**
 * Where the model's backbone starts from: `model.initFrom`, or the pre-training run of the recipe's `ssp-*`
 * component — trained now if no run with the same content exists (data, model, optimizer, schedule, seed and
 * pre-training settings), resumed if one stopped, reused if one finished. Null: a fresh initialisation.
 * Returns the pre-training's result instead when it did not finish (a stop request).
 */
async function startingEncoder(
  cfg: TrainConfig,
  opts: TrainOptions,
  log: (l: string) => void,
  ctx: ExecContext,
): Promise<string | TrainResult | null> {
  // Only the recipe's pretrain-slot component is built: it needs no class counts.
  const pretrainSlot = parseRecipe(cfg.method.recipe).bySlot.get('pretrain');
  const method = pretrainSlot?.build({ settings: cfg, clsNumList: [], numClasses: 0 }).pretrain ?? null;
  if (method && cfg.model.initFrom) {
    throw new ConfigError(`model.initFrom and the recipe's ssp-${method} both choose the starting encoder; keep one`);
  }
  if (method && cfg.pretrain.method !== 'none') {
    throw new ConfigError(`pretrain.method: a pre-training run cannot itself start from ssp-${method}`);
  }
  if (!method) return cfg.model.initFrom ?? null;
  const p = pretrainingConfig(cfg, method);
  const dir = path.join(p.outDir, p.name as string);
  // Rank 0 decides (the others would race its creation of the run), and only rank 0 reads the run's files.
  const onDisk = ctx.isMain && fs.existsSync(path.join(dir, 'run.json'));
  const [exists, done] = fromMain(ctx, [
    onDisk ? 1 : 0,
    onDisk && RunDir.open(dir).readRun().status === 'completed' ? 1 : 0,
  ]).map(Boolean);
  if (done) {
    log(`[ltkit] ssp-${method}: reusing the finished pre-training run ${dir}`);
    return dir;
  }
  log(`[ltkit] ssp-${method}: ${exists ? 'resuming' : 'starting'} the pre-training run ${dir}`);
  const r = await train(p, { resume: exists, log, hooks: opts.hooks, stopAfterEpochs: opts.stopAfterEpochs });
  return r.status === 'completed' ? dir : r;
}

/**
 * The pre-training run an `ssp-*` component needs: the run's data (labeled images only), model, optimizer,
 * schedule and seed, `pretrain.epochs` epochs, under `<outDir>/pretrain/<method>-<hash of all that>`.
 */
export function pretrainingConfig(cfg: TrainConfig, method: string): TrainConfig {
  const content = resolveConfig({
    seed: cfg.seed,
    device: cfg.device,
    data: { ...cfg.data, unlabeled: undefined },
    model: { name: cfg.model.name },
    optim: cfg.optim,
    schedule: cfg.schedule,
    train: { ...cfg.train, epochs: cfg.pretrain.epochs ?? cfg.train.epochs, progress: 'auto', checkpointEvery: 1 },
    pretrain: { ...cfg.pretrain, method, epochs: undefined },
  });
  const hash = createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 12);
  return {
    ...content,
    name: `${method}-${hash}`,
    outDir: path.join(cfg.outDir, 'pretrain'),
    threads: cfg.threads,
    train: { ...content.train, progress: cfg.train.progress, checkpointEvery: cfg.train.checkpointEvery },
  };
}

async function trainRun(
  run: RunDir,
  cfg: TrainConfig,
  ctx: ExecContext,
  opts: TrainOptions & { log: (l: string) => void },
  init: string | null,
): Promise<TrainResult> {
  if (cfg.threads) setNumThreads(cfg.threads);
  const log = opts.log;
  const data = opts.data ?? buildTrainData(cfg.data);
  if (data.files && ctx.isMain) logStreamedData(data.files, data.clsNumList, log);
  const parts = assemble(cfg, run, ctx, data, log, init);
  broadcastModule(ctx, parts.model); // every rank starts from rank 0's weights (a resume loads them after)
  if (cfg.train.syncBatchNorm && ctx.worldSize > 1) {
    log(
      `[ltkit] SyncBatchNorm: ${syncBatchNorms(ctx, parts.model)} BatchNorm layers take statistics over ${ctx.worldSize} processes`,
    );
  }
  const stageNames = parts.factories.map((f) => f.name);
  const state = opts.resume ? prepareResume(parts, stageNames) : recordNewRun(parts, stageNames);
  log(
    `[ltkit] ${run.dir}: recipe ${cfg.method.recipe} (${describeSlots(parseRecipe(cfg.method.recipe))}); ` +
      `stages ${stageNames.join(' → ')}; ${parts.data.train.targets.length} train / ` +
      `${parts.data.test.targets.length} test images, ${parts.data.numClasses} classes; precision ${ctx.precision}` +
      (cfg.train.precision === 'auto' ? ' (auto)' : ''),
  );

  const control: LoopControl = { stopRequested: false };
  const main = ctx.isMain;
  const store = run.checkpoints;
  const hooks: Hook[] = [
    lrSchedule(),
    // Several processes: rank 0's BatchNorm statistics everywhere before the epoch's evaluation (DDP's buffers).
    ...(ctx.group ? [{ onEpochEnd: () => broadcastBuffers(ctx, parts.model) }] : []),
    evaluation(state, { model: parts.model, store }),
    ...(main ? analysisHooks(parts) : []),
    ...(main ? [metricsLog(run)] : []),
    runState(state),
    ...(main ? [checkpoints(state, { model: parts.model, store, every: cfg.train.checkpointEvery })] : []),
    new Progress(log, main ? cfg.train.progress : 'off', () => state.best?.epoch ?? null),
    interrupt(control, log),
    ...(opts.hooks ?? []),
    ...(opts.callbacks
      ? [callbackHook(opts.callbacks, () => ({ config: cfg, runDir: run.dir, startEpoch: state.epoch + 1 }))]
      : []),
    ...(opts.stopAfterEpochs !== undefined ? [stopAfterEpochs(opts.stopAfterEpochs, control)] : []),
  ];
  try {
    await runStages(parts, state, hooks, control, { resume: Boolean(opts.resume && store.manifest()), ctx });
  } catch (e) {
    // The run stays resumable from its last checkpoint; run.json says what stopped it.
    if (main) run.updateRun({ status: 'failed', finishedAt: new Date().toISOString(), error: (e as Error).message });
    parts.model.dispose();
    throw e;
  }

  const completed = state.stagesDone >= parts.factories.length;
  const last = state.stages[state.stages.length - 1];
  const result: TrainResult = {
    runDir: run.dir,
    status: completed ? 'completed' : 'interrupted',
    epochs: state.stagesDone > 0 ? cfg.train.epochs : state.epoch + 1,
    final: completed ? last.test : null,
    best: state.best ? { epoch: state.best.epoch, test: state.best.test, val: state.best.val } : null,
    bestEpoch: state.best?.epoch ?? null,
    stages: state.stages,
  };
  if (main) {
    run.updateRun({
      status: result.status,
      error: undefined,
      finishedAt: new Date().toISOString(),
      epochsDone: result.epochs,
      final: headline(result.final),
      best: state.best ? { epoch: state.best.epoch, ...(headline(state.best.test) ?? emptyHeadline()) } : null,
    });
    run.writeFinal({ final: result.final, best: result.best, stages: result.stages });
  }
  opts.callbacks?.onTrainEnd?.(result);
  // Free the native tensors this call owns (weights; each stage freed its optimizer and caches).
  parts.model.dispose();
  return result;
}

/** The recipe's plan, the model, and the stages with the environment they draw on. */
function assemble(
  cfg: TrainConfig,
  run: RunDir,
  ctx: ExecContext,
  data: TrainData,
  log: (l: string) => void,
  init: string | null,
): RunParts {
  const recipe = parseRecipe(cfg.method.recipe);
  const plan = buildPlan(recipe, { settings: cfg, clsNumList: data.clsNumList, numClasses: data.numClasses });
  const input = { imageShape: data.train.shape.slice(1) as [number, number, number], mean: data.mean, std: data.std };
  const files = data.files ?? null;
  if (files) checkStreamable(cfg);
  const pipes = files
    ? streamPipelines({ ...files, mean: data.mean, std: data.std }, cfg.train.augment, {
        channelsLast: ctx.channelsLast,
      })
    : batchPipelines(input, cfg.train.augment, { channelsLast: ctx.channelsLast });
  manualSeed(cfg.seed);
  const outputs = modelOutputs(cfg, data.numClasses);
  const model = buildModel(cfg, plan.normedLinear, { numClasses: outputs, inChannels: input.imageShape[2], ctx });
  // The starting encoder (model.initFrom / ssp-*): its backbone, checked key by key; the head stays fresh. A
  // resumed run loads its checkpoint over it.
  let initReport: InitReport | null = null;
  if (init) {
    initReport = loadBackbone(model, init);
    log(formatInitReport(initReport));
  }

  // Every reader of the run's images goes through its splits (in memory or streamed from files).
  const splits = {
    train: splitImages(data, 'train', log) as SplitImages,
    val: splitImages(data, 'val', log),
    test: splitImages(data, 'test', log),
  };
  const evaluate = (split: EvalSplit) => {
    const set = splits[split];
    // Shot groups by the labeled images per class (pseudo-labels do not move a class between groups).
    return set
      ? evaluateModel(model, set, pipes.test, { numClasses: data.numClasses, trainCounts: data.labeledCounts, ctx })
      : null;
  };
  // train.batchSize is the global batch: each process takes its share of every epoch and of every batch.
  if (cfg.train.batchSize % ctx.worldSize !== 0) {
    throw new ConfigError(`train.batchSize: ${cfg.train.batchSize} is not divisible by ${ctx.worldSize} processes`);
  }
  const trainLoader = (sampler: EpochSampler): BatchStream<Batch> =>
    splits.train.loader({
      sampler,
      batchSize: cfg.train.batchSize / ctx.worldSize,
      transform: pipes.train,
      geometry: 'train',
      seed: cfg.seed,
      shard: { rank: ctx.rank, worldSize: ctx.worldSize },
    });
  const env: StageEnv = {
    model,
    settings: cfg,
    ctx,
    numClasses: data.numClasses,
    clsNumList: data.clsNumList,
    trainTargets: data.train.targets,
    trainLoader,
    features: (split) => {
      const set = splits[split];
      return set ? extractFeatures(model, set, pipes.test, { group: ctx.group }) : null;
    },
    evaluate,
    log,
  };
  if (cfg.pretrain.method !== 'none') {
    // A pre-training run: its one stage is the pretext task (the recipe does not apply).
    if (cfg.method.recipe !== 'ce') {
      throw new ConfigError(
        `pretrain.method: a pre-training run trains its pretext task, not method.recipe '${cfg.method.recipe}'`,
      );
    }
    const task = pretext(cfg.pretrain.method);
    const penv: PretextEnv = {
      cfg,
      model,
      data,
      input,
      pipes,
      splits,
      ctx,
      cloneModel: () => buildModel(cfg, false, { numClasses: outputs, inChannels: input.imageShape[2], ctx }),
    };
    const stage: StageFactory = { name: task.name, build: () => task.stage(penv) };
    return { cfg, run, data, model, factories: [stage], env, evaluate, log, initReport, analysis: null };
  }
  const unlabeled = unlabeledStream(cfg, plan, data, input, ctx, {
    model,
    numClasses: data.numClasses,
    cloneModel: () =>
      buildModel(cfg, plan.normedLinear, { numClasses: data.numClasses, inChannels: input.imageShape[2], ctx }),
  });
  const main: StageFactory = {
    name: 'train',
    build: () => {
      const sampler = plan.createSampler(data.train.targets, cfg.seed);
      const loader = trainLoader(sampler);
      const targets = data.train.targets;
      return supervisedStage(cfg, {
        model,
        plan,
        sampler,
        loader,
        targets,
        clsNumList: data.clsNumList,
        evaluate,
        unlabeled: unlabeled ?? undefined,
      });
    },
  };
  const analysis = {
    model,
    train: splits.train,
    test: splits.test as SplitImages,
    transform: pipes.test,
    numClasses: data.numClasses,
    createCriterion: () => plan.createCriterion(),
    classWeightsAt: (epoch: number) => plan.classWeightsAt(epoch),
    seed: cfg.seed,
  };
  return { cfg, run, data, model, factories: [main, ...plan.stages], env, evaluate, log, initReport, analysis };
}

/**
 * The main stage's unlabeled stream, when it has one: the pool for a recipe's `unlabeled` method (Mean
 * Teacher, VAT, FixMatch), or the pseudo-labeled pool images of `data.unlabeled.use: stream` with their
 * weight ω. `data.unlabeled.ratio` unlabeled images per labeled image in each step.
 */
function unlabeledStream(
  cfg: TrainConfig,
  plan: MethodPlan,
  data: TrainData,
  input: InputSpec,
  ctx: ExecContext,
  env: { model: ClassifierModel; numClasses: number; cloneModel(): ClassifierModel },
): { loader: DataLoader<Tensor[]>; terms(criterion: Criterion): UnlabeledTerm[] } | null {
  const method = plan.unlabeled;
  const u = cfg.data.unlabeled;
  if (method && !data.pool) {
    const name = plan.recipe.bySlot.get('unlabeled')?.name;
    throw new ConfigError(
      `method.recipe '${cfg.method.recipe}': '${name}' trains on unlabeled images; set data.unlabeled ` +
        `(e.g. --set data.unlabeled.k=5 for DU@5× from the held-out images)`,
    );
  }
  if (method && data.pseudoStream) {
    throw new ConfigError(
      `data.unlabeled.use: 'stream' and the recipe's unlabeled method both need the unlabeled stream; ` +
        `use 'concat' for the pseudo-labels, or drop the method from method.recipe`,
    );
  }
  const set = method ? data.pool?.images : data.pseudoStream;
  if (!set || !u) return null;
  if (set.targets.length === 0) throw new ConfigError('data.unlabeled: the unlabeled stream has no images');
  const views: ViewKind[] = method ? method.views : ['weak'];
  const perProcess = Math.max(1, Math.round((u.ratio * cfg.train.batchSize) / ctx.worldSize));
  const loader = new DataLoader(new InMemorySource(set), {
    sampler: new InstanceSampler(set.targets.length, cfg.seed + 1),
    batchSize: perProcess,
    transform: unlabeledViews(input, views, { channelsLast: ctx.channelsLast }),
    seed: cfg.seed + 1,
    shard: { rank: ctx.rank, worldSize: ctx.worldSize },
  });
  const weight = u.weight;
  return {
    loader,
    terms: (criterion) =>
      method
        ? [method.create(env)]
        : [
            {
              // ω · L(D_U): the run's own criterion (its class weights and margins) on the pseudo-labels.
              name: 'pseudo',
              joint: [0],
              loss: (s) => criterion(s.logits[0], s.targets).mul(weight),
            },
          ],
  };
}

/** The analyses hook when the config asks for any (analysis.*), writing to analysis.jsonl. */
function analysisHooks(p: RunParts): Hook[] {
  const s = p.cfg.analysis;
  if (!anyAnalysis(s)) return [];
  if (!p.analysis)
    throw new ConfigError('analysis: a pre-training run has no classifier to analyse; turn the analyses off');
  checkAnalysis(s, { model: p.model, epochs: p.cfg.train.epochs });
  return [analysisHook(s, { ...p.analysis, write: (r) => p.run.appendAnalysis(r) })];
}

/** Writes a new run's run.json and subset indices; the run starts at the first stage. */
function recordNewRun(p: RunParts, stageNames: string[]): RunState {
  const { cfg, run, data } = p;
  const r = p.initReport;
  run.writeRun({
    init: r ? { source: r.source, file: r.file, loaded: r.loaded.length, skipped: r.skipped.length } : null,
    format: 1,
    status: 'running',
    config: cfg,
    recipe: describeRecipe(parseRecipe(cfg.method.recipe)),
    stages: stageNames,
    data: {
      dataset: data.dataset,
      numClasses: data.numClasses,
      classNames: data.classNames,
      clsNumList: data.clsNumList,
      trainSize: data.train.targets.length,
      valSize: data.val?.targets.length ?? 0,
      testSize: data.test.targets.length,
      subsetHash: data.subset.hash,
      subsetSeed: cfg.data.subsetSeed,
      imageShape: data.train.shape.slice(1) as [number, number, number],
      mean: data.mean,
      std: data.std,
      labeledCounts: data.labeledCounts,
      pool: data.pool
        ? {
            hash: data.pool.manifest.hash,
            total: data.pool.manifest.total,
            relevantTotal: data.pool.manifest.relevantTotal,
            outOfTaskTotal: data.pool.manifest.outOfTaskTotal,
          }
        : null,
      pseudoLabels: data.pseudo,
    },
    versions: { ltkit: ltkitVersion(), libtorch: runtimeInfo().torchVersion, node: process.version, gitSha: gitSha() },
    precision: p.env.ctx.precision,
    world: { size: p.env.ctx.worldSize, device: p.env.ctx.device, syncBatchNorm: cfg.train.syncBatchNorm },
    startedAt: new Date().toISOString(),
  });
  writeSubsetIndices(run, data);
  if (data.pool) writeFileAtomic(run.file(POOL_FILE), JSON.stringify(data.pool.manifest));
  if (p.initReport) writeFileAtomic(run.file('init-report.json'), JSON.stringify(p.initReport, null, 1));
  return { stagesDone: 0, epoch: -1, best: null, stages: [] };
}

function writeSubsetIndices(run: RunDir, data: TrainData): void {
  writeFileAtomic(
    run.file('subset-indices.json'),
    JSON.stringify({ hash: data.subset.hash, indices: Array.from(data.subset.indices) }),
  );
}

/**
 * Where a resumed run stands: its last checkpoint's state, after checking the data is the run's own and
 * dropping the metrics lines the run will redo (a torn last line, from a kill mid-append, is repaired).
 */
function prepareResume(p: RunParts, stageNames: string[]): RunState {
  const { run, data, log } = p;
  const info = run.readRun();
  if (info.data.subsetHash !== data.subset.hash) {
    throw new RunFileError(
      `${run.file('run.json')}: the run trained on subset ${info.data.subsetHash.slice(0, 12)}…, ` +
        `the data now gives ${data.subset.hash.slice(0, 12)}… (a different data set or selection); not resuming`,
    );
  }
  const poolHash = data.pool?.manifest.hash ?? null;
  if ((info.data.pool?.hash ?? null) !== poolHash) {
    throw new RunFileError(
      `${run.file('run.json')}: the run's unlabeled pool was ${info.data.pool?.hash.slice(0, 12) ?? 'none'}, the data ` +
        `now gives ${poolHash?.slice(0, 12) ?? 'none'}; not resuming`,
    );
  }
  if ((info.data.pseudoLabels?.sha256 ?? null) !== (data.pseudo?.sha256 ?? null)) {
    throw new RunFileError(
      `${run.file('run.json')}: the run trained with pseudo-labels ${info.data.pseudoLabels?.file ?? '(none)'} ` +
        `(sha256 ${info.data.pseudoLabels?.sha256.slice(0, 12) ?? '-'}…), that file has changed since; not resuming`,
    );
  }
  // A run killed before its subset list (or pool manifest) was written gets it now.
  if (!fs.existsSync(run.file('subset-indices.json'))) writeSubsetIndices(run, data);
  if (data.pool && !fs.existsSync(run.file(POOL_FILE))) {
    writeFileAtomic(run.file(POOL_FILE), JSON.stringify(data.pool.manifest));
  }
  const state: RunState = run.readState() ?? { stagesDone: 0, epoch: -1, best: null, stages: [] };
  const warn = (w: string) => log(`[ltkit] warning: ${w}`);
  if (!fs.existsSync(run.file('metrics.jsonl')) && (state.stagesDone > 0 || state.epoch >= 0)) {
    warn(`${run.file('metrics.jsonl')} is missing: the resumed run logs only the epochs it trains from now on`);
  }
  run.rewriteMetrics((l) => {
    const s = stageNames.indexOf(l.stage);
    return s < state.stagesDone || (s === state.stagesDone && l.type === 'epoch' && l.epoch <= state.epoch);
  }, warn);
  run.rewriteAnalysis((r) => {
    const s = stageNames.indexOf(r.stage);
    return s < state.stagesDone || (s === state.stagesDone && r.epoch <= state.epoch);
  }, warn);
  log(
    state.stagesDone >= stageNames.length
      ? `[ltkit] ${run.dir}: already completed`
      : `[ltkit] resuming ${run.dir}: stage '${stageNames[state.stagesDone]}' after epoch ${state.epoch + 1}`,
  );
  return state;
}

/**
 * Runs the stages from where `state` stands. On resume, completed stages give the model their structure
 * (restore) before the checkpoint's weights load; weights taken inside a stage load into that stage's
 * structure, after it is built.
 */
async function runStages(
  p: RunParts,
  state: RunState,
  hooks: Hook[],
  control: LoopControl,
  o: { resume: boolean; ctx: ExecContext },
): Promise<void> {
  const { factories, model, run } = p;
  for (let i = 1; i < Math.min(state.stagesDone, factories.length); i++) {
    factories[i].restore?.(model, state.stages[i].result);
  }
  let lastLog: EpochLog | null = null;
  const track: Hook = { onEpochEnd: (l) => void (lastLog = l) };
  const all = [...hooks, track];
  try {
    for (const h of all) h.onRunBegin?.();
    if (o.resume && state.epoch < 0) loadModel(run, model);
    for (let i = state.stagesDone; i < factories.length && !control.stopRequested; i++) {
      const stage = factories[i].build(p.env);
      try {
        if (o.resume && i === state.stagesDone && state.epoch >= 0) loadStage(run, model, stage, state);
        for (const h of all) h.onStageBegin?.(stage, i);
        lastLog = null;
        const from = state.epoch + 1;
        if (!(await runStage(stage, { stageIndex: i, from, seed: p.cfg.seed, hooks: all, control, ctx: o.ctx }))) break;
        const result = stage.finish?.() ?? {};
        // A stage without `finish` left the model as its last epoch evaluated it.
        const reuse = stage.finish ? null : (lastLog as EpochLog | null);
        const summary: StageSummary = {
          name: stage.name,
          result,
          test: reuse ? (reuse.test ?? null) : p.evaluate('test'),
          val: reuse ? (reuse.val ?? null) : p.evaluate('val'),
        };
        for (const h of all) h.onStageEnd?.(summary, stage);
      } finally {
        stage.dispose();
      }
    }
  } finally {
    for (const h of all) h.onRunEnd?.();
  }
}

function emptyHeadline() {
  return { top1: null, top5: null, balancedAccuracy: null, macroF1: null, many: null, medium: null, few: null };
}

function describeSlots(recipe: ReturnType<typeof parseRecipe>): string {
  return [...recipe.bySlot].map(([slot, c]) => `${slot}=${c.name}`).join(', ');
}

/** Loads the checkpoint's model weights. */
function loadModel(run: RunDir, model: ClassifierModel) {
  const w = run.checkpoints.loadTensors('model.safetensors');
  try {
    model.loadStateDict(w);
  } finally {
    dispose(w);
  }
}

/** Loads a checkpoint taken inside `stage`: model, optimizer, gradient scaler and the stage's extra state. */
export function loadStage(run: RunDir, model: ClassifierModel, stage: TrainingStage, state: RunState): void {
  loadModel(run, model);
  const store = run.checkpoints;
  if (stage.optimizer && store.file('optimizer.safetensors')) {
    const t = store.loadTensors('optimizer.safetensors');
    try {
      stage.optimizer.loadStateDict({ tensors: t, meta: state.optimizer });
    } finally {
      dispose(t);
    }
  }
  if (state.scaler) stageScaler(stage).loadStateDict(state.scaler, `${run.checkpoints.dir}: state.json scaler`);
  if (stage.loadExtraState && store.file('extra.safetensors')) {
    const t = store.loadTensors('extra.safetensors');
    try {
      stage.loadExtraState(t);
    } finally {
      dispose(t);
    }
  }
}

/** The configuration a run was trained with (its run.json, validated). */
export function savedConfig(outDir: string, name: string): TrainConfig {
  return runConfig(RunDir.open(`${outDir}/${name}`));
}

function runConfig(run: RunDir): TrainConfig {
  return resolveConfig(run.readRun().config, `${run.file('run.json')}: config`);
}

// ------------------------------------------------------------------ streamed file data (src/data/stream)

/** What a streamed-data run cannot do yet: everything that needs the whole training set in memory. */
function checkStreamable(cfg: TrainConfig): void {
  if (cfg.data.unlabeled) {
    throw new ConfigError(
      `data.unlabeled: unlabeled pools are in-memory image sets; not supported with the streamed data set '${cfg.data.dataset}'`,
    );
  }
}

/** The start-of-training lines of a streamed data set: where its splits come from and its long-tail profile. */
function logStreamedData(f: StreamedSplits, counts: number[], log: (l: string) => void): void {
  log(
    `[ltkit] streamed data: train ${f.train.paths.length} images (${f.from.train}), ` +
      `${f.val ? `val ${f.val.paths.length} (${f.from.val}), ` : ''}test ${f.test.paths.length} (${f.from.test}); ` +
      `decode: train ${f.workSize}² working square → RandomResizedCrop ${f.crop}` +
      `${f.colorJitter ? ' + ColorJitter' : ''}, test Resize ${f.testResize} + CenterCrop ${f.crop}`,
  );
  for (const n of f.notes) log(`[ltkit] note: ${n}`);
  for (const l of formatProfile(countsProfile(counts), f.classNames, counts)) log(l);
  const rec = recommend(counts);
  log(`[ltkit] recommend: ${rec.recipe} — ${rec.reason}`);
}
