// Data-parallel sharding: W processes, each with batch B/W, together see exactly the one-process epoch —
// batch k of the ranks together is batch k of one process (as a multiset), for every sampler the recipes
// use (instance, class-balanced, DRS, class-aware, progressive), the unlabeled stream's loader, and the
// streamed-file loader's order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, InMemorySource } from './loader';
import { createSampler, SamplerKind } from '../samplers';
import { StreamLoader } from '../stream/stream-loader';

// A long-tailed label list (5 classes: 40 20 10 5 2), 77 images of one pixel each.
const counts = [40, 20, 10, 5, 2];
const targets = Int32Array.from(counts.flatMap((n, c) => Array<number>(n).fill(c)));
const images = {
  images: new Uint8Array(targets.length),
  shape: [targets.length, 1, 1, 1] as [number, number, number, number],
  targets,
};

const sorted = (xs: Iterable<number>) => Array.from(xs).sort((a, b) => a - b);

/** Each batch's dataset indices, in order, over one epoch. */
function batches(loader: DataLoader, epoch: number): number[][] {
  return Array.from(loader.epoch(epoch), (b) => Array.from(b.indices));
}

const kinds: SamplerKind[] = ['instance', 'class-balanced', 'drs', 'class-aware', 'progressive'];

for (const kind of kinds) {
  test(`sharding (${kind}): 2 and 4 ranks with batch B/W give one process's batches with batch B`, () => {
    const B = 8;
    const make = () => createSampler({ kind, targets, seed: 3, totalEpochs: 4, switchEpoch: 1 });
    for (const epoch of [0, 1, 2]) {
      const one = batches(new DataLoader(new InMemorySource(images), { sampler: make(), batchSize: B }), epoch);
      for (const W of [2, 4]) {
        const ranks = Array.from({ length: W }, (_, rank) =>
          batches(
            new DataLoader(new InMemorySource(images), {
              sampler: make(),
              batchSize: B / W,
              shard: { rank, worldSize: W },
            }),
            epoch,
          ),
        );
        assert.ok(
          ranks.every((r) => r.length === ranks[0].length),
          'every rank takes the same number of steps',
        );
        assert.equal(ranks[0].length, one.length, `epoch ${epoch}, ${W} ranks: as many steps as one process`);
        const order = make().epochIndices(epoch);
        const full = Math.floor(order.length / B);
        for (let k = 0; k < full; k++) {
          const together = sorted(ranks.flatMap((r) => r[k]));
          assert.deepEqual(together, sorted(one[k]), `epoch ${epoch}, ${W} ranks, batch ${k}`);
        }
        // The last, partial batch: the ranks together hold its images plus the first ones again (padding to a
        // multiple of W, as torch's DistributedSampler), so every rank's step has the same size.
        const rest = ranks.flatMap((r) => r.slice(full).flat());
        const expected = [...one.slice(full).flat()];
        const pad = (W - (order.length % W)) % W;
        for (let i = 0; i < pad; i++) expected.push(order[i]);
        assert.deepEqual(sorted(rest), sorted(expected), `epoch ${epoch}, ${W} ranks: the last batch and its padding`);
      }
    }
  });
}

test('sharding: the streamed-file loader shards the same way (its epoch order per rank)', () => {
  const files = { paths: Array.from(targets, (_, i) => `img${i}.jpg`), targets };
  const sampler = () => createSampler({ kind: 'class-aware', targets, seed: 5 });
  const make = (rank: number, worldSize: number) =>
    new StreamLoader(files, {
      sampler: sampler(),
      batchSize: 4,
      decode: { mode: 'test', size: 8, resize: 8 },
      shard: { rank, worldSize },
    });
  const one = make(0, 1).epochOrder(2);
  const parts = [make(0, 2).epochOrder(2), make(1, 2).epochOrder(2)];
  // Rank r holds positions r, r + 2, r + 4, … of the one-process order (padded by its first index).
  const interleaved = Array.from({ length: parts[0].length * 2 }, (_, i) => parts[i % 2][Math.floor(i / 2)]);
  assert.deepEqual(interleaved.slice(0, one.length), Array.from(one));
  assert.deepEqual(interleaved.slice(one.length), Array.from(one.slice(0, interleaved.length - one.length)));
});
