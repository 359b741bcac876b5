// Tests for recommend() (recommend.ts): every rule on the profiles of the benchmarks its evidence comes from
// (SPEC §1.1 counts), the boundaries between rules, order independence, the SSP sentence, bad input, and
// that every recommended recipe is a valid recipe of the method registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { longTailProfile } from './longtail/counts';
import { RECOMMEND_RULES, recommend } from './recommend';
import { parseRecipe } from '../methods';

test('rule 1: nearly balanced data (ρ < 3) → ce', () => {
  const r = recommend(longTailProfile(10, 500, 2, 'exp'));
  assert.equal(r.recipe, 'ce');
  assert.match(r.reason, /^10 classes, 3,\d{3} images, ρ = 2 \(max 500, min 250\): nearly balanced/);
  assert.equal(recommend([100, 100, 100]).recipe, 'ce');
  // Balance wins over size: a large balanced set is still plain CE.
  assert.equal(recommend(new Array(1000).fill(100)).recipe, 'ce');
  // The boundary: ρ = 3 is no longer balanced.
  assert.notEqual(recommend([300, 200, 150, 100]).recipe, 'ce');
  const r299 = recommend([299, 200, 150, 100]);
  assert.equal(r299.recipe, 'ce');
  assert.match(r299.reason, /ρ = 2\.99 \(max 299, min 100\)/);
  assert.match(recommend([12345, 10]).reason, /ρ = 1,235 \(max 12,345, min 10\)/);
});

test('rule 2: many classes and many images (ImageNet-LT, Places-LT profiles) → ce+crt, with the MoCo SSP hint', () => {
  // ImageNet-LT: 1000 classes, 1280 → 5 images (ρ = 256).
  const inet = recommend(longTailProfile(1000, 1280, 256, 'exp'));
  assert.equal(inet.recipe, 'ce+crt');
  assert.match(inet.reason, /^1,000 classes, [\d,]+ images, ρ = 256 \(max 1,280, min 5\): large scale/);
  assert.match(inet.reason, /S1 Tables 3–4; Kang et al\. 2020, Table 2\); ce\+lws is the close alternative/);
  assert.match(inet.reason, /prefix ssp-moco\+\.$/);
  // Places-LT: 365 classes, 4980 → 5 (ρ = 996), 62.5k images.
  assert.equal(recommend(longTailProfile(365, 4980, 996, 'exp')).recipe, 'ce+crt');
  // Just below either threshold: not rule 2.
  const { largeClasses, largeImages } = RECOMMEND_RULES;
  assert.equal(largeClasses, 100);
  assert.equal(largeImages, 50_000);
  const below = longTailProfile(99, 5000, 10, 'exp'); // 99 classes, > 50k images
  assert.ok(below.reduce((a, b) => a + b, 0) >= largeImages);
  assert.equal(recommend(below).recipe, 'mfw+drw');
});

test('rule 3: step imbalance (S2 Tables 1–3) → mfw+drw with the step β, before the few-shot rule', () => {
  for (const rho of [10, 100, 200]) {
    const r = recommend(longTailProfile(10, 5000, rho, 'step'));
    assert.equal(r.recipe, 'mfw+drw', `CIFAR-10 step ρ=${rho}`);
    assert.match(r.reason, /step-shaped \(one jump of ×\d+ between class sizes\)/);
    assert.match(r.reason, /method\.mfw\.beta=0\.01/);
  }
  // CIFAR-100 step ρ = 100: half the classes have 5 images, yet S2 Table 1 has MFW w/ DRW ahead of
  // τ-norm and LDAM-DRW (48.4 vs 45.2 / 45.4): the step rule comes before the few-shot rule.
  const c100 = longTailProfile(100, 500, 100, 'step');
  assert.equal(c100.filter((n) => n < 20).length, 50);
  assert.equal(recommend(c100).recipe, 'mfw+drw');
  // Own data: a noisy step is a step.
  const noisy = [1000, 980, 950, 1010, 990, 12, 10, 11, 10, 13];
  const r = recommend(noisy);
  assert.equal(r.recipe, 'mfw+drw');
  assert.match(r.reason, /step-shaped \(one jump of ×73\.1 between class sizes\)/);
  // Step-shaped with many classes but large: rule 2 comes first.
  assert.equal(recommend(longTailProfile(200, 1000, 10, 'step')).recipe, 'ce+crt');
  // With 2–3 classes every profile is one jump: not called a step (no β advice).
  const binary = recommend([900, 100]);
  assert.equal(binary.recipe, 'mfw+drw');
  assert.doesNotMatch(binary.reason, /step|beta/);
});

test('rule 4: most classes few-shot (< 20 images) → ce+crt, with the rotation SSP hint on small data', () => {
  const counts = longTailProfile(50, 100, 50, 'exp'); // 100 → 2 images; 29 of 50 classes have < 20
  const r = recommend(counts);
  assert.equal(r.recipe, 'ce+crt');
  assert.match(r.reason, /: 29 of 50 classes \(58 %\) have < 20 images; /);
  assert.match(r.reason, /prefix ssp-rotation\+\.$/);
  // Exactly half few-shot still counts; one class fewer does not.
  assert.equal(recommend([200, 100, 19, 10]).recipe, 'ce+crt');
  assert.equal(recommend([200, 100, 25, 10]).recipe, 'mfw+drw');
});

test('rule 5: long-tailed with ≤ 100 classes (CIFAR-10/100-LT, FMNIST-LT) → mfw+drw', () => {
  const c10 = recommend(longTailProfile(10, 5000, 100, 'exp'));
  assert.equal(c10.recipe, 'mfw+drw');
  assert.match(c10.reason, /^10 classes, 12,406 images, ρ = 100 \(max 5,000, min 50\): long-tailed; MFW w\/ DRW/);
  assert.doesNotMatch(c10.reason, /step-shaped/);
  assert.match(c10.reason, /prefix ssp-rotation\+\.$/);
  // CIFAR-100-LT ρ = 100: 30 % few-shot classes, below rule 3's threshold (S2 Table 1: MFW w/ DRW best).
  const c100 = longTailProfile(100, 500, 100, 'exp');
  assert.equal(c100.filter((n) => n < 20).length, 30);
  assert.equal(recommend(c100).recipe, 'mfw+drw');
  // ρ = 10: no SSP sentence.
  const r10 = recommend(longTailProfile(10, 5000, 10, 'exp'));
  assert.equal(r10.recipe, 'mfw+drw');
  assert.doesNotMatch(r10.reason, /ssp/);
  assert.equal(recommend(longTailProfile(10, 1000, 100, 'exp')).recipe, 'mfw+drw'); // FMNIST-LT
});

test('rule 6: long-tailed with > 100 classes below large scale (Tiny-ImageNet-LT) → ldam+drw', () => {
  const tiny = longTailProfile(200, 500, 100, 'exp');
  assert.ok(tiny.reduce((a, b) => a + b, 0) < 50_000);
  const r = recommend(tiny);
  assert.equal(r.recipe, 'ldam+drw');
  assert.match(r.reason, /long-tailed with > 100 classes; LDAM-DRW leads MFW w\/ DRW/);
  assert.equal(recommend(longTailProfile(101, 400, 10, 'exp')).recipe, 'ldam+drw');
});

test('class order does not matter; the result is deterministic', () => {
  const counts = longTailProfile(20, 600, 30, 'exp');
  const shuffled = [...counts].reverse();
  shuffled.push(shuffled.shift()!);
  assert.deepEqual(recommend(shuffled), recommend(counts));
  assert.deepEqual(recommend(counts), recommend([...counts]));
});

test('bad counts are refused with a RangeError naming the class', () => {
  assert.throws(() => recommend([]), /at least 2 classes, got 0/);
  assert.throws(() => recommend([10]), /at least 2 classes, got 1/);
  assert.throws(
    () => recommend([10, 0, 3]),
    (e: Error) => e instanceof RangeError && /class 1 has 0 images/.test(e.message),
  );
  assert.throws(() => recommend([10, 2.5]), /class 1 has 2\.5 images/);
  assert.throws(() => recommend([10, NaN]), /class 1 has NaN images/);
  assert.throws(() => recommend([-1, 4]), /class 0 has -1 images/);
});

test('every recommended recipe is a valid recipe of the method registry', () => {
  const profiles = [
    [100, 100],
    longTailProfile(1000, 1280, 256, 'exp'),
    longTailProfile(50, 100, 50, 'exp'),
    longTailProfile(10, 5000, 100, 'step'),
    longTailProfile(10, 5000, 100, 'exp'),
    longTailProfile(200, 500, 100, 'exp'),
  ];
  const recipes = new Set(profiles.map((c) => recommend(c).recipe));
  assert.deepEqual([...recipes].sort(), ['ce', 'ce+crt', 'ldam+drw', 'mfw+drw']);
  for (const r of [...recipes, 'ce+lws', 'ssp-rotation+mfw+drw', 'ssp-moco+ce+crt']) {
    assert.doesNotThrow(() => parseRecipe(r), r);
  }
});
