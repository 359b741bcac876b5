// Tests: reference-mode long-tail selection reproduces NumPy (fixtures/data/gen_numpy_subsets.py) image for image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectLongTail, selectUnlabeled, indexHash, subsetManifest, verifyManifest } from './subset';
import { unlabeledCounts } from './counts';
import { loadFixture } from './fixtures.test-util';

interface SubsetCase {
  name: string;
  numClasses: number;
  perClassSource: number;
  rho: number;
  order: number[] | null;
  seed: number;
  counts: number[];
  labeled: number[];
  labeledPerClass: number[];
  labeledHash: string;
  k?: number;
  rhoU?: number;
  unlabeledTotal?: number;
  unlabeledCounts?: number[];
  unlabeled?: number[];
  unlabeledPerClass?: number[];
  unlabeledHash?: string;
}
const fx = loadFixture<{ cases: SubsetCase[] }>('subsets.json');

function syntheticTargets(C: number, perClass: number): Int32Array {
  const n = C * perClass;
  const t = new Int32Array(n);
  for (let i = 0; i < n; i++) t[i] = (3 * i + Math.floor(i / C)) % C;
  return t;
}

for (const c of fx.cases) {
  test(`reference selection ${c.name} seed ${c.seed} matches NumPy`, () => {
    const targets = syntheticTargets(c.numClasses, c.perClassSource);
    const sel = selectLongTail(targets, c.counts, {
      seed: c.seed,
      mode: 'reference',
      classOrder: c.order ?? undefined,
    });
    assert.deepEqual(Array.from(sel.indices), c.labeled);
    assert.deepEqual(sel.perClass, c.labeledPerClass);
    assert.equal(sel.hash, c.labeledHash);
    if (c.unlabeled) {
      const order = c.order ?? undefined;
      const ucounts = unlabeledCounts({ total: c.unlabeledTotal!, numClasses: c.numClasses, rhoU: c.rhoU!, order });
      assert.deepEqual(ucounts, c.unlabeledCounts);
      const u = selectUnlabeled(targets, ucounts, { rng: sel.rng, exclude: sel.indices, classOrder: order });
      assert.deepEqual(Array.from(u.indices), c.unlabeled);
      assert.deepEqual(u.perClass, c.unlabeledPerClass);
      assert.equal(u.hash, c.unlabeledHash);
      const lab = new Set(sel.indices);
      for (const i of u.indices) assert.ok(!lab.has(i));
    }
  });
}

test('ltkit mode draws the same subset but refuses short classes', () => {
  const targets = syntheticTargets(10, 500);
  const counts = [500, 299, 179, 107, 64, 38, 23, 13, 8, 5];
  const a = selectLongTail(targets, counts, { seed: 0, mode: 'reference' });
  const b = selectLongTail(targets, counts, { seed: 0, mode: 'ltkit' });
  assert.deepEqual(Array.from(a.indices), Array.from(b.indices));
  assert.throws(() => selectLongTail(targets, [501, ...counts.slice(1)], { seed: 0, mode: 'ltkit' }), /500 images/);
  const r = selectLongTail(targets, [501, ...counts.slice(1)], { seed: 0, mode: 'reference' });
  assert.equal(r.perClass[0], 500);
});

test('indexHash is order independent', () => {
  assert.equal(indexHash([3, 1, 2]), indexHash(Int32Array.from([1, 2, 3])));
  assert.notEqual(indexHash([1, 2]), indexHash([1, 2, 3]));
});

test('manifest round-trip and verification', () => {
  const targets = syntheticTargets(10, 500);
  const counts = [500, 299, 179, 107, 64, 38, 23, 13, 8, 5];
  const sel = selectLongTail(targets, counts, { seed: 0 });
  const m = JSON.parse(JSON.stringify(subsetManifest(sel, { seed: 0, counts }))) as ReturnType<typeof subsetManifest>;
  assert.deepEqual(verifyManifest(m, targets), []);
  assert.equal(m.total, 1236);
  const bad = { ...m, indices: m.indices.slice(1) };
  assert.ok(verifyManifest(bad, targets).length > 0);
});
