// Supervised classification, the first task of the training core: batches of augmented training images in
// the order of the recipe's sampler, the recipe's criterion with its per-epoch class weights, its feature
// hook (MFW, mixup family) at a model stage, and evaluation on the test and validation splits.
import {
  Tensor,
  tensor,
  noGrad,
  tidy,
  keep,
  cat,
  dispose,
  autocast,
  toDtype,
  zeros,
  stack,
  narrow,
  reshape,
} from '../engine';
import type { Collectives, ExecContext } from '../core/context';
import type { Criterion } from '../losses';
import type { ClassifierModel } from '../models';
import { DataLoader, PairedLoader, Batch, BatchTransform } from '../data/loader';
import type { PairedBatch } from '../data/loader';
import type { IndexSampler } from '../data/samplers';
import type { ImageSet } from '../data/train-data';
import { asSplitImages, inOrder } from '../data/split-images';
import { numbersThrough } from './parallel';
import type { SplitImages } from '../data/split-images';
import { ClassificationMeter, ClassificationSummary } from '../eval/metrics';
import type { MethodPlan } from '../methods/registry';
import type { HookContext, UnlabeledTerm } from '../methods/types';
import { ClassTally } from '../core/task';
import type { BatchStream, EpochContext, EvalSplit, StepOutput, Task, TrainingStage } from '../core/task';
import { SGD } from '../optim';
import { saveRunningStats } from '../nn/running-stats';
import { learningRate, ScheduleConfig } from '../optim/schedules';

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

/** The sampler an epoch actually uses (DRS switches between two). */
function activeSampler(s: IndexSampler, epoch: number): IndexSampler {
  const deferred = s as IndexSampler & { samplerAt?(epoch: number): IndexSampler };
  return deferred.samplerAt ? deferred.samplerAt(epoch) : s;
}

export interface ClassificationTaskOptions {
  model: ClassifierModel;
  plan: MethodPlan;
  criterion: Criterion;
  sampler: IndexSampler;
  /** Training images through the augmentation, in the sampler's order (a DataLoader). */
  loader: BatchStream<Batch>;
  /** The training labels the batches' `indices` point into. */
  targets: ArrayLike<number>;
  clsNumList: number[];
  evaluate(split: EvalSplit): ClassificationSummary | null;
  /**
   * A second stream of unlabeled images (their views) paired with every labeled batch, and the loss terms
   * computed on it (semi-supervised methods, the pseudo-label stream).
   */
  unlabeled?: { loader: DataLoader<Tensor[]>; terms: UnlabeledTerm[] };
}

type Item = Batch | PairedBatch<Tensor, Tensor[]>;
const isPaired = (b: Item): b is PairedBatch<Tensor, Tensor[]> => 'labeled' in b;

export class ClassificationTask implements Task<Item> {
  readonly batches: BatchStream<Item>;
  private readonly targets: ArrayLike<number>;
  private readonly tally: ClassTally;
  private readonly terms: UnlabeledTerm[];
  private lastStep = 0;
  /** Puts back the BatchNorm running statistics the terms' own passes moved (after the step). */
  private restoreStats: (() => void) | null = null;

  constructor(private readonly o: ClassificationTaskOptions) {
    this.terms = o.unlabeled?.terms ?? [];
    if (o.unlabeled) {
      if (!(o.loader instanceof DataLoader))
        throw new Error('ClassificationTask: an unlabeled stream needs a DataLoader');
      this.batches = new PairedLoader(o.loader as DataLoader<Tensor>, o.unlabeled.loader);
    } else this.batches = o.loader;
    this.targets = o.targets;
    this.tally = new ClassTally(o.targets, o.clsNumList.length);
  }

  beginEpoch(e: EpochContext): Record<string, unknown> {
    this.o.criterion.setWeight(this.o.plan.classWeightsAt(e.epoch));
    this.o.model.train();
    // What the epoch really uses: the criterion's weights and the sampler's kind (not what the plan says).
    return { sampler: activeSampler(this.o.sampler, e.epoch).name, classWeights: this.o.criterion.weight };
  }

  endEpoch(): Record<string, unknown> {
    return Object.assign(this.tally.take(), ...this.terms.map((t) => t.endEpoch?.() ?? {}));
  }

  afterStep(e: EpochContext): void {
    this.restoreStats?.();
    this.restoreStats = null;
    for (const t of this.terms) t.afterStep?.({ epoch: e.epoch, step: this.lastStep, steps: e.steps });
  }

  step(item: Item, e: EpochContext): StepOutput {
    if (!isPaired(item)) return this.labeledStep(item, e, []).out;
    this.lastStep = item.step;
    const u = item.unlabeled;
    // The views the terms forward with gradient go through the model with the labeled batch, once each.
    const position = new Map<number, number>();
    for (const t of this.terms)
      for (const v of t.joint ?? []) {
        if (v < 0 || v >= u.x.length) throw new Error(`loss term '${t.name}' asks for view ${v} of ${u.x.length}`);
        if (!position.has(v)) position.set(v, position.size);
      }
    const extra = [...position.keys()].map((v) => u.x[v]);
    const { out, extraLogits } = this.labeledStep(item.labeled, e, extra);
    // The running statistics now describe the step's training batch; the terms' own passes must not move them.
    this.restoreStats = saveRunningStats(this.o.model);
    for (const t of this.terms) {
      if (t.name in out.losses) throw new Error(`loss term '${t.name}' is computed twice`);
      out.losses[t.name] = t.loss({
        model: this.o.model,
        views: u.x,
        targets: u.y,
        logits: (t.joint ?? []).map((v) => extraLogits[position.get(v) as number]),
        epoch: e.epoch,
        epochs: e.epochs,
        step: item.step,
        steps: e.steps,
        rng: e.rng,
      });
    }
    return out;
  }

  /**
   * The labeled batch's loss, forwarded together with `extra` batches (unlabeled views) when there are any:
   * their rows follow the labeled ones, the feature hook (MFW, mixup) transforms only the labeled rows, and
   * their logits come back in order.
   */
  private labeledStep(b: Batch, e: EpochContext, extra: Tensor[]): { out: StepOutput; extraLogits: Tensor[] } {
    const { model, plan, criterion } = this.o;
    this.tally.add(b.indices);
    const B = b.indices.length;
    let ctx: HookContext | null = null;
    let hook;
    if (plan.features) {
      const h = plan.features;
      const targetsArray = Int32Array.from(b.indices, (i) => this.targets[i]);
      const c: HookContext = { targets: b.y, targetsArray, clsNumList: this.o.clsNumList, rng: e.rng, labelMix: null };
      ctx = c;
      const fn =
        extra.length === 0
          ? (z: Tensor) => h.apply(z, c)
          : (z: Tensor) => cat([h.apply(z.narrow(0, 0, B), c), z.narrow(0, B, z.shape[0] - B)], { dim: 0 });
      hook = { stage: h.stage(e.rng), fn };
    }
    const x = extra.length === 0 ? b.x : cat([b.x, ...extra], { dim: 0 });
    const { logits: all } = model.forwardFeatures(x, { hook }); // [B + Σ extra, C]
    const logits = extra.length === 0 ? all : all.narrow(0, 0, B);
    const extraLogits: Tensor[] = [];
    let at = B;
    for (const t of extra) {
      extraLogits.push(all.narrow(0, at, t.shape[0]));
      at += t.shape[0];
    }
    const loss = batchLoss(criterion, logits, b.y, ctx);
    const correct = logits.argmax({ dim: 1 }).eq(b.y).sum().item();
    return { out: { losses: { [plan.lossName]: loss }, size: B, correct }, extraLogits };
  }

  evaluate(split: EvalSplit): ClassificationSummary | null {
    return this.o.evaluate(split);
  }
}

/** A meter over a model's logits on batches in order (eval mode). */
function meterBatches(
  model: ClassifierModel,
  batches: Iterable<Batch>,
  opts: { numClasses: number; trainCounts: number[]; ctx?: AmpContext },
): ClassificationMeter {
  const meter = new ClassificationMeter(opts.numClasses, { trainCounts: opts.trainCounts });
  model.eval();
  noGrad(() => {
    for (const b of batches) tidy(() => meter.update(forwardLogits(model, b.x, opts.ctx), b.y));
  });
  return meter;
}

/** Where the forward runs and in which precision (an ExecContext satisfies it). */
export type AmpContext = Pick<ExecContext, 'precision' | 'device'>;

/** An evaluation's context: with a process group of several ranks, each evaluates its part and the counts are summed. */
export type EvalContext = AmpContext & { group?: Collectives | null };

/**
 * The model's logits with the forward under the run's autocast (as training computed them), returned as
 * float32 so that metrics and saved predictions do not inherit bfloat16's 8-bit mantissa.
 */
export function forwardLogits(model: ClassifierModel, x: Tensor, ctx?: AmpContext): Tensor {
  const logits = autocast(ctx?.precision ?? 'fp32', () => model.forward(x), ctx?.device ?? 'cpu');
  return logits.dtype === 'float32' ? logits : toDtype(logits, 'float32');
}

/** Pooled backbone features of batches in order (eval mode), with their labels: [N, D] and [N]. */
export function batchFeatures(model: ClassifierModel, batches: Iterable<Batch>): { features: Tensor; targets: Tensor } {
  model.eval();
  const parts: Tensor[] = [];
  const labels: Tensor[] = [];
  noGrad(() => {
    for (const b of batches) {
      parts.push(keep(tidy(() => model.forwardBackbone(b.x))));
      labels.push(keep(b.y.clone()));
    }
  });
  const features = keep(cat(parts, { dim: 0 }));
  const targets = keep(cat(labels, { dim: 0 }));
  dispose([parts, labels]);
  return { features, targets };
}

/**
 * Evaluates a model on an image set in order, batch by batch (eval mode, no augmentation). Under a process
 * group of several ranks each rank evaluates one part of the set (`inOrder`'s parts) and the meters' counts
 * are summed over the ranks: every rank returns the summary of the whole set, for 1/W of the forwards. The
 * ranks must hold the same model (the loop broadcasts rank 0's BatchNorm statistics before evaluating).
 */
export function evaluateModel(
  model: ClassifierModel,
  set: ImageSet | SplitImages,
  transform: BatchTransform<Tensor>,
  opts: { numClasses: number; trainCounts: number[]; batchSize?: number; ctx?: EvalContext },
): ClassificationSummary {
  const group = opts.ctx?.group ?? null;
  const part = group && group.worldSize > 1 ? { rank: group.rank, worldSize: group.worldSize } : undefined;
  const meter = meterBatches(model, inOrder(set, transform, opts.batchSize, part), opts);
  if (group && part) {
    const total = numbersThrough(opts.ctx!, meter.sums(), (t) => group.allreduce([t], 'sum'));
    meter.reset();
    meter.addSums(total);
  }
  return meter.summary();
}

/**
 * Pooled backbone features of an image set, in order (eval mode, no augmentation): [N, D] and [N]. Under a process
 * group of several ranks each rank extracts one part of the set (`inOrder`'s parts: images r, r + W, …) and the
 * parts are gathered and put back in the set's order, so every rank gets all N rows for 1/W of the forwards.
 */
export function extractFeatures(
  model: ClassifierModel,
  set: ImageSet | SplitImages,
  transform: BatchTransform<Tensor>,
  o: { group?: Collectives | null } = {},
): { features: Tensor; targets: Tensor } {
  const group = o.group ?? null;
  const n = asSplitImages(set).targets.length;
  const W = group?.worldSize ?? 1;
  // Every rank decides alike (same n, same W): with fewer images than ranks each extracts them all.
  if (!group || W <= 1 || n < W) return batchFeatures(model, inOrder(set, transform));
  const part = batchFeatures(model, inOrder(set, transform, undefined, { rank: group.rank, worldSize: W }));
  // c10d's allgather takes equal shapes: each part padded to ceil(n / W) rows (the last ranks' parts are short).
  const per = Math.ceil(n / W);
  const padded = (t: Tensor) =>
    t.shape[0] === per
      ? t
      : cat([t, zeros([per - t.shape[0], ...t.shape.slice(1)], { dtype: t.dtype, device: t.device })], { dim: 0 });
  // Rank r's row k is image r + kW: the gathered parts stacked as [per, W, …] are the images in order.
  const inSetOrder = (t: Tensor) =>
    tidy(() => {
      const all = stack(group.allgather(padded(t)), { dim: 1 });
      return keep(narrow(reshape(all, [per * W, ...t.shape.slice(1)]), 0, 0, n).contiguous());
    });
  const out = { features: inSetOrder(part.features), targets: inSetOrder(part.targets) };
  dispose([part.features, part.targets]);
  return out;
}

/** The settings the main supervised stage reads (a TrainConfig satisfies it). */
export interface SupervisedSettings extends ScheduleConfig {
  seed: number;
  optim: ScheduleConfig['optim'] & { momentum: number; weightDecay: number; nesterov: boolean };
  train: ScheduleConfig['train'] & { batchSize: number; evalEvery: number; maxStepsPerEpoch?: number };
}

/**
 * The main stage of a run: the recipe's supervised training of the whole model with SGD under the
 * configured schedule (SPEC §5), selecting the best epoch.
 */
export function supervisedStage(
  cfg: SupervisedSettings,
  o: Omit<ClassificationTaskOptions, 'criterion' | 'unlabeled'> & {
    /** The unlabeled stream and its terms, made with the stage's criterion (the pseudo-label stream uses it). */
    unlabeled?: { loader: DataLoader<Tensor[]>; terms(criterion: Criterion): UnlabeledTerm[] };
  },
): TrainingStage {
  const optimizer = new SGD(o.model.parameters(), {
    lr: cfg.optim.lr,
    momentum: cfg.optim.momentum,
    weightDecay: cfg.optim.weightDecay,
    nesterov: cfg.optim.nesterov,
  });
  const criterion = o.plan.createCriterion();
  const terms = o.unlabeled?.terms(criterion) ?? [];
  const unlabeled = o.unlabeled ? { loader: o.unlabeled.loader, terms } : undefined;
  return {
    name: 'train',
    epochs: cfg.train.epochs,
    task: new ClassificationTask({ ...o, criterion, unlabeled }),
    optimizer,
    lrAt: (epoch, step, steps) => learningRate(cfg, epoch, step, steps),
    maxStepsPerEpoch: cfg.train.maxStepsPerEpoch,
    evalEvery: cfg.train.evalEvery,
    selectBest: true,
    ...(terms.some((t) => t.state)
      ? {
          extraState: () => Object.assign({}, ...terms.map((t) => t.state?.() ?? {})),
          loadExtraState: (t: Record<string, Tensor>) => terms.forEach((x) => x.loadState?.(t)),
        }
      : {}),
    dispose() {
      optimizer.dispose();
      criterion.dispose();
      for (const t of terms) t.dispose?.();
    },
  };
}
