// Tests for metrics.ts against hand-computed small cases (sklearn conventions for macro-F1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from '../engine/tensor';
import { ClassificationMeter, evaluateLogits } from './metrics';

const close = (a: number | null, b: number, msg?: string) => {
  assert.ok(a !== null, msg ?? `expected ${b}, got null`);
  assert.ok(Math.abs(a - b) < 1e-9, msg ?? `expected ${b}, got ${a}`);
};

// targets [0,0,0,1,1,2], preds [0,0,1,1,0,1]
const T = [0, 0, 0, 1, 1, 2];
const P = [0, 0, 1, 1, 0, 1];

test('confusion, top-1, per-class, balanced accuracy, precision/recall, ratio', () => {
  const m = new ClassificationMeter(3);
  m.updatePredictions(Int32Array.from(P), Int32Array.from(T));
  const s = m.summary();
  assert.deepEqual(s.confusion, [
    [2, 1, 0],
    [1, 1, 0],
    [0, 1, 0],
  ]);
  assert.equal(s.numSamples, 6);
  close(s.top1, 0.5);
  assert.equal(s.top5, null, 'no top-k given');
  assert.deepEqual(s.perClass.support, [3, 2, 1]);
  assert.deepEqual(s.perClass.predicted, [3, 3, 0]);
  close(s.perClass.accuracy[0], 2 / 3);
  close(s.perClass.accuracy[1], 1 / 2);
  close(s.perClass.accuracy[2], 0);
  close(s.balancedAccuracy, (2 / 3 + 1 / 2 + 0) / 3);
  close(s.perClass.precision[0], 2 / 3);
  close(s.perClass.precision[1], 1 / 3);
  assert.equal(s.perClass.precision[2], null);
  close(s.perClass.f1[1] as number, 0.4);
  close(s.perClass.f1[2] as number, 0);
  // sklearn f1_score(T, P, average='macro') = 0.35555…
  close(s.macroF1, (2 / 3 + 0.4 + 0) / 3);
  close(s.perClass.classificationRatio[0], 1);
  close(s.perClass.classificationRatio[1], 1.5);
  close(s.perClass.classificationRatio[2], 0);
  assert.equal(s.shots, null);
  // JSON-able
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test('macro-F1 with an absent class: no NaN, absent class excluded (sklearn labels=None)', () => {
  const m = new ClassificationMeter(4);
  m.updatePredictions(P, T);
  const s = m.summary();
  assert.equal(s.perClass.f1[3], null);
  assert.equal(s.perClass.accuracy[3], null);
  assert.equal(s.perClass.classificationRatio[3], null);
  close(s.macroF1, (2 / 3 + 0.4) / 3);
  close(s.macroF1AllClasses, (2 / 3 + 0.4) / 4);
  close(s.balancedAccuracy, (2 / 3 + 1 / 2) / 3, 'absent class not in balanced accuracy');
  for (const v of [s.top1, s.balancedAccuracy, s.macroF1, s.macroF1AllClasses]) assert.ok(Number.isFinite(v));
  // predicted but never true: f1 = 0 and enters the mean
  const m2 = new ClassificationMeter(3);
  m2.updatePredictions([0, 2], [0, 1]);
  const s2 = m2.summary();
  assert.deepEqual(s2.perClass.f1, [1, 0, 0]);
  close(s2.macroF1, 1 / 3);
});

test('shot groups: > 100 many, 20..100 medium, < 20 few; empty group → null', () => {
  const m = new ClassificationMeter(3, { trainCounts: [500, 50, 5] });
  m.updatePredictions(P, T);
  const s = m.summary();
  assert.ok(s.shots);
  close(s.shots.many.accuracy, 2 / 3);
  close(s.shots.medium.accuracy, 1 / 2);
  close(s.shots.few.accuracy, 0);
  assert.deepEqual(s.perClass.trainCounts, [500, 50, 5]);

  const b = new ClassificationMeter(4, { trainCounts: [101, 100, 20, 19] });
  assert.deepEqual(
    [0, 1, 2, 3].map((c) => b.shotGroup(c)),
    ['many', 'medium', 'medium', 'few'],
  );

  const e = new ClassificationMeter(3, { trainCounts: [500, 400, 5] });
  e.updatePredictions(P, T);
  const se = e.summary();
  assert.ok(se.shots);
  assert.equal(se.shots.medium.accuracy, null);
  assert.deepEqual(se.shots.medium.classes, []);
  close(se.shots.many.accuracy, (2 / 3 + 1 / 2) / 2);
});

test('update(logits, targets): top-1 and top-5 from one topk, accumulated over batches', () => {
  // C = 7. Row 0: target 6 is the max (top-1 hit). Row 1: target 0 ranks 3rd (top-5 hit only).
  // Row 2: target 1 is the minimum (miss).
  const logits = tensor([
    [0, 1, 2, 3, 4, 5, 6],
    [5, 7, 1, 0.5, 6, 0.2, 0.1],
    [3, -9, 1, 2, 4, 5, 6],
  ]);
  const targets = tensor([6, 0, 1], 'int64');
  const m = new ClassificationMeter(7);
  m.update(logits, targets);
  let s = m.summary();
  close(s.top1, 1 / 3);
  close(s.top5, 2 / 3);
  assert.equal(s.confusion[0][1], 1);
  // second batch (int32 targets): both top-1 hits
  m.update(
    tensor([
      [9, 0, 0, 0, 0, 0, 0],
      [0, 9, 0, 0, 0, 0, 0],
    ]),
    tensor([0, 1], 'int32'),
  );
  s = m.summary();
  assert.equal(s.numSamples, 5);
  close(s.top1, 3 / 5);
  close(s.top5, 4 / 5);
  m.reset();
  assert.equal(m.summary().top1, null);
});

test('top-5 with fewer than 5 classes is top-C (always 1)', () => {
  const s = evaluateLogits(
    tensor([
      [1, 2, 3],
      [3, 2, 1],
    ]),
    tensor([0, 0], 'int64'),
  );
  close(s.top1, 0.5);
  close(s.top5, 1);
});

test('input validation', () => {
  const m = new ClassificationMeter(3);
  assert.throws(() => m.updatePredictions([0, 3], [0, 1]), RangeError);
  assert.throws(() => m.update(tensor([[1, 2]]), tensor([0], 'int64')), RangeError);
  assert.throws(() => new ClassificationMeter(3, { trainCounts: [1, 2] }), RangeError);
});

test('sums(): meters over disjoint parts of a set add up to the meter of the whole set (data-parallel evaluation)', () => {
  const n = 300;
  const C = 7;
  const counts = [300, 150, 90, 40, 19, 8, 3];
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const logits = tensor(
    Float32Array.from({ length: n * C }, () => 4 * rand() - 2),
    [n, C],
  );
  const targets = tensor(
    Int32Array.from({ length: n }, () => Math.floor(rand() * C)),
    [n],
    'int64',
  );
  const whole = new ClassificationMeter(C, { trainCounts: counts });
  whole.update(logits, targets);
  // Three ranks' parts (rows r, r + 3, …), each in batches, summed into rank 0's meter as the allreduce does.
  const parts = [0, 1, 2].map((r) => {
    const m = new ClassificationMeter(C, { trainCounts: counts });
    const rows = Array.from({ length: Math.ceil((n - r) / 3) }, (_, k) => r + 3 * k);
    for (let b = 0; b < rows.length; b += 32) {
      const idx = tensor(Int32Array.from(rows.slice(b, b + 32)), 'int64');
      m.update(logits.indexSelect(0, idx), targets.indexSelect(0, idx));
    }
    return m.sums();
  });
  const merged = new ClassificationMeter(C, { trainCounts: counts });
  for (const p of parts) merged.addSums(p);
  const a = merged.summary();
  const b = whole.summary();
  assert.deepEqual(a.confusion, b.confusion);
  assert.equal(a.numSamples, n);
  assert.deepEqual({ ...a, calibration: null }, { ...b, calibration: null });
  close(a.calibration.ece, b.calibration.ece as number, 'ECE');
  for (const g of ['many', 'medium', 'few'] as const) {
    close(a.calibration.byGroup![g], b.calibration.byGroup![g] as number, `ECE ${g}`);
  }
  // A part missing changes the result (the check can fail), and a meter of another shape is refused.
  const two = new ClassificationMeter(C, { trainCounts: counts });
  two.addSums(parts[0]);
  two.addSums(parts[1]);
  assert.notDeepEqual(two.summary().confusion, b.confusion);
  assert.throws(() => new ClassificationMeter(C).addSums(parts[0]), /sums, expected \d+ \(a meter of another shape\)/);
});
