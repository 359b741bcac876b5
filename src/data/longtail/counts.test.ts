// Tests for long-tail counts: SPEC §1.1 known totals and NumPy/Python reference fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { longTailCounts, unlabeledCounts, SVHN_LT_ORDER, longTailProfile } from './counts';
import { catalogCounts } from '../catalog';
import { loadFixture } from './fixtures.test-util';

const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

test('CIFAR-10-LT known totals (SPEC §1.1)', () => {
  const r100 = longTailCounts({ numClasses: 10, imgMax: 5000, rho: 100, type: 'exp' });
  assert.deepEqual(r100, [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]);
  assert.equal(sum(r100), 12406);
  assert.equal(sum(longTailCounts({ numClasses: 10, imgMax: 5000, rho: 50, type: 'exp' })), 13996);
  assert.equal(sum(longTailCounts({ numClasses: 10, imgMax: 5000, rho: 10, type: 'exp' })), 20431);
  assert.equal(sum(longTailCounts({ numClasses: 10, imgMax: 5000, rho: 200, type: 'exp' })), 11203);
});

test('CIFAR-100-LT known totals', () => {
  assert.equal(sum(longTailCounts({ numClasses: 100, imgMax: 500, rho: 100, type: 'exp' })), 10847);
  assert.equal(sum(longTailCounts({ numClasses: 100, imgMax: 500, rho: 50, type: 'exp' })), 12608);
  assert.equal(sum(longTailCounts({ numClasses: 100, imgMax: 500, rho: 10, type: 'exp' })), 19573);
});

test('SVHN-LT order 1..9,0 totals and tail at digit 0', () => {
  const c100 = longTailCounts({ numClasses: 10, imgMax: 1000, rho: 100, type: 'exp', order: [...SVHN_LT_ORDER] });
  assert.equal(sum(c100), 2478);
  assert.equal(c100[1], 1000);
  assert.equal(c100[0], 10);
  assert.equal(
    sum(longTailCounts({ numClasses: 10, imgMax: 1000, rho: 50, type: 'exp', order: [...SVHN_LT_ORDER] })),
    2795,
  );
});

test('step profile', () => {
  assert.deepEqual(
    longTailCounts({ numClasses: 10, imgMax: 5000, rho: 100, type: 'step' }),
    [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50],
  );
  assert.deepEqual(longTailProfile(5, 100, 10, 'step'), [100, 100, 10, 10, 10]);
});

test('input validation', () => {
  assert.throws(() => longTailCounts({ numClasses: 10, imgMax: 5000, rho: 0.5, type: 'exp' }));
  assert.throws(() => longTailCounts({ numClasses: 3, imgMax: 10, rho: 2, type: 'exp', order: [0, 0, 1] }));
});

interface CountsFixture {
  labeled: { numClasses: number; imgMax: number; rho: number; type: 'exp' | 'step'; counts: number[] }[];
  unlabeled: { numClasses: number; total: number; rhoU: number; counts: number[] }[];
}
const fx = loadFixture<CountsFixture>('counts.json');

test(`labeled counts match Python reference expression (${fx.labeled.length} cases)`, () => {
  for (const c of fx.labeled) {
    const got = longTailCounts({ numClasses: c.numClasses, imgMax: c.imgMax, rho: c.rho, type: c.type });
    assert.deepEqual(got, c.counts, `C=${c.numClasses} imgMax=${c.imgMax} rho=${c.rho} ${c.type}`);
  }
});

test(`unlabeled counts match Python reference (${fx.unlabeled.length} cases)`, () => {
  for (const c of fx.unlabeled) {
    const got = unlabeledCounts({ total: c.total, numClasses: c.numClasses, rhoU: c.rhoU });
    assert.deepEqual(got, c.counts, `C=${c.numClasses} U=${c.total} rhoU=${c.rhoU}`);
  }
});

test('unlabeled DU@5x for CIFAR-10-LT rho=100, rhoU=1 is balanced', () => {
  const u = unlabeledCounts({ total: 5 * 12406, numClasses: 10, rhoU: 1 });
  assert.deepEqual(u, new Array(10).fill(6203));
});

test('catalogue protocols: svhn-lt and fmnist-lt', () => {
  const s = catalogCounts('svhn-lt', 50);
  assert.equal(sum(s), 2795);
  assert.equal(s[1], 1000);
  const f = catalogCounts('fmnist-lt', 100);
  assert.equal(f[0], 1000);
  assert.equal(sum(f), 2478);
  assert.equal(sum(catalogCounts('cifar100-lt', 100)), 10847);
});

test('the count formula multiplies by (1/ρ)^e as the reference does, not img_max/ρ^e: 49 images at ρ = 49', () => {
  // int(49 * (1/49)**1) = int(0.9999999999999999) = 0 in the reference; 49 / 49**1 would give 1.
  assert.equal(49 * Math.pow(1 / 49, 1), 0.9999999999999999);
  assert.deepEqual(longTailCounts({ numClasses: 2, imgMax: 49, rho: 49, type: 'exp' }), [49, 0]);
  assert.deepEqual(longTailCounts({ numClasses: 2, imgMax: 49, rho: 49, type: 'step' }), [49, 0]);
});
