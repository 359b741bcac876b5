// DataLoader and PairedLoader: seeded, batched iteration over an in-memory uint8 image set.
//
// Per step: take the sampler's epoch order, gather the batch's images (uint8 NHWC, one contiguous memcpy per
// image) into a reusable byte buffer, make ONE uint8 tensor from it, run the batched transform (default
// toFloat → float32 NCHW in [0,1]) with AugRng(seed, epoch, step), and make the int64 target tensor.
// Everything is a pure function of (seed, epoch, step): `batchAt(epoch, step)` gives the same batch as
// iteration, so a resumed run sees the same data.
//
// Prefetch, honestly: Node runs JS and libtorch ops on one thread, and every step here is synchronous, so
// nothing overlaps with a synchronous training step. What the loader does:
//   - double-buffering: the byte gather of batch i+1 goes to the other of two preallocated buffers right
//     after batch i is handed out (`prefetch: true`, default), so batch i's bytes are never overwritten
//     while in use and no per-step allocation happens;
//   - in `epochAsync`, that gather (and the tensor creation) is scheduled with setImmediate after a batch
//     is yielded, so it runs while the consumer awaits anything (I/O, logging, an explicit yield);
//   - the gather is cheap anyway (128 CIFAR images = 384 KiB memcpy, ~0.05 ms); the transform
//     (~3 ms for the CIFAR pipeline at batch 128) runs when the batch is requested.
//
// Tensor ownership: the batch's tensors are created outside any tidy scope of the caller's step. By default
// (`disposePrevious: true`) the loader disposes batch i's tensors when batch i+1 is requested or the
// iteration ends; copy (clone inside a kept scope) or pass `disposePrevious: false` to keep them longer.
import { Tensor, tensor, tidy, dispose } from '../../engine';
import { AugRng } from '../transforms/rng';
import { toFloat } from '../transforms/color';

/** Any index sampler: the visiting order of dataset indices for an epoch (see src/data/samplers). */
export interface EpochSampler {
  epochIndices(epoch: number): Int32Array;
}

/** A uint8 NHWC batch of images. */
export interface ByteBatch {
  data: Uint8Array;
  shape: [number, number, number, number];
}

/** What the loader reads from. `gatherInto` (optional) writes into a caller buffer to avoid allocation. */
export interface BatchSource {
  readonly length: number;
  /** Label per image (use −1 for unlabeled pools). */
  readonly targets: ArrayLike<number>;
  getBatch(indices: ArrayLike<number>): ByteBatch;
  gatherInto?(indices: ArrayLike<number>, out: Uint8Array): ByteBatch;
}

/** An in-memory dataset: all images in one uint8 buffer, N×H×W×C (channels last), and their labels. */
export interface InMemoryDataset {
  images: Uint8Array;
  shape: [number, number, number, number];
  targets: Int32Array;
}

/** BatchSource over an InMemoryDataset; each image is one contiguous H·W·C-byte block. */
export class InMemorySource implements BatchSource {
  readonly length: number;
  readonly targets: Int32Array;
  private readonly images: Uint8Array;
  private readonly imageShape: [number, number, number];
  private readonly stride: number;

  constructor(ds: InMemoryDataset) {
    const [n, h, w, c] = ds.shape;
    this.stride = h * w * c;
    if (ds.images.length !== n * this.stride) {
      throw new Error(
        `InMemorySource: ${ds.images.length} bytes do not match shape [${ds.shape}] (${n * this.stride})`,
      );
    }
    if (ds.targets.length !== n) throw new Error(`InMemorySource: ${ds.targets.length} targets for ${n} images`);
    this.length = n;
    this.images = ds.images;
    this.targets = ds.targets;
    this.imageShape = [h, w, c];
  }

  getBatch(indices: ArrayLike<number>): ByteBatch {
    return this.gatherInto(indices, new Uint8Array(indices.length * this.stride));
  }

  /** Copies the images `indices` into `out` (which must hold at least indices.length images). */
  gatherInto(indices: ArrayLike<number>, out: Uint8Array): ByteBatch {
    const s = this.stride;
    const n = indices.length;
    if (out.length < n * s) throw new Error(`gatherInto: buffer of ${out.length} bytes < ${n * s}`);
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      if (!(i >= 0 && i < this.length) || !Number.isInteger(i)) {
        throw new RangeError(`InMemorySource: image index ${i} out of range [0, ${this.length})`);
      }
      out.set(this.images.subarray(i * s, i * s + s), k * s);
    }
    return { data: n * s === out.length ? out : out.subarray(0, n * s), shape: [n, ...this.imageShape] };
  }
}

/** The loader's batch transform: the batch's uint8 NHWC tensor and its AugRng → x (tensor or views). */
export type BatchTransform<X> = (x: Tensor, rng: AugRng) => X;

export interface DataLoaderOptions<X> {
  sampler: EpochSampler;
  batchSize: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** Batched transform from uint8 NHWC; default toFloat() (float32 NCHW in [0,1]). */
  transform?: BatchTransform<X>;
  /** Augmentation seed: batch (epoch, step) uses AugRng(seed, epoch, step). Default 0. */
  seed?: number;
  /** Gather the next batch's bytes ahead into a second buffer (default true). */
  prefetch?: boolean;
  /** Dispose each batch's tensors when the next is requested / the iteration ends (default true). */
  disposePrevious?: boolean;
  /**
   * This process's part of every epoch when several processes train together (ExecContext rank and world
   * size): see `shardOrder`. `batchSize` is then the per-process batch. Default: the whole order.
   */
  shard?: { rank: number; worldSize: number };
}

/**
 * Process `rank`'s share of an epoch order, as torch's DistributedSampler (drop_last=False) takes it: the
 * order padded to a multiple of `worldSize` by repeating its first indices, then every worldSize-th index
 * from position `rank`. Every process gets the same number of indices; together they cover the order.
 */
export function shardOrder(order: Int32Array, rank: number, worldSize: number): Int32Array {
  if (!(Number.isInteger(worldSize) && worldSize >= 1 && Number.isInteger(rank) && rank >= 0 && rank < worldSize)) {
    throw new RangeError(`shard: rank ${rank} must be an integer in [0, worldSize ${worldSize})`);
  }
  if (worldSize === 1) return order;
  const per = Math.ceil(order.length / worldSize);
  const out = new Int32Array(per);
  for (let k = 0; k < per; k++) {
    const i = rank + k * worldSize;
    out[k] = order[i % order.length];
  }
  return out;
}

export interface Batch<X = Tensor> {
  /** Transformed images: float32 NCHW by default, or whatever the transform returns (e.g. two views). */
  x: X;
  /** Labels, int64 [n]. */
  y: Tensor;
  /** Dataset indices of the images, in batch order. */
  indices: Int32Array;
  epoch: number;
  step: number;
}

interface Staged {
  epoch: number;
  step: number;
  indices: Int32Array;
  images: Tensor;
  targets: Tensor;
}

/** Seeded batched iteration over a BatchSource with a batched tensor transform. */
export class DataLoader<X = Tensor> {
  readonly source: BatchSource;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly seed: number;
  private readonly sampler: EpochSampler;
  private readonly transform: BatchTransform<X>;
  private readonly prefetch: boolean;
  private readonly disposePrevious: boolean;
  private readonly shard: { rank: number; worldSize: number };
  private readonly buffers: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
  private nextBuffer = 0;
  private bytesPerImage = -1;
  private orderCache: { epoch: number; order: Int32Array } | null = null;

  constructor(source: BatchSource, opts: DataLoaderOptions<X>) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.source = source;
    this.sampler = opts.sampler;
    this.batchSize = opts.batchSize;
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? 0;
    this.transform = opts.transform ?? (toFloat() as unknown as BatchTransform<X>);
    this.prefetch = opts.prefetch ?? true;
    this.disposePrevious = opts.disposePrevious ?? true;
    this.shard = opts.shard ?? { rank: 0, worldSize: 1 };
    shardOrder(new Int32Array(0), this.shard.rank, this.shard.worldSize); // validates
  }

  /** The sampler's visiting order for an epoch, this process's shard of it (cached for the current epoch). */
  epochOrder(epoch: number): Int32Array {
    if (this.orderCache?.epoch !== epoch) {
      const order = shardOrder(this.sampler.epochIndices(epoch), this.shard.rank, this.shard.worldSize);
      this.orderCache = { epoch, order };
    }
    return this.orderCache.order;
  }

  /** Number of batches in an epoch. */
  numBatches(epoch = 0): number {
    const n = this.epochOrder(epoch).length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Batch `step` of `epoch`, built from scratch (random access; identical to what iteration yields). */
  batchAt(epoch: number, step: number): Batch<X> {
    if (!(step >= 0 && step < this.numBatches(epoch)))
      throw new RangeError(`batchAt: step ${step} outside epoch ${epoch} (${this.numBatches(epoch)} batches)`);
    return this.finish(this.stage(epoch, step));
  }

  /** Iterates an epoch synchronously (from batch `fromStep`, e.g. when resuming mid-epoch). */
  *epoch(epoch: number, fromStep = 0): Generator<Batch<X>, void, undefined> {
    const nb = this.numBatches(epoch);
    let staged: Staged | null = fromStep < nb ? this.stage(epoch, fromStep) : null;
    let prev: Batch<X> | null = null;
    try {
      for (let step = fromStep; step < nb; step++) {
        const cur = staged as Staged;
        if (prev && this.disposePrevious) disposeBatch(prev);
        prev = this.finish(cur);
        staged = this.prefetch && step + 1 < nb ? this.stage(epoch, step + 1) : null;
        yield prev;
        if (!staged && step + 1 < nb) staged = this.stage(epoch, step + 1);
      }
    } finally {
      if (staged) dispose([staged.images, staged.targets]);
      if (prev && this.disposePrevious) disposeBatch(prev);
    }
  }

  /**
   * Iterates an epoch asynchronously: after a batch is yielded, the next batch's gather and tensor creation
   * are scheduled with setImmediate and run while the consumer awaits.
   */
  async *epochAsync(epoch: number, fromStep = 0): AsyncGenerator<Batch<X>, void, undefined> {
    const nb = this.numBatches(epoch);
    let pending: Promise<Staged> | null = fromStep < nb ? Promise.resolve(this.stage(epoch, fromStep)) : null;
    let prev: Batch<X> | null = null;
    try {
      for (let step = fromStep; step < nb; step++) {
        const cur = await (pending as Promise<Staged>);
        if (prev && this.disposePrevious) disposeBatch(prev);
        prev = this.finish(cur);
        pending =
          step + 1 < nb
            ? new Promise<Staged>((resolve, reject) =>
                setImmediate(() => {
                  try {
                    resolve(this.stage(epoch, step + 1));
                  } catch (e) {
                    reject(e);
                  }
                }),
              )
            : null;
        yield prev;
      }
    } finally {
      if (pending) {
        const s = await pending.catch(() => null);
        if (s) dispose([s.images, s.targets]);
      }
      if (prev && this.disposePrevious) disposeBatch(prev);
    }
  }

  [Symbol.iterator](): Generator<Batch<X>, void, undefined> {
    return this.epoch(0);
  }

  /** Gathers a batch's bytes into the next double buffer and creates its uint8 and target tensors. */
  private stage(epoch: number, step: number): Staged {
    const order = this.epochOrder(epoch);
    const start = step * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, order.length));
    const raw = this.gather(indices);
    const tg = new BigInt64Array(indices.length);
    const t = this.source.targets;
    for (let k = 0; k < indices.length; k++) tg[k] = BigInt(t[indices[k]]);
    // Created outside any tidy scope on purpose: a staged batch outlives the caller's step scope.
    return untracked(() => ({
      epoch,
      step,
      indices,
      images: tensor(raw.data, raw.shape, 'uint8'),
      targets: tensor(tg, [indices.length], 'int64'),
    }));
  }

  private gather(indices: Int32Array): ByteBatch {
    const src = this.source;
    if (!src.gatherInto) return src.getBatch(indices);
    if (this.bytesPerImage < 0) this.bytesPerImage = src.getBatch(indices.subarray(0, 1)).data.length;
    const b = this.nextBuffer;
    this.nextBuffer = 1 - b;
    const need = this.bytesPerImage * this.batchSize;
    if (this.buffers[b].length !== need) this.buffers[b] = new Uint8Array(need);
    return src.gatherInto(indices, this.buffers[b]);
  }

  private finish(s: Staged): Batch<X> {
    try {
      const x = untracked(() => tidy(() => this.transform(s.images, new AugRng(this.seed, s.epoch, s.step))));
      return { x, y: s.targets, indices: s.indices, epoch: s.epoch, step: s.step };
    } catch (e) {
      s.targets.dispose();
      throw e;
    } finally {
      s.images.dispose();
    }
  }
}

/** Disposes a batch's tensors (x — tensor or views — and y). */
export function disposeBatch(b: { x: unknown; y: Tensor }): void {
  dispose([b.x, b.y]);
}

/**
 * Runs fn so that the tensors it returns belong to no enclosing tidy scope: they are kept, which exempts
 * them from scope disposal; their owner (the loader or the caller) disposes them explicitly.
 */
export function untracked<T>(fn: () => T): T {
  const r = tidy(fn);
  const out: Tensor[] = [];
  const walk = (v: unknown, d: number): void => {
    if (d > 4 || v === null || v === undefined) return;
    if (v instanceof Tensor) out.push(v);
    else if (Array.isArray(v)) v.forEach((e) => walk(e, d + 1));
    else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype)
      Object.values(v as object).forEach((e) => walk(e, d + 1));
  };
  walk(r, 0);
  for (const t of out) t.keep();
  return r;
}

// ------------------------------------------------------------------ paired (semi-supervised) loading

export interface PairedBatch<XL, XU> {
  labeled: Batch<XL>;
  unlabeled: Batch<XU>;
  epoch: number;
  step: number;
}

/**
 * A labeled and an unlabeled batch per step (semi-supervised training). An epoch is the labeled loader's
 * epoch; the unlabeled loader is an endless stream over its own epochs: labeled (epoch e, step s) pairs
 * with unlabeled stream position P = e·L + s (L = labeled batches per epoch), i.e. unlabeled epoch
 * floor(P / U), step P mod U (U = unlabeled batches per epoch). Deterministic for any (e, s), so resuming at
 * an epoch reproduces the pairing. (Assumes L is the same every epoch, as for all ltkit samplers.)
 */
export class PairedLoader<XL = Tensor, XU = Tensor> {
  constructor(
    readonly labeled: DataLoader<XL>,
    readonly unlabeled: DataLoader<XU>,
  ) {}

  numBatches(epoch = 0): number {
    return this.labeled.numBatches(epoch);
  }

  /** The unlabeled (epoch, step) paired with labeled (epoch, step). */
  unlabeledPosition(epoch: number, step: number): { epoch: number; step: number } {
    const L = this.labeled.numBatches(epoch);
    const U = this.unlabeled.numBatches(0);
    if (U === 0) throw new Error('PairedLoader: the unlabeled loader yields no batches');
    const P = epoch * L + step;
    return { epoch: Math.floor(P / U), step: P % U };
  }

  *epoch(epoch: number): Generator<PairedBatch<XL, XU>, void, undefined> {
    const L = this.labeled.numBatches(epoch);
    const lit = this.labeled.epoch(epoch);
    let uEpoch = -1;
    let uit: Generator<Batch<XU>, void, undefined> | null = null;
    try {
      for (let s = 0; s < L; s++) {
        const lr = lit.next();
        if (lr.done) break;
        const pos = this.unlabeledPosition(epoch, s);
        if (uit === null || pos.epoch !== uEpoch) {
          uit?.return();
          uEpoch = pos.epoch;
          uit = this.unlabeled.epoch(uEpoch, pos.step);
        }
        const ur = uit.next();
        if (ur.done) throw new Error('PairedLoader: unlabeled stream ended early');
        yield { labeled: lr.value, unlabeled: ur.value, epoch, step: s };
      }
    } finally {
      lit.return();
      uit?.return();
    }
  }

  [Symbol.iterator](): Generator<PairedBatch<XL, XU>, void, undefined> {
    return this.epoch(0);
  }
}
