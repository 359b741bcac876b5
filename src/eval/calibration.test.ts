// Calibration (ECE, reliability bins, per shot group) against PyTorch (fixtures/eval/gen_calibration.py,
// Guo et al. 2017 §2 with M = 15 bins (lo, hi], the first bin including 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadSafetensors, dispose, tensor } from '../engine';
import { slice } from '../engine/ops.generated';
import { ClassificationMeter, CalibrationBin, calibrationBin, expectedCalibrationError } from './metrics';
import { compareRuns } from './table';

const DIR = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'eval');
const meta = JSON.parse(fs.readFileSync(path.join(DIR, 'calibration.json'), 'utf8'));

const TOL = 1e-12;
function near(a: number | null, b: number | null, what: string): void {
  if (b === null) return assert.equal(a, null, what);
  assert.ok(a !== null && Math.abs(a - b) <= TOL, `${what}: expected ${b}, got ${a}`);
}
function sameBins(got: CalibrationBin[], want: CalibrationBin[], what: string): void {
  assert.equal(got.length, want.length, `${what}: bin count`);
  want.forEach((w, b) => {
    assert.equal(got[b].lo, w.lo, `${what} bin ${b} lo`);
    assert.equal(got[b].hi, w.hi, `${what} bin ${b} hi`);
    assert.equal(got[b].count, w.count, `${what} bin ${b} count`);
    near(got[b].confidence, w.confidence, `${what} bin ${b} confidence`);
    near(got[b].accuracy, w.accuracy, `${what} bin ${b} accuracy`);
  });
}

test('meter: ECE, reliability bins and per-group ECE from logits match PyTorch (3 batches, saturated rows)', () => {
  const fx = loadSafetensors(path.join(DIR, 'calibration.safetensors'));
  const m = meta.meter;
  const meter = new ClassificationMeter(m.numClasses, { trainCounts: m.trainCounts });
  const b: number[] = m.batches;
  for (let i = 0; i + 1 < b.length; i++) {
    const z = slice(fx['meter.logits'], { dim: 0, start: b[i], end: b[i + 1] });
    const t = slice(fx['meter.targets'], { dim: 0, start: b[i], end: b[i + 1] });
    meter.update(z, t);
    dispose([z, t]);
  }
  const s = meter.summary();
  near(s.top1, m.top1, 'top1');
  near(s.calibration.ece, m.ece, 'ece');
  sameBins(s.calibration.bins, m.bins, 'bins');
  assert.equal(
    s.calibration.bins.reduce((a, x) => a + x.count, 0),
    s.numSamples,
  );
  assert.equal(s.calibration.bins[14].count > 0 && s.calibration.bins[0].count, 0, 'bin 0 empty (p ≥ 1/6)');
  assert.ok(s.calibration.byGroup);
  for (const g of ['many', 'medium', 'few'] as const) near(s.calibration.byGroup[g], m.byGroup[g], `ECE ${g}`);
  // The JSON form is what runs store.
  assert.deepEqual(JSON.parse(JSON.stringify(s.calibration)), s.calibration);
  // reset clears the calibration sums too.
  meter.reset();
  const e = meter.summary().calibration;
  assert.equal(e.ece, null);
  assert.equal(e.bins.length, 15);
  assert.ok(e.bins.every((x) => x.count === 0 && x.confidence === null && x.accuracy === null));
  assert.deepEqual(e.byGroup, { many: null, medium: null, few: null });
  dispose(fx);
});

test('meter: a shot group without test samples has ECE null; no training counts → byGroup null', () => {
  const fx = loadSafetensors(path.join(DIR, 'calibration.safetensors'));
  const m = meta.empty;
  const meter = new ClassificationMeter(m.numClasses, { trainCounts: m.trainCounts });
  meter.update(fx['empty.logits'], fx['empty.targets']);
  const s = meter.summary().calibration;
  near(s.ece, m.ece, 'ece');
  sameBins(s.bins, m.bins, 'bins');
  assert.ok(s.byGroup);
  near(s.byGroup.many, m.byGroup.many, 'many');
  near(s.byGroup.medium, m.byGroup.medium, 'medium');
  assert.equal(s.byGroup.few, null);
  const plain = new ClassificationMeter(m.numClasses);
  plain.update(fx['empty.logits'], fx['empty.targets']);
  near(plain.summary().calibration.ece, m.ece, 'ece without counts');
  assert.equal(plain.summary().calibration.byGroup, null);
  dispose(fx);
});

test('bin convention: (lo, hi], first bin includes 0, 1 in the last bin; edges b/15 exact; matches PyTorch', () => {
  const e = meta.edges;
  e.confidence.forEach((p: number, i: number) => assert.equal(calibrationBin(p), e.binOf[i], `bin of ${p}`));
  assert.equal(calibrationBin(0), 0);
  assert.equal(calibrationBin(1 / 15), 0);
  assert.equal(calibrationBin(1 / 15 + 1e-12), 1);
  assert.equal(calibrationBin(0.2), 2, '0.2 = 3/15 is the top edge of bin 2');
  assert.equal(calibrationBin(1), 14);
  assert.equal(calibrationBin(0.5, 2), 0);
  assert.equal(calibrationBin(0.5000001, 2), 1);
  // Every edge b/M for several M lands in bin b-1, whatever the rounding of p·M.
  for (const M of [3, 7, 10, 15, 20, 33]) {
    for (let k = 1; k <= M; k++) assert.equal(calibrationBin(k / M, M), k - 1, `${k}/${M}`);
  }
  const r = expectedCalibrationError(e.confidence, e.correct);
  near(r.ece, e.ece, 'ece');
  sameBins(r.bins, e.bins, 'edge bins');
  assert.ok(
    r.bins.some((x) => x.count === 0),
    'has empty bins',
  );
  const r10 = expectedCalibrationError(e.confidence, e.correct, 10);
  near(r10.ece, meta.edges10.ece, 'ece M=10');
  sameBins(r10.bins, meta.edges10.bins, 'M=10 bins');
});

test('calibration by hand, and the errors', () => {
  // Two samples at 0.9 (one right) and one at 0.3 (right): bins 13 and 4.
  const r = expectedCalibrationError([0.9, 0.9, 0.3], [1, 0, 1]);
  near(r.ece, (2 / 3) * Math.abs(0.5 - 0.9) + (1 / 3) * Math.abs(1 - 0.3), 'ece');
  assert.equal(expectedCalibrationError([], []).ece, null);
  // Perfect calibration has ECE 0; predictions fed with confidences go through updatePredictions too.
  const m = new ClassificationMeter(2);
  m.updatePredictions([0, 0, 1, 1], [0, 1, 1, 1], { confidence: [0.5, 0.5, 1, 1] });
  near(m.summary().calibration.ece, 0, 'perfect');
  // A batch without confidences makes the calibration unavailable (as top-5 without top-k).
  m.updatePredictions([0], [0]);
  assert.deepEqual(m.summary().calibration, { ece: null, bins: [], byGroup: null });
  assert.throws(() => expectedCalibrationError([0.5], [1, 0]), /1 confidences but 2/);
  assert.throws(() => expectedCalibrationError([1.5], [1]), /not in \[0, 1\]/);
  assert.throws(() => expectedCalibrationError([NaN], [1]), /not in \[0, 1\]/);
  assert.throws(() => m.updatePredictions([0], [0], { confidence: [0.5, 0.5] }), /2 confidences for 1 targets/);
  assert.throws(() => m.updatePredictions([0], [0], { confidence: [-0.1] }), /not in \[0, 1\]/);
  assert.throws(() => new ClassificationMeter(2, { calibrationBins: 0 }), /calibrationBins/);
});

test('comparison table: an ECE row, "—" for a stored summary without calibration', () => {
  const m = new ClassificationMeter(2);
  m.updatePredictions([0, 0, 1], [0, 1, 1], { confidence: [0.9, 0.9, 0.6] });
  const s = m.summary();
  const old = JSON.parse(JSON.stringify(s));
  delete old.calibration;
  const { text, markdown } = compareRuns({ new: s, old });
  const row = text.split('\n').find((l) => l.startsWith('ECE'));
  assert.ok(row, text);
  const ece = (2 / 3) * Math.abs(0.5 - 0.9) + (1 / 3) * Math.abs(1 - 0.6);
  assert.match(row, new RegExp(`${(ece * 100).toFixed(2)}\\s+—$`));
  assert.match(markdown, /\| ECE \|/);
  // No run has calibration: no row.
  assert.ok(!compareRuns({ old }).text.includes('ECE'));
});

test('NaN logits (a diverged model) leave the calibration error null instead of failing the evaluation', () => {
  const m = new ClassificationMeter(3, { trainCounts: [200, 50, 5] });
  const z = tensor(Float32Array.from([NaN, 0, 1, 2, 0, 0]), [2, 3]);
  const y = tensor(Int32Array.from([0, 0]), [2], 'int64');
  try {
    m.update(z, y);
    const s = m.summary();
    assert.equal(s.numSamples, 2);
    assert.deepEqual(s.calibration, { ece: null, bins: [], byGroup: null });
  } finally {
    dispose([z, y]);
  }
});
