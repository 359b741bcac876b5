// StreamLoader: seeded batches of images decoded from files as they are needed — the loader of file data sets
// too large for memory (ImageNet-LT, iNaturalist 2018, Places-LT, a user's folder). Only paths and labels live
// in memory; at most `prefetch` batches are decoded ahead.
//
// Overlap with training: before batch i is handed to the training step, the decodes of batches i+1 … i+prefetch
// are already issued to the decoder (sharp in a worker thread / on libuv's pool). The step runs synchronously on
// the JS thread (libtorch) while they decode; the loop then awaits batch i+1, usually already there.
//   - `epochAsync` (what the training loop uses, src/train/loop.ts): awaits the decoder's promises;
//   - `epoch` (synchronous, for evaluation and feature extraction, which run inside synchronous hooks): blocks
//     in WorkerDecoder.waitSync; the worker keeps decoding the next batches meanwhile.
// Both are thin runners of one driver (`drive`), which differ only in how they wait; so the batches are the same
// either way: the sampler's order for (epoch, step), augmentation from AugRng(seed, epoch, step).
//
// Memory: a batch's pixels are copied into a tensor and the buffer goes back to the decoder (`recycle`), which
// decodes a later batch into it, so a steady epoch allocates no per-batch buffers (see ./decode-worker.ts).
//
// Bad images (unreadable, truncated, not an image): `badImages: 'skip'` reports each one once, with its path and
// libvips' reason, and drops it from its batch (the batch is one image shorter; a batch left empty is skipped);
// `'fail'` throws an error naming the file. Dropping keeps every batch a pure function of (seed, epoch, step)
// and never decodes a substitute.
//
// Tensors: like DataLoader, the batch's tensors are created outside the caller's tidy scope and disposed when
// the next batch is requested or the iteration ends.
import { tensor, tidy } from '../../engine';
import { AugRng } from '../transforms/rng';
import { toFloat } from '../transforms/color';
import { Batch, BatchTransform, EpochSampler, disposeBatch, shardOrder, untracked } from '../loader/loader';
import type { DecodeSpec, DecodedBatch, ImageDecoder } from './decode';
import { sharedDecoder, WorkerDecoder } from './worker-decoder';

/** Image files and their labels (what a streamed split holds in memory). */
export interface FileList {
  paths: readonly string[];
  targets: Int32Array;
}

export type BadImagePolicy = 'skip' | 'fail';

export interface StreamLoaderOptions<X> {
  sampler: EpochSampler;
  batchSize: number;
  decode: DecodeSpec;
  dropLast?: boolean;
  /** Batched transform of the uint8 NHWC batch (default toFloat). */
  transform?: BatchTransform<X>;
  seed?: number;
  /** Batches decoded ahead of the one in use (default 2). */
  prefetch?: number;
  /** Decoder for the asynchronous path (default: the shared sharp worker; tests inject slow stubs). */
  decoder?: ImageDecoder;
  badImages?: BadImagePolicy;
  /** Where bad-image reports go (the trainer's log line). */
  report?: (line: string) => void;
  shard?: { rank: number; worldSize: number };
}

/** Thrown for a bad image under `badImages: 'fail'`. */
export class BadImageError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: cannot decode image (${reason}); fix or remove it, or set data.badImages: skip`);
  }
}

export class StreamLoader<X = import('../../engine').Tensor> {
  readonly files: FileList;
  readonly batchSize: number;
  readonly seed: number;
  private readonly o: StreamLoaderOptions<X>;
  private readonly transform: BatchTransform<X>;
  private readonly prefetch: number;
  private readonly reported = new Set<number>();
  private orderCache: { epoch: number; order: Int32Array } | null = null;
  /** Bad images met so far (dataset index → reason). */
  readonly bad = new Map<number, string>();

  constructor(files: FileList, o: StreamLoaderOptions<X>) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1)
      throw new RangeError(`StreamLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    if (files.paths.length !== files.targets.length)
      throw new Error(`StreamLoader: ${files.paths.length} paths for ${files.targets.length} labels`);
    this.files = files;
    this.o = o;
    this.batchSize = o.batchSize;
    this.seed = o.seed ?? 0;
    this.transform = o.transform ?? (toFloat() as unknown as BatchTransform<X>);
    this.prefetch = Math.max(0, o.prefetch ?? 2);
  }

  get length(): number {
    return this.files.paths.length;
  }

  epochOrder(epoch: number): Int32Array {
    if (this.orderCache?.epoch !== epoch) {
      const s = this.o.shard ?? { rank: 0, worldSize: 1 };
      this.orderCache = { epoch, order: shardOrder(this.o.sampler.epochIndices(epoch), s.rank, s.worldSize) };
    }
    return this.orderCache.order;
  }

  numBatches(epoch = 0): number {
    const n = this.epochOrder(epoch).length;
    return this.o.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  private indicesOf(epoch: number, step: number): Int32Array {
    const order = this.epochOrder(epoch);
    const start = step * this.batchSize;
    return order.slice(start, Math.min(start + this.batchSize, order.length));
  }

  private pathsOf(indices: Int32Array): string[] {
    return Array.from(indices, (i) => this.files.paths[i]);
  }

  /**
   * Turns a decoded batch into tensors: drops (and reports) bad images, transforms the rest. Null: none left.
   * The decoded bytes are copied into a tensor first and the buffer handed back to `recycle` (the decoder's).
   */
  private finish(
    epoch: number,
    step: number,
    indices: Int32Array,
    d: DecodedBatch,
    recycle?: (data: Uint8Array) => void,
  ): Batch<X> | null {
    const S = d.size;
    const per = S * S * 3;
    const keep: number[] = [];
    d.errors.forEach((err, k) => {
      if (err === null) return keep.push(k);
      const i = indices[k];
      const file = this.files.paths[i];
      this.bad.set(i, err);
      if (this.o.badImages === 'fail') throw new BadImageError(file, err);
      if (!this.reported.has(i)) {
        this.reported.add(i);
        (this.o.report ?? ((l: string) => process.stderr.write(l + '\n')))(
          `[ltkit] warning: skipping unreadable image ${file} (${err})`,
        );
      }
    });
    if (keep.length === 0) {
      recycle?.(d.data);
      return null;
    }
    let data = d.data;
    if (keep.length < indices.length) {
      data = new Uint8Array(keep.length * per);
      keep.forEach((k, j) => data.set(d.data.subarray(k * per, (k + 1) * per), j * per));
    }
    const kept = Int32Array.from(keep, (k) => indices[k]);
    const tg = new BigInt64Array(kept.length);
    kept.forEach((i, k) => (tg[k] = BigInt(this.files.targets[i])));
    const y = untracked(() => tensor(tg, [kept.length], 'int64'));
    try {
      const x = untracked(() =>
        tidy(() => {
          const raw = tensor(data, [kept.length, S, S, 3], 'uint8'); // a copy: the buffer is free from here on
          recycle?.(d.data);
          return this.transform(raw, new AugRng(this.seed, epoch, step));
        }),
      );
      return { x, y, indices: kept, epoch, step };
    } catch (e) {
      y.dispose();
      throw e;
    }
  }

  /**
   * The one driver of an epoch, for both ways of waiting. `submit` starts decoding a batch's files and returns a
   * ticket. When the driver needs a batch it blocks in `waitSync(ticket)` if given (`epoch`); otherwise it yields
   * `{ wait: ticket }` and the runner (`epochAsync`) awaits it and sends the decoded batch back in with next(), or
   * throws the decoder's error in with throw(). Batches are yielded as `{ batch }`. Before a batch is handed out,
   * the decodes of the next `prefetch` batches are issued; the previous batch's tensors are disposed when the next
   * is requested or the epoch ends, and tickets still pending at the end go to `abandon`.
   */
  private *drive<T>(
    epoch: number,
    fromStep: number,
    submit: (paths: string[]) => T,
    abandon: (ticket: T) => void,
    recycle?: (data: Uint8Array) => void,
    waitSync?: (ticket: T) => DecodedBatch,
  ): Generator<{ wait: T } | { batch: Batch<X> }, void, DecodedBatch | undefined> {
    const nb = this.numBatches(epoch);
    const pending = new Map<number, { indices: Int32Array; ticket: T }>();
    let issued = fromStep;
    const issue = (upTo: number) => {
      for (; issued < Math.min(nb, upTo); issued++) {
        const indices = this.indicesOf(epoch, issued);
        pending.set(issued, { indices, ticket: submit(this.pathsOf(indices)) });
      }
    };
    let prev: Batch<X> | null = null;
    try {
      for (let step = fromStep; step < nb; step++) {
        issue(step + 1);
        const cur = pending.get(step) as { indices: Int32Array; ticket: T };
        const d = waitSync ? waitSync(cur.ticket) : ((yield { wait: cur.ticket }) as DecodedBatch);
        pending.delete(step);
        if (prev) disposeBatch(prev);
        prev = null;
        // The next batches start decoding before this one is handed to the (synchronous) training step.
        issue(step + 1 + this.prefetch);
        const b = this.finish(epoch, step, cur.indices, d, recycle);
        if (!b) continue;
        prev = b;
        yield { batch: b };
      }
    } finally {
      for (const { ticket } of pending.values()) abandon(ticket);
      if (prev) disposeBatch(prev);
    }
  }

  /** The epoch's batches, decoded `prefetch` batches ahead and awaited (the training loop's path). */
  async *epochAsync(epoch: number, fromStep = 0): AsyncGenerator<Batch<X>, void, undefined> {
    const dec = this.o.decoder ?? sharedDecoder();
    const g = this.drive(
      epoch,
      fromStep,
      (paths) => {
        const p = dec.decodeBatch(paths, this.o.decode);
        p.catch(() => undefined); // awaited when its turn comes; never an unhandled rejection
        return p;
      },
      () => undefined,
      dec.recycle?.bind(dec),
    );
    try {
      let r = g.next();
      while (!r.done) {
        const v = r.value;
        if ('batch' in v) {
          yield v.batch;
          r = g.next();
          continue;
        }
        let d: DecodedBatch;
        try {
          d = await v.wait;
        } catch (e) {
          r = g.throw(e);
          continue;
        }
        r = g.next(d);
      }
    } finally {
      g.return();
    }
  }

  /** The epoch's batches, synchronously (evaluation, features): the worker decodes ahead while a batch is used. */
  *epoch(epoch: number, fromStep = 0): Generator<Batch<X>, void, undefined> {
    const dec: WorkerDecoder = this.o.decoder instanceof WorkerDecoder ? this.o.decoder : sharedDecoder();
    const g = this.drive(
      epoch,
      fromStep,
      (paths) => dec.submit(paths, this.o.decode),
      // Batches still in the worker are collected so their replies do not pile up.
      (id) => void dec.wait(id).catch(() => undefined),
      (data) => dec.recycle(data),
      (id) => dec.waitSync(id),
    );
    // The driver waits itself, so it yields only batches; leaving this loop early returns it (its cleanup).
    for (const v of g) if ('batch' in v) yield v.batch;
  }

  /** The loop's asynchronous path (core/task.ts BatchStream.asyncEpoch). */
  asyncEpoch(epoch: number): AsyncGenerator<Batch<X>, void, undefined> {
    return this.epochAsync(epoch);
  }

  [Symbol.iterator](): Generator<Batch<X>, void, undefined> {
    return this.epoch(0);
  }
}
