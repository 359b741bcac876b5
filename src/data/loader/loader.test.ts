import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, memory, equal, tidy } from '../../engine';
import { DataLoader, InMemorySource, PairedLoader, ShuffleSampler, Batch, EpochSampler, shardOrder } from './index';
import { cifarTrain, twoViews, mocoV2, AugRng } from '../transforms';
import { InstanceSampler } from '../samplers/instance';
import type { ImageSource } from '../sources/types';
import type { BatchSource } from './loader';
import { settledMemory } from '../../engine/test-support';

// Compile-time check: every dataset source (src/data/sources) can feed a DataLoader directly.
export const sourceFitsLoader = (s: ImageSource): BatchSource => s;

function dataset(n: number, h = 4, w = 4, c = 3): InMemorySource {
  const images = new Uint8Array(n * h * w * c);
  // image i: every byte = (i * 7 + position) & 255, so each image is identifiable
  for (let i = 0; i < n; i++) for (let j = 0; j < h * w * c; j++) images[i * h * w * c + j] = (i * 7 + j) & 255;
  const targets = Int32Array.from({ length: n }, (_, i) => i % 5);
  return new InMemorySource({ images, shape: [n, h, w, c], targets });
}

function collect<X>(it: Iterable<Batch<X>>, f: (b: Batch<X>) => void): number {
  let k = 0;
  for (const b of it) {
    f(b);
    k++;
  }
  return k;
}

test('InMemorySource.gatherInto copies exactly the requested images', () => {
  const src = dataset(10, 2, 2, 3);
  const out = new Uint8Array(3 * 12);
  const b = src.gatherInto([9, 0, 4], out);
  assert.deepEqual(b.shape, [3, 2, 2, 3]);
  for (const [k, i] of [9, 0, 4].entries())
    for (let j = 0; j < 12; j++) assert.equal(b.data[k * 12 + j], (i * 7 + j) & 255);
  assert.throws(() => src.getBatch([10]), /out of range/);
});

test('DataLoader: batches follow the sampler order; x float32 NCHW, y int64; drop-last; no leaks', () => {
  const before = settledMemory().numTensors;
  const src = dataset(23);
  const sampler = new ShuffleSampler(23, 5);
  const order = sampler.epochIndices(2);
  for (const dropLast of [false, true]) {
    const dl = new DataLoader(src, { sampler, batchSize: 8, dropLast });
    assert.equal(dl.numBatches(2), dropLast ? 2 : 3);
    const seen: number[] = [];
    const n = collect(dl.epoch(2), (b) => {
      assert.equal(b.epoch, 2);
      assert.equal(b.x.dtype, 'float32');
      assert.equal(b.y.dtype, 'int64');
      assert.deepEqual(b.x.shape, [b.indices.length, 3, 4, 4]);
      assert.deepEqual(
        b.y.toList(),
        [...b.indices].map((i) => i % 5),
      );
      // pixel (c=1, h=0, w=0) of image i is byte 1 of it: (7i + 1) / 255
      const xv = b.x.toArray() as Float32Array;
      b.indices.forEach((i, k) => assert.equal(xv[k * 48 + 16], Math.fround(((i * 7 + 1) & 255) / 255)));
      seen.push(...b.indices);
    });
    assert.equal(n, dropLast ? 2 : 3);
    assert.deepEqual(seen, [...order.subarray(0, dropLast ? 16 : 23)]);
  }
  assert.equal(memory().numTensors, before, 'loader leaked tensors');
});

test('DataLoader: deterministic given seed and epoch; batchAt == iteration; epochs and seeds differ', () => {
  const src = dataset(40, 32, 32, 3);
  const mk = (seed: number): DataLoader =>
    new DataLoader(src, { sampler: new ShuffleSampler(40, 1), batchSize: 16, transform: cifarTrain(), seed });
  const before = settledMemory().numTensors;
  const a = mk(3);
  const b = mk(3);
  const itA = a.epoch(1);
  const itB = b.epoch(1);
  for (let s = 0; s < 3; s++) {
    const x = itA.next().value as Batch;
    const y = itB.next().value as Batch;
    assert.ok(equal(x.x, y.x));
    assert.deepEqual(x.indices, y.indices);
    const r = a.batchAt(1, s);
    assert.ok(equal(r.x, x.x));
    r.x.dispose();
    r.y.dispose();
  }
  assert.ok(itA.next().done && itB.next().done);
  tidy(() => {
    const e0 = mk(3).batchAt(0, 0);
    const e1 = mk(3).batchAt(1, 0);
    assert.notDeepEqual(e0.indices, e1.indices);
    const s4 = mk(4).batchAt(0, 0);
    assert.deepEqual(e0.indices, s4.indices);
    assert.ok(!equal(e0.x, s4.x), 'different seeds must augment differently');
    for (const t of [e0, e1, s4]) {
      t.x.dispose();
      t.y.dispose();
    }
  });
  assert.equal(memory().numTensors, before);
});

test('DataLoader: epochAsync yields the same batches; break disposes; works with the samplers module', async () => {
  const src = dataset(30);
  const sampler: EpochSampler = new InstanceSampler(30, 9);
  const dl = new DataLoader(src, { sampler, batchSize: 7, transform: cifarTrain({ size: 4, padding: 1 }), seed: 2 });
  const before = settledMemory().numTensors;
  const sync: Float32Array[] = [];
  for (const b of dl.epoch(0)) sync.push(b.x.toArray() as Float32Array);
  const asy: Float32Array[] = [];
  for await (const b of dl.epochAsync(0)) {
    asy.push(b.x.toArray() as Float32Array);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(sync.length, 5);
  assert.deepEqual(asy, sync);
  for (const b of dl.epoch(1)) if (b) break;
  for await (const b of dl.epochAsync(1)) if (b) break;
  // resume mid-epoch
  const tail: Float32Array[] = [];
  for (const b of dl.epoch(0, 3)) tail.push(b.x.toArray() as Float32Array);
  assert.deepEqual(tail, sync.slice(3));
  assert.equal(memory().numTensors, before);
});

test('DataLoader: two-view transform yields [Tensor, Tensor]', () => {
  const src = dataset(6, 16, 16, 3);
  const dl = new DataLoader<Tensor[]>(src, {
    sampler: new ShuffleSampler(6),
    batchSize: 4,
    transform: twoViews(mocoV2({ size: 8 })),
  });
  const before = settledMemory().numTensors;
  for (const b of dl.epoch(0)) {
    assert.equal(b.x.length, 2);
    assert.deepEqual(b.x[0].shape, [b.indices.length, 3, 8, 8]);
    assert.ok(!equal(b.x[0], b.x[1]));
  }
  assert.equal(memory().numTensors, before);
});

test('PairedLoader: labeled epoch with a continuous, deterministic unlabeled stream', () => {
  const lab = dataset(20);
  const unl = new InMemorySource({
    images: new Uint8Array(14 * 48).fill(3),
    shape: [14, 4, 4, 3],
    targets: new Int32Array(14).fill(-1),
  });
  const mk = (): PairedLoader =>
    new PairedLoader(
      new DataLoader(lab, { sampler: new ShuffleSampler(20, 1), batchSize: 5 }),
      new DataLoader(unl, { sampler: new ShuffleSampler(14, 2), batchSize: 4, dropLast: true }),
    );
  const p = mk();
  assert.equal(p.numBatches(0), 4);
  const before = settledMemory().numTensors;
  const stream: number[][] = [];
  for (let e = 0; e < 3; e++) {
    for (const b of p.epoch(e)) {
      assert.equal(b.labeled.x.shape[0], 5);
      assert.equal(b.unlabeled.x.shape[0], 4);
      assert.deepEqual(b.unlabeled.y.toList(), [-1, -1, -1, -1]);
      assert.deepEqual(p.unlabeledPosition(e, b.step), { epoch: b.unlabeled.epoch, step: b.unlabeled.step });
      stream.push([b.unlabeled.epoch, b.unlabeled.step]);
    }
  }
  // 12 labeled steps walk the unlabeled stream 3 batches per unlabeled epoch, without gaps or repeats
  assert.deepEqual(
    stream,
    Array.from({ length: 12 }, (_, k) => [Math.floor(k / 3), k % 3]),
  );
  // resuming at epoch 2 gives the same pairing
  const again: number[][] = [];
  for (const b of mk().epoch(2)) again.push([...b.unlabeled.indices]);
  const first: number[][] = [];
  for (const b of p.epoch(2)) first.push([...b.unlabeled.indices]);
  assert.deepEqual(again, first);
  assert.equal(memory().numTensors, before);
  void AugRng;
});

test('shardOrder: every process gets as many indices, together they cover the order (DistributedSampler)', () => {
  const order = Int32Array.from([7, 3, 9, 0, 5, 1, 8]);
  assert.equal(shardOrder(order, 0, 1), order, 'one process: the order itself');
  const parts = [0, 1, 2].map((r) => Array.from(shardOrder(order, r, 3)));
  // Padded to 9 with the first two indices, then positions r, r+3, r+6 (torch's indices[rank::world]).
  assert.deepEqual(parts, [
    [7, 0, 8],
    [3, 5, 7],
    [9, 1, 3],
  ]);
  assert.deepEqual(new Set(parts.flat()), new Set(order));
  assert.throws(() => shardOrder(order, 3, 3), /rank 3/);
  // A loader with a shard yields only its part, in per-process batches.
  const l = new DataLoader(dataset(10), {
    sampler: { epochIndices: () => order },
    batchSize: 2,
    shard: { rank: 1, worldSize: 3 },
  });
  assert.equal(l.numBatches(0), 2);
  const got: number[] = [];
  for (const b of l.epoch(0)) {
    got.push(...b.indices);
    assert.ok(b.indices.length <= 2);
  }
  assert.deepEqual(got, [3, 5, 7]);
});
