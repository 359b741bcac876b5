// Tests for unlabeled pool building (DU@k×, ρU, relevance mixing) and many/medium/few groups + SVG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUnlabeledPool, POOL_OUT_OF_TASK, POOL_RELEVANT } from './pools';
import { selectLongTail, selectUnlabeled } from './subset';
import { longTailCounts, unlabeledCounts } from './counts';
import { shotGroups, shotGroup, classCounts, imbalanceRatio } from './groups';

function balancedTargets(C: number, per: number): Int32Array {
  const t = new Int32Array(C * per);
  for (let i = 0; i < t.length; i++) t[i] = (3 * i + Math.floor(i / C)) % C;
  return t;
}

test('DU@k× pool: held-out only, per-class ρU counts, true targets kept, same stream as selectUnlabeled', () => {
  const targets = balancedTargets(10, 2000);
  const counts = longTailCounts({ numClasses: 10, imgMax: 500, rho: 10, type: 'exp' });
  const lab = selectLongTail(targets, counts, { seed: 0 });
  const L = lab.indices.length;
  const pool = buildUnlabeledPool({
    targets,
    numClasses: 10,
    labeled: lab.indices,
    k: 2,
    rhoU: 10,
    rng: lab.rng.clone(),
  });
  assert.equal(pool.total, 2 * L);
  const want = unlabeledCounts({ total: 2 * L, numClasses: 10, rhoU: 10 });
  assert.deepEqual(pool.requestedPerClass, want);
  assert.deepEqual(pool.relevantPerClass, want);
  const labSet = new Set(lab.indices);
  for (let i = 0; i < pool.indices.length; i++) {
    assert.ok(!labSet.has(pool.indices[i]));
    assert.equal(pool.trueTargets[i], targets[pool.indices[i]]);
    assert.equal(pool.source[i], POOL_RELEVANT);
  }
  assert.equal(new Set(pool.indices).size, pool.indices.length);
  const ref = selectUnlabeled(targets, want, { rng: lab.rng.clone(), exclude: lab.indices });
  assert.deepEqual(Array.from(pool.indices), Array.from(ref.indices));
});

test('relevance mixing: fraction r relevant, rest from out-of-task ids, seeded', () => {
  const targets = balancedTargets(10, 1000);
  const labeled = selectLongTail(targets, new Array(10).fill(100), { seed: 1 }).indices;
  const outIds = Int32Array.from({ length: 5000 }, (_, i) => 100000 + i);
  const outTargets = Int32Array.from({ length: 5000 }, () => -1);
  const mk = (seed: number) =>
    buildUnlabeledPool({
      targets,
      numClasses: 10,
      labeled,
      k: 5,
      rhoU: 1,
      relevance: 0.6,
      outOfTask: { ids: outIds, targets: outTargets },
      seed,
    });
  const p = mk(3);
  assert.equal(p.total, 5000);
  assert.equal(p.relevantTotal, 3000);
  assert.equal(p.outOfTaskTotal, 2000);
  const nOut = p.source.filter((s) => s === POOL_OUT_OF_TASK).length;
  assert.equal(nOut, 2000);
  for (let i = 0; i < p.indices.length; i++) {
    if (p.source[i] === POOL_OUT_OF_TASK) {
      assert.ok(p.indices[i] >= 100000);
      assert.equal(p.trueTargets[i], -1);
    }
  }
  assert.equal(new Set(p.indices).size, p.indices.length);
  assert.deepEqual(Array.from(mk(3).indices), Array.from(p.indices));
  assert.notDeepEqual(Array.from(mk(4).indices), Array.from(p.indices));
  assert.throws(() => buildUnlabeledPool({ targets, numClasses: 10, labeled, relevance: 0.5 }));
});

test('shot groups use >100 / 20–100 / <20', () => {
  assert.equal(shotGroup(101), 'many');
  assert.equal(shotGroup(100), 'medium');
  assert.equal(shotGroup(20), 'medium');
  assert.equal(shotGroup(19), 'few');
  const g = shotGroups([5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  assert.deepEqual(g.many, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(g.medium, [8, 9]);
  assert.deepEqual(g.few, []);
  assert.deepEqual(classCounts([0, 1, 1, 2, 2, 2, 7], 3), [1, 2, 3]);
  assert.equal(imbalanceRatio([5000, 50]), 100);
});
