// Self-supervised pre-training (SSP; S1 §4, "the negative value of imbalanced labels"): a run whose main
// stage is a pretext task on the same imbalanced training images, without their labels — rotation
// prediction (Gidaris et al. 2018, S1's choice for small data) or MoCo v2 (S1's choice for ImageNet-LT /
// iNaturalist). Both stages run through the one training loop; their evaluation is the kNN monitor on the
// labeled training features (knn.ts), so a pre-training run's metrics say how the encoder's features
// classify the test images, per shot group. A later run loads the encoder's backbone (model.initFrom, or a
// recipe's `ssp-rotation` / `ssp-moco`) and trains any method with a fresh head.
import { Tensor, tensor, tidy, noGrad, keep, dispose, cat } from '../engine';
import { crossEntropyLoss } from '../engine/ops.generated';
import type { Batch } from '../data/loader';
import { InstanceSampler } from '../data/samplers';
import { rotate90 } from '../data/transforms/geometric';
import { mocoV2 } from '../data/transforms/presets';
import { twoViews } from '../data/transforms/core';
import type { TrainData } from '../data/train-data';
import { inOrder } from '../data/split-images';
import type { SplitImages } from '../data/split-images';
import type { ClassifierModel } from '../models';
import type { ExecContext } from '../core/context';
import type { EpochContext, EvalSplit, StepOutput, TrainingStage } from '../core/task';
import { ConfigError } from '../core/errors';
import type { ClassificationSummary } from '../eval/metrics';
import { SGD } from '../optim';
import { learningRate } from '../optim/schedules';
import { copyWeights, emaUpdate } from '../nn/ema';
import { extractFeatures } from '../train/classification';
import type { Pipelines, InputSpec } from '../train/pipelines';
import type { TrainConfig } from '../train/config';
import type { Rng } from '../util/rng';
import { knnSummary } from './knn';
import { PRETEXT_METHODS, PretextMethod } from './names';
import {
  FeatureQueue,
  MlpHidden,
  embed,
  groupedForward,
  shuffledAcrossRanks,
  infoNce,
  defaultQueueSize,
  defaultBnGroups,
} from './moco';

/** What a pretext stage draws on. */
export interface PretextEnv {
  cfg: TrainConfig;
  model: ClassifierModel;
  data: TrainData;
  input: InputSpec;
  pipes: Pipelines;
  /** The run's images by split (in memory or streamed). */
  splits: { train: SplitImages; val: SplitImages | null; test: SplitImages | null };
  ctx: ExecContext;
  /** A fresh model of the run's architecture and outputs (MoCo's key encoder). */
  cloneModel(): ClassifierModel;
}

export interface Pretext {
  /** The stage's name in the run ('rotation', 'moco'). */
  name: PretextMethod;
  help: string;
  /** The model's outputs: 4 rotations, or MoCo's embedding size. */
  outputs(cfg: TrainConfig): number;
  stage(env: PretextEnv): TrainingStage;
}

/** The model outputs of a run: its classes, or what its pretext task predicts. */
export function modelOutputs(cfg: TrainConfig, numClasses: number): number {
  return cfg.pretrain.method === 'none' ? numClasses : pretext(cfg.pretrain.method).outputs(cfg);
}

/**
 * Each image of a batch gets one rotation k ∈ {0, 1, 2, 3}, the four counts differing by at most one
 * (targets balanced within the batch), in a random order.
 */
export function balancedRotations(n: number, rng: Rng): Int32Array {
  const perm = rng.permutation(n);
  return Int32Array.from(perm, (p) => p % 4);
}

/** kNN evaluation of the encoder's pooled features: labeled training images vs a split. */
function knnEvaluate(env: PretextEnv, split: EvalSplit): ClassificationSummary | null {
  const set = split === 'val' ? env.splits.val : env.splits.test;
  if (!set) return null;
  // Under several ranks each extracts its part of both sets (gathered back in order): every rank's kNN sees all.
  const group = env.ctx.group;
  const train = extractFeatures(env.model, env.splits.train, env.pipes.test, { group });
  const test = extractFeatures(env.model, set, env.pipes.test, { group });
  try {
    return knnSummary(train, test, {
      k: env.cfg.pretrain.knn.k,
      temperature: env.cfg.pretrain.knn.temperature,
      numClasses: env.data.numClasses,
      trainCounts: env.data.clsNumList,
    });
  } finally {
    dispose([train, test]);
  }
}

/** Rotation accuracy on a set: image i rotated by i mod 4 (every rotation equally often). */
function rotationAccuracy(model: ClassifierModel, set: SplitImages, transform: (x: Tensor) => Tensor): number {
  model.eval();
  let right = 0;
  noGrad(() => {
    for (const b of inOrder(set, (x) => transform(x))) {
      const k = Int32Array.from(b.indices, (i) => i % 4);
      right += tidy(() =>
        model
          .forward(rotate90(b.x, k))
          .argmax({ dim: 1 })
          .eq(tensor(k, [k.length], 'int64'))
          .sum()
          .item(),
      );
    }
  });
  return right / Math.max(1, set.targets.length);
}

function sgd(cfg: TrainConfig, params: Tensor[]): SGD {
  return new SGD(params, {
    lr: cfg.optim.lr,
    momentum: cfg.optim.momentum,
    weightDecay: cfg.optim.weightDecay,
    nesterov: cfg.optim.nesterov,
  });
}

/** What every pretext stage shares: the run's schedule, the kNN cadence, no best-epoch selection. */
function pretextStage(
  cfg: TrainConfig,
  s: Pick<TrainingStage, 'name' | 'optimizer' | 'task' | 'dispose' | 'extraState' | 'loadExtraState'>,
): TrainingStage {
  return {
    epochs: cfg.train.epochs,
    lrAt: (epoch, step, steps) => learningRate(cfg, epoch, step, steps),
    maxStepsPerEpoch: cfg.train.maxStepsPerEpoch,
    evalEvery: cfg.pretrain.knn.every,
    selectBest: false,
    ...s,
  };
}

const isEvalEpoch = (cfg: TrainConfig, e: EpochContext) =>
  (e.epoch + 1) % cfg.pretrain.knn.every === 0 || e.epoch === e.epochs - 1;

const rotation: Pretext = {
  name: 'rotation',
  help: 'rotation prediction (Gidaris et al. 2018): one rotation per image, balanced in the batch, 4-way head',
  outputs: () => 4,
  stage(env) {
    const { cfg, model, splits, pipes, ctx } = env;
    const optimizer = sgd(cfg, model.parameters());
    const loader = splits.train.loader({
      sampler: new InstanceSampler(splits.train.targets.length, cfg.seed),
      batchSize: cfg.train.batchSize / ctx.worldSize,
      transform: pipes.train,
      geometry: 'train',
      seed: cfg.seed,
      shard: { rank: ctx.rank, worldSize: ctx.worldSize },
    });
    return pretextStage(cfg, {
      name: 'rotation',
      optimizer,
      task: {
        batches: loader,
        beginEpoch: () => void model.train(),
        step(b: Batch, e: EpochContext): StepOutput {
          const k = balancedRotations(b.indices.length, e.rng);
          const y = tensor(k, [k.length], 'int64');
          const logits = model.forward(rotate90(b.x, k));
          const correct = logits.argmax({ dim: 1 }).eq(y).sum().item();
          return { losses: { rotation: crossEntropyLoss(logits, y) }, size: k.length, correct };
        },
        endEpoch(e: EpochContext) {
          if (!isEvalEpoch(cfg, e) || !splits.test) return {};
          const acc = rotationAccuracy(model, splits.test, pipes.test);
          model.train();
          return { rotationTestAcc: acc };
        },
        evaluate: (split) => knnEvaluate(env, split),
      },
      dispose: () => optimizer.dispose(),
    });
  },
};

const moco: Pretext = {
  name: 'moco',
  help: 'MoCo v2 (Chen et al. 2020): momentum encoder, queue of negatives, InfoNCE at T = 0.2, MLP head',
  outputs: (cfg) => cfg.pretrain.moco.dim,
  stage(env) {
    const { cfg, model, splits, input, ctx } = env;
    const o = cfg.pretrain.moco;
    const batch = cfg.train.batchSize / ctx.worldSize;
    const n = splits.train.targets.length;
    if (n < batch)
      throw new ConfigError(
        `train.batchSize: ${batch} is larger than the ${n} training images (MoCo drops the last partial batch)`,
      );
    // The queue takes the global batch's keys each step (all ranks' together).
    const globalBatch = cfg.train.batchSize;
    const K = o.queue === 'auto' ? defaultQueueSize(n, globalBatch) : o.queue;
    if (K % globalBatch !== 0) {
      throw new ConfigError(`pretrain.moco.queue: ${K} is not a multiple of the batch ${globalBatch}`);
    }
    const groups = o.bnGroups === 'auto' ? defaultBnGroups(batch) : o.bnGroups;
    const [h] = input.imageShape;
    const views = twoViews(
      // MoCo v2's views at the data set's size; the blur kernel is ~10% of the side, odd (23 px at 224).
      mocoV2({ size: h, mean: input.mean, std: input.std, blurKernel: Math.max(3, 2 * Math.floor(h / 20) + 1) }),
    );
    const loader = splits.train.loader<Tensor[]>({
      sampler: new InstanceSampler(n, cfg.seed),
      batchSize: batch,
      dropLast: true,
      transform: (x, rng) => views(x, rng),
      geometry: 'train',
      seed: cfg.seed,
      shard: { rank: ctx.rank, worldSize: ctx.worldSize },
    });
    const hidden = new MlpHidden(model.featureDim);
    const keyModel = env.cloneModel();
    const keyHidden = new MlpHidden(model.featureDim);
    copyWeights(keyModel, model);
    copyWeights(keyHidden, hidden);
    keyModel.requiresGrad_(false).train();
    keyHidden.requiresGrad_(false);
    const queue = new FeatureQueue(o.dim, K);
    const optimizer = sgd(cfg, [...model.parameters(), ...hidden.parameters()]);
    let pending: Tensor | null = null;
    const prefixed = (p: string, m: { stateDict(): Record<string, Tensor> }) =>
      Object.fromEntries(Object.entries(m.stateDict()).map(([k, v]) => [`${p}${k}`, v]));
    const load = (
      p: string,
      m: { stateDict(): Record<string, Tensor>; loadStateDict(r: Record<string, Tensor>): unknown },
      t: Record<string, Tensor>,
    ) => {
      const own = Object.fromEntries(Object.keys(m.stateDict()).map((k) => [k, t[`${p}${k}`]]));
      const missing = Object.keys(own).filter((k) => !own[k]);
      if (missing.length) throw new Error(`MoCo: the checkpoint lacks ${p}${missing[0]}`);
      m.loadStateDict(own);
    };
    return pretextStage(cfg, {
      name: 'moco',
      optimizer,
      task: {
        batches: loader,
        beginEpoch: () => {
          model.train();
          hidden.train();
          return { queue: K, bnGroups: groups };
        },
        step(b: Batch<Tensor[]>, e: EpochContext): StepOutput {
          const [xq, xk] = b.x;
          const q = groupedForward(xq, groups, (x) => embed(model, hidden, x));
          const keyOf = (x: Tensor) => embed(keyModel, keyHidden, x);
          const k = noGrad(() =>
            ctx.group
              ? shuffledAcrossRanks(xk, ctx.group, groups, keyOf, e.rng)
              : groupedForward(xk, groups, keyOf, e.rng),
          );
          const { loss, logits } = infoNce(q, k, queue.queue, o.temperature);
          pending?.dispose();
          // Every rank enqueues the keys of all ranks (MoCo's concat_all_gather), so the queues stay equal.
          pending = keep(ctx.group ? cat(ctx.group.allgather(k.contiguous()), { dim: 0 }) : k.clone());
          const correct = logits.argmax({ dim: 1 }).eq(0).sum().item();
          return { losses: { infonce: loss }, size: b.indices.length, correct };
        },
        afterStep() {
          emaUpdate(keyModel, model, o.momentum);
          emaUpdate(keyHidden, hidden, o.momentum);
          if (pending) queue.enqueue(pending);
          pending?.dispose();
          pending = null;
        },
        evaluate: (split) => knnEvaluate(env, split),
      },
      extraState: () => ({
        ...prefixed('moco.hidden.', hidden),
        ...prefixed('moco.key.', keyModel),
        ...prefixed('moco.keyHidden.', keyHidden),
        ...queue.state('moco.'),
      }),
      loadExtraState(t) {
        load('moco.hidden.', hidden, t);
        load('moco.key.', keyModel, t);
        load('moco.keyHidden.', keyHidden, t);
        queue.loadState('moco.', t);
      },
      dispose() {
        optimizer.dispose();
        pending?.dispose();
        queue.dispose();
        hidden.dispose();
        keyModel.dispose();
        keyHidden.dispose();
      },
    });
  },
};

const PRETEXTS: Record<PretextMethod, Pretext> = { rotation, moco };

/** The pretext task of `pretrain.method`. */
export function pretext(name: string): Pretext {
  const p = PRETEXTS[name as PretextMethod];
  if (!p) throw new ConfigError(`pretrain.method: '${name}' (allowed: none, ${PRETEXT_METHODS.join(', ')})`);
  return p;
}
