// MoCo v2 (He et al. 2020, "Momentum Contrast for Unsupervised Visual Representation Learning"; Chen et al.
// 2020, "Improved Baselines with Momentum Contrastive Learning"), S1 §4's self-supervised pre-training for
// large data sets, here for any data set and one process.
//
// As facebookresearch/moco's moco/builder.py computes it:
//   q = normalize(f_q(x_q)), k = normalize(f_k(x_k)) (no gradient), f = backbone → MLP head (MoCo v2:
//   Linear(d, d) → ReLU → Linear(d, dim), dim = 128);
//   logits = [q·k, q·queue] / T (T = 0.2), the positive at index 0; loss = CE(logits, 0);
//   key encoder θ_k ← m·θ_k + (1 − m)·θ_q (m = 0.999) before each key pass; after it the batch's keys replace
//   the oldest queue columns (a ring of K, K divisible by the batch).
// Shuffle-BN (keys computed with the batch shuffled across GPUs so BatchNorm cannot leak which key matches)
// needs several processes. In one process ltkit emulates G of them: the query batch runs as G sub-batches,
// each with its own BatchNorm statistics, as G GPUs would; the key batch is shuffled, run as G sub-batches
// and unshuffled. `pretrain.moco.bnGroups` sets G (auto: one group per 32 images, at least 2).
import { Tensor, tidy, noGrad, keep, cat, randn, tensor, zeros } from '../engine';
import { copy_, crossEntropyLoss } from '../engine/ops.generated';
import { normalize } from '../nn/functional';
import { Linear } from '../nn/layers';
import { Module } from '../nn/module';
import type { ClassifierModel } from '../models';
import type { Rng } from '../util/rng';
import type { Collectives } from '../core/context';

/** The queue of negative keys: [dim, K] unit columns and the next position to write. */
export class FeatureQueue {
  readonly queue: Tensor;
  private ptr = 0;
  constructor(
    readonly dim: number,
    readonly size: number,
  ) {
    // MoCo: randn(dim, K) normalised along dim 0.
    this.queue = keep(tidy(() => normalize(randn([dim, size]), { dim: 0 })));
  }
  get position(): number {
    return this.ptr;
  }
  /** Writes `keys` [B, dim] over the oldest columns (MoCo's _dequeue_and_enqueue; K must divide by B). */
  enqueue(keys: Tensor): void {
    const b = keys.shape[0];
    if (this.size % b !== 0) throw new Error(`MoCo queue: size ${this.size} is not a multiple of the batch ${b}`);
    noGrad(() => tidy(() => copy_(this.queue.narrow(1, this.ptr, b), keys.t())));
    this.ptr = (this.ptr + b) % this.size;
  }
  state(prefix: string): Record<string, Tensor> {
    return { [`${prefix}queue`]: this.queue.clone(), [`${prefix}queuePtr`]: tensor([this.ptr], [1], 'int64') };
  }
  loadState(prefix: string, t: Record<string, Tensor>): void {
    const q = t[`${prefix}queue`];
    const p = t[`${prefix}queuePtr`];
    if (!q || !p) throw new Error(`MoCo: the checkpoint has no '${prefix}queue'`);
    noGrad(() => tidy(() => copy_(this.queue, q)));
    this.ptr = Number((p.toArray() as BigInt64Array)[0]);
  }
  dispose(): void {
    this.queue.dispose();
  }
}

/** InfoNCE of MoCo: logits [B, 1 + K] = [q·k, q·queue] / T and CE against index 0. */
export function infoNce(q: Tensor, k: Tensor, queue: Tensor, temperature: number): { loss: Tensor; logits: Tensor } {
  const pos = q.mul(k).sum(1, { keepdim: true });
  const neg = q.matmul(queue.detach());
  const logits = cat([pos, neg], { dim: 1 }).div(temperature);
  const labels = zeros([q.shape[0]], { dtype: 'int64' });
  return { loss: crossEntropyLoss(logits, labels), logits };
}

/** MoCo v2's MLP head before the model's own last Linear (d → d → ReLU → model.head). */
export class MlpHidden extends Module {
  constructor(dim: number) {
    super();
    this.registerModule('fc', new Linear(dim, dim));
  }
  forward(x: Tensor): Tensor {
    return this.child<Linear>('fc').forward(x).relu();
  }
}

/** normalize(head(hidden(backbone(x)))): an encoder's embedding. */
export function embed(model: ClassifierModel, hidden: MlpHidden, x: Tensor): Tensor {
  return normalize(model.head.forward(hidden.forward(model.forwardBackbone(x))), { dim: 1 });
}

/**
 * Runs `fn` on G sub-batches of x (each with its own BatchNorm statistics) and concatenates the results; with
 * `rng`, the batch is shuffled first and the result unshuffled (the key side of shuffle-BN).
 */
export function groupedForward(x: Tensor, groups: number, fn: (x: Tensor) => Tensor, rng?: Rng): Tensor {
  const n = x.shape[0];
  const g = Math.max(1, Math.min(groups, n));
  if (g === 1 && !rng) return fn(x);
  const perm = rng ? rng.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
  const inv = new Int32Array(n);
  perm.forEach((p, i) => (inv[p] = i));
  const xs = rng ? x.index([tensor(perm, [n], 'int64')]) : x;
  const outs: Tensor[] = [];
  const size = Math.ceil(n / g);
  for (let s = 0; s < n; s += size) outs.push(fn(xs.narrow(0, s, Math.min(size, n - s))));
  const y = cat(outs, { dim: 0 });
  return rng ? y.index([tensor(inv, [n], 'int64')]) : y;
}

/**
 * Shuffle-BN across processes (MoCo's _batch_shuffle_ddp / _batch_unshuffle_ddp): the key batches of all
 * ranks are gathered, permuted by one permutation every rank draws alike from `rng` (MoCo broadcasts rank
 * 0's; a shared seeded stream gives the same one without a collective), each rank forwards its slice of the
 * permuted batch (with `groups` BatchNorm groups inside it), the outputs are gathered and un-permuted, and
 * each rank keeps the rows of its own images.
 */
export function shuffledAcrossRanks(
  x: Tensor,
  group: Collectives,
  groups: number,
  fn: (x: Tensor) => Tensor,
  rng: Rng,
): Tensor {
  const n = x.shape[0];
  const W = group.worldSize;
  const all = cat(group.allgather(x.contiguous()), { dim: 0 });
  const perm = rng.permutation(W * n);
  const inv = new Int32Array(W * n);
  perm.forEach((p, i) => (inv[p] = i));
  const mine = all.index([tensor(perm.subarray(group.rank * n, (group.rank + 1) * n), [n], 'int64')]);
  const out = groupedForward(mine, groups, fn);
  const gathered = cat(group.allgather(out.contiguous()), { dim: 0 });
  return gathered.index([tensor(inv.subarray(group.rank * n, (group.rank + 1) * n), [n], 'int64')]);
}

/** The default queue: the largest multiple of the batch up to half the training images (≤ 65,536). */
export function defaultQueueSize(trainSize: number, batch: number): number {
  return Math.max(batch, batch * Math.floor(Math.min(65536, trainSize / 2) / batch));
}

/** The default number of BatchNorm groups: one per 32 images, at least 2. */
export function defaultBnGroups(batch: number): number {
  return Math.max(2, Math.floor(batch / 32));
}
