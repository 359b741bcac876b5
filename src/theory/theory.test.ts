// S1 Theorems 1–3 by Monte Carlo: the simulated values respect the bounds where the theorems say they must,
// the simulators are deterministic for a seed, the numerics (Φ, χ² tails, Theorem 2's identity) are right,
// and the bounds are loose / tight where the paper says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseArgs } from '../cli/args';
import { theoryCommand } from '../cli/theory-command';
import { Rng } from '../util/rng';
import { chiSquareCdf, fillNormal, normalCdf, wilson } from './stats';
import { drawEstimate, simulateTheorem1, theorem1FailureBound } from './theorem1';
import {
  fitRawLinear,
  fssError,
  simulateTheorem2,
  simulateTheorem3,
  theorem2BestError,
  theorem2Error,
  theorem3ErrorBound,
} from './theorem23';
import { formatStudy, theoryStudy } from './studies';

test('numerics: Φ, χ² CDF and Wilson interval against known values', () => {
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(1.959963985) - 0.975) < 1e-7);
  assert.ok(Math.abs(normalCdf(-3) - 0.0013498980316301) < 1e-8);
  // χ²_2 is Exp(½): P(χ²_2 ≤ x) = 1 − e^{−x/2}; χ²_1 ≤ 3.841458821 with probability 0.95.
  assert.ok(Math.abs(chiSquareCdf(2, 3).lower - (1 - Math.exp(-1.5))) < 1e-12);
  assert.ok(Math.abs(chiSquareCdf(1, 3.841458821).lower - 0.95) < 1e-8);
  assert.ok(Math.abs(chiSquareCdf(10, 18.30703805).upper - 0.05) < 1e-8);
  // A far tail keeps relative precision: P(χ²_100 > 300) ≈ 1.2e-21 (R: pchisq(300, 100, lower=FALSE)).
  const t = chiSquareCdf(100, 300).upper;
  assert.ok(t > 1e-22 && t < 1e-20, String(t));
  const w = wilson(0, 1000);
  assert.equal(w.lo, 0);
  assert.ok(w.hi > 0.003 && w.hi < 0.004);
});

test('Theorem 1: failure probability within the bound, shrinking with ñ, larger for imbalanced unlabeled data', () => {
  const sizes = [200, 2000, 4000, 20000];
  const bal = simulateTheorem1({ sizes, rhoU: 1, trials: 2000, seed: 1 });
  const imb = simulateTheorem1({ sizes, rhoU: 10, trials: 2000, seed: 1 });
  for (const rows of [bal, imb]) {
    for (const r of rows)
      assert.ok(r.lo <= r.bound, `ñ=${r.x}: simulated ${r.simulated} [${r.lo}, ${r.hi}] > bound ${r.bound}`);
    for (let i = 1; i < sizes.length; i++) {
      assert.ok(rows[i].simulated <= rows[i - 1].simulated, 'more unlabeled data helps');
      assert.ok(rows[i].bound <= rows[i - 1].bound, 'the bound shrinks with ñ');
    }
    assert.ok(rows[3].bound < 0.1 && rows[0].simulated > 0.2);
  }
  // Balanced unlabeled data: smaller failure probability and a smaller bound at every size (S1 §2.1).
  for (let i = 0; i < sizes.length; i++) {
    if (i < 2)
      assert.ok(bal[i].hi < imb[i].lo, `ñ=${sizes[i]}: balanced ${bal[i].simulated} vs ρU=10 ${imb[i].simulated}`);
    assert.ok(bal[i].simulated <= imb[i].simulated && bal[i].bound <= imb[i].bound);
  }
  // Where the bound is informative (< 1) the simulated failure probability is far below it: the bound is loose.
  assert.ok(bal[2].bound < 0.5 && bal[2].hi < bal[2].bound / 5, JSON.stringify(bal[2]));
  // The bound as stated: the three exponentials at ñ+ = ñ− = 2000, δ = 0.1, σ = 1, µ1 − µ2 = 2.
  const want = 2 * Math.exp((-(2 * 0.01) / 9) * 1000) + 4 * Math.exp((-8 * 2000 * 0.01) / 36);
  assert.ok(Math.abs(theorem1FailureBound(2000, 2000, { mu1: 1, mu2: -1, sigma: 1, delta: 0.1 }) - want) < 1e-15);
});

test('Theorem 1: θ̂ concentrates on θ_Δ = (µ1+µ2)/2 + Δ(µ1−µ2)/2, not on the Bayes value (label bias)', () => {
  const m = { mu1: 1, mu2: -1, sigma: 1, p: 0.7, q: 0.9 };
  const rng = new Rng(2);
  let sum = 0;
  const T = 400;
  for (let t = 0; t < T; t++) sum += drawEstimate(rng, 5000, 5000, m);
  // Δ = −0.2, µ1 − µ2 = 2: θ_Δ = −0.2, the Bayes value is 0; sd of the mean ≈ 0.01/√400.
  assert.ok(Math.abs(sum / T - -0.2) < 0.003, String(sum / T));
});

test('simulators are deterministic for a seed and change with it', () => {
  const a = simulateTheorem1({ sizes: [100, 300], trials: 300, seed: 7 });
  assert.deepEqual(simulateTheorem1({ sizes: [100, 300], trials: 300, seed: 7 }), a);
  assert.notDeepEqual(simulateTheorem1({ sizes: [100, 300], trials: 300, seed: 8 }), a);
  const o2 = { nPlus: 10, nMinus: 30, dims: [4, 16], trials: 20, seed: 3 };
  assert.deepEqual(simulateTheorem2(o2), simulateTheorem2(o2));
  assert.notDeepEqual(simulateTheorem2({ ...o2, seed: 4 }), simulateTheorem2(o2));
  const o3 = { nPlus: 5, nMinus: 20, dims: [8, 32], trials: 20, seed: 3 };
  assert.deepEqual(simulateTheorem3(o3), simulateTheorem3(o3));
  assert.notDeepEqual(simulateTheorem3({ ...o3, seed: 4 }), simulateTheorem3(o3));
});

test("Theorem 2: the error formula is the classifier's error (test draws), and every trained raw classifier is ≥ ¼", () => {
  // Identity check on one trained classifier: Monte-Carlo error on 40000 fresh draws vs the formula.
  const rng = new Rng(11);
  const d = 6;
  const m = { pPlus: 0.5, beta: 5, sigma1: 1 };
  const X = fillNormal(rng, new Float64Array(60 * d));
  for (let i = 30 * d; i < X.length; i++) X[i] *= Math.sqrt(m.beta);
  const { theta, b } = fitRawLinear(X, d, 30, 30);
  const formula = theorem2Error(Math.hypot(...theta), b, m);
  let wrong = 0;
  const M = 40000;
  const x = new Float64Array(d);
  for (let k = 0; k < M; k++) {
    const pos = rng.random() < m.pPlus;
    fillNormal(rng, x);
    let s = b;
    for (let j = 0; j < d; j++) s += theta[j] * x[j] * (pos ? 1 : Math.sqrt(m.beta));
    if (s > 0 !== pos) wrong++;
  }
  const w = wilson(wrong, M);
  assert.ok(w.lo <= formula && formula <= w.hi, `formula ${formula} vs simulated ${w.p} [${w.lo}, ${w.hi}]`);
  for (const c of [
    { nPlus: 50, nMinus: 50, beta: 5 },
    { nPlus: 10, nMinus: 90, beta: 5 },
  ]) {
    const rows = simulateTheorem2({ ...c, dims: [2, 32, 128], trials: 60, seed: 5 });
    for (const r of rows) assert.ok(r.lo >= r.bound, `${JSON.stringify(c)} d=${r.x}: ${r.simulated} < ¼`);
    // Constant in d (the raw classifier does not improve with dimension).
    assert.ok(Math.abs(rows[0].simulated - rows[2].simulated) < 0.05, JSON.stringify(rows));
  }
});

test('Theorem 2: ¼ is tight only for balanced classes and β → ∞; imbalance leaves it loose (≥ p−/2)', () => {
  assert.ok(theorem2BestError({ pPlus: 0.5, beta: 1e4 }) - 0.25 < 0.01, 'tight');
  assert.ok(theorem2BestError({ pPlus: 0.5, beta: 5 }) > 0.35, 'loose for small β');
  assert.ok(theorem2BestError({ pPlus: 0.1, beta: 1e4 }) >= 0.45, 'imbalanced: at least p−/2 = 0.45');
  const tight = simulateTheorem2({ nPlus: 200, nMinus: 200, beta: 1e4, dims: [2], trials: 40, seed: 1 });
  assert.ok(tight[0].simulated > 0.25 && tight[0].simulated < 0.3, JSON.stringify(tight));
});

test('Theorem 3: f_ss error within the bound w.h.p., exponentially small in d; probability above its bound', () => {
  // χ² tails give the same error as a direct Monte Carlo of f_ss's threshold rule.
  const m = { pPlus: 0.3, beta: 5, sigma1: 1 };
  const rng = new Rng(4);
  const d = 4;
  const tau = 10;
  let wrong = 0;
  const x = new Float64Array(d);
  for (let k = 0; k < 40000; k++) {
    const pos = rng.random() < m.pPlus;
    fillNormal(rng, x);
    const sq = x.reduce((a, v) => a + v * v, 0) * (pos ? 1 : m.beta);
    if (sq < tau !== pos) wrong++;
  }
  const w = wilson(wrong, 40000);
  const exact = fssError(d, tau, m);
  assert.ok(w.lo <= exact && exact <= w.hi, `exact ${exact} vs ${w.p}`);

  const dims = [16, 64, 256];
  for (const c of [
    { nPlus: 50, nMinus: 50 },
    { nPlus: 5, nMinus: 100 },
  ]) {
    const r = simulateTheorem3({ ...c, beta: 5, delta: 0.1, dims, trials: 100, seed: 9 });
    r.error.forEach((e, i) => {
      assert.ok(e.hi <= e.bound, `d=${e.x}: mean error ${e.simulated} above the bound ${e.bound}`);
      const p = r.probability[i];
      assert.ok(p.hi >= p.bound, `d=${p.x}: P(err ≤ bound) ${p.simulated} below the guaranteed ${p.bound}`);
    });
    assert.ok(r.error[2].simulated < r.error[0].simulated * 1e-3, 'exponential decay in d');
    // Loose: orders of magnitude above the simulated error at d = 256.
    assert.ok(r.error[2].bound > 100 * r.error[2].simulated);
  }
  // The two cases of the bound at δ = (β−3)/(β+1) meet (ε = 1 in both χ² tails).
  const dl = (5 - 3) / 6;
  const at = theorem3ErrorBound(64, dl, { pPlus: 0.5, beta: 5 });
  const below = theorem3ErrorBound(64, dl - 1e-12, { pPlus: 0.5, beta: 5 });
  assert.ok(Math.abs(at - below) < 1e-9);
  assert.throws(() => theorem3ErrorBound(8, 0.7, { pPlus: 0.5, beta: 5 }), /δ ∈/);
  assert.throws(() => simulateTheorem3({ nPlus: 5, nMinus: 5, beta: 2, dims: [4] }), /β > 3/);
});

test('theoryStudy: every theorem yields labelled panels and a printable table (small trials)', () => {
  for (const which of ['t1', 't2', 't3'] as const) {
    const s = theoryStudy(which, { trials: 4, seed: 0 });
    assert.ok(s.panels.length >= 1);
    for (const p of s.panels) for (const ser of p.series) assert.ok(ser.rows.length > 3 && ser.name);
    assert.match(formatStudy(s), /bound/);
  }
});

test('ltkit theory (command module): tables on stdout, theory-<t>.json and .svg in --out', async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-theory-'));
  let stdout = '';
  let stderr = '';
  const io = { stdout: (s: string) => (stdout += s), stderr: (s: string) => (stderr += s) };
  const argv = ['--which', 't2', '--trials', '3', '--seed', '1', '--out', out];
  await theoryCommand.run(parseArgs(theoryCommand.spec, argv), io);
  assert.match(stdout, /Theorem 2/);
  assert.match(stderr, /wrote theory-t2/);
  const rec = JSON.parse(fs.readFileSync(path.join(out, 'theory-t2.json'), 'utf8'));
  assert.equal(rec.theorem, 't2');
  assert.equal(rec.trials, 3);
  assert.ok(fs.readFileSync(path.join(out, 'theory-t2.svg'), 'utf8').startsWith('<svg'));
  await theoryCommand.run(parseArgs(theoryCommand.spec, [...argv, '--json']), { ...io, stdout: (s) => (stdout = s) });
  assert.deepEqual(JSON.parse(stdout)[0], rec, '--json prints what the file holds; same seed, same numbers');
  await assert.rejects(theoryCommand.run(parseArgs(theoryCommand.spec, ['--which', 't4']), io), /t1, t2, t3 or all/);
});
