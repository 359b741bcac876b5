// S1 §4.1, Theorems 2 and 3 (Yang & Xu, NeurIPS 2020): a linear classifier on raw inputs vs on a
// self-supervised feature, in a d-dimensional Gaussian model.
//
// Model (§4.1): Y = +1 with probability p+, −1 with p− = 1 − p+ ≥ ½ (the negative class is the majority);
// X | Y=+1 ~ N(0, σ1² I_d), X | Y=−1 ~ N(0, βσ1² I_d), β > 3. Training data: N+ positives, N− negatives.
// Linear classifiers f(x) = sign(⟨θ, feature⟩ + b) with b ≥ 0; err_f = P(f(X) ≠ Y).
//
// Theorem 2 (raw features): for any θ and b > 0,
//   err_f = p+ Φ(−b/(‖θ‖₂σ1)) + p− Φ(b/(‖θ‖₂√β σ1)) ≥ ¼,
// since the second Φ is ≥ ½ and p− ≥ ½. (The bound is p−/2 ≥ ¼ in fact; it approaches ¼ when p− = ½ and
// β → ∞, the tight case; an imbalanced p− leaves it loose.)
//
// Theorem 3 (self-supervised feature Z = k1‖X‖² + k2, k1, k2 > 0): the classifier
//   f_ss(X) = sign(−Z + b),  b = ½(Σ_{Y=+1} Z_i/N+ + Σ_{Y=−1} Z_i/N−)
// satisfies, for any δ ∈ (0, (β−1)/(β+1)), with probability at least 1 − 2e^{−N− dδ²/8} − 2e^{−N+ dδ²/8},
//   err ≤ p+ e^{−d(β−1−(1+β)δ)²/32}  + p− e^{−d(β−1−(1+β)δ)²/(32β²)}   if δ ∈ [(β−3)/(β+1), (β−1)/(β+1)),
//   err ≤ p+ e^{−d(β−1−(1+β)δ)/16}   + p− e^{−d(β−1−(1+β)δ)²/(32β²)}   if δ ∈ (0, (β−3)/(β+1)).
// The main text prints the statement (the appendix's proof is not in our copy); the two cases are the χ²
// concentration inequality P(|χ²_n/n − 1| ≥ ε) ≤ 2e^{−nε²/8} (ε ≤ 1) and its sub-exponential tail e^{−nε/8}
// (ε ≥ 1) at ε = (β−1−(1+β)δ)/2 for the positives and ε = (β−1−(1+β)δ)/(2β) for the negatives, so every
// constant is stated. f_ss does not depend on k1 > 0 and k2 (a threshold on ‖X‖²), nor on σ1 (scale).
//
// Both simulators draw the training set from the exact model (every coordinate of every X_i), fit the
// classifier, and compute its error exactly given the fitted parameters: Theorem 2's formula (an identity,
// checked against test draws in theory.test.ts), and for f_ss the χ²_d tails P(σ1²χ²_d > τ), P(βσ1²χ²_d < τ)
// through the regularised incomplete gamma function — Monte-Carlo test draws could not resolve errors of
// e^{−0.2d}. The test-time class prior is the training one, p+ = N+/(N+ + N−).
import { Rng } from '../util/rng';
import { chiSquareCdf, fillNormal, meanInterval, normalCdf, TheoryRow, wilson } from './stats';

export interface GaussianModel {
  /** Training positives (minority) and negatives (majority): N+ ≤ N−. */
  nPlus: number;
  nMinus: number;
  /** Variance ratio of the negative class, β > 3 (default 5). */
  beta?: number;
  /** Standard deviation σ1 of the positive class (default 1). */
  sigma1?: number;
}

function checkModel(m: GaussianModel): { beta: number; sigma1: number; pPlus: number } {
  const beta = m.beta ?? 5;
  const sigma1 = m.sigma1 ?? 1;
  if (!(beta > 3)) throw new RangeError(`Theorems 2–3 need β > 3, got ${beta}`);
  if (!(Number.isInteger(m.nPlus) && Number.isInteger(m.nMinus) && m.nPlus >= 1 && m.nMinus >= m.nPlus)) {
    throw new RangeError(`Theorems 2–3 need integers 1 ≤ N+ ≤ N− (the negative class is the majority)`);
  }
  return { beta, sigma1, pPlus: m.nPlus / (m.nPlus + m.nMinus) };
}

/** Theorem 2's exact error of sign(⟨θ, X⟩ + b), b ≥ 0, given ‖θ‖₂. */
export function theorem2Error(
  thetaNorm: number,
  b: number,
  m: { pPlus: number; beta: number; sigma1: number },
): number {
  if (thetaNorm === 0) return b > 0 ? 1 - m.pPlus : 0.5; // a constant prediction (+1, or sign(0) taken as a coin)
  const pMinus = 1 - m.pPlus;
  return (
    m.pPlus * normalCdf(-b / (thetaNorm * m.sigma1)) +
    pMinus * normalCdf(b / (thetaNorm * Math.sqrt(m.beta) * m.sigma1))
  );
}

/** Theorem 2's lower bound on the error of every linear classifier on raw X with b > 0. */
export const THEOREM2_BOUND = 0.25;

/** The training set of the model: rows of X (row-major, [N+ + N−, d]) and labels (+1 first, then −1). */
function drawTraining(rng: Rng, d: number, nPlus: number, nMinus: number, beta: number, sigma1: number): Float64Array {
  const X = fillNormal(rng, new Float64Array((nPlus + nMinus) * d));
  const sNeg = Math.sqrt(beta) * sigma1;
  for (let i = 0; i < nPlus * d; i++) X[i] *= sigma1;
  for (let i = nPlus * d; i < X.length; i++) X[i] *= sNeg;
  return X;
}

/**
 * The raw linear classifier the Theorem 2 simulation trains: θ = mean(X | +1) − mean(X | −1) (nearest class
 * mean direction), and the intercept b ≥ 0 minimising the training error given θ (exhaustive 1-D search).
 */
export function fitRawLinear(
  X: Float64Array,
  d: number,
  nPlus: number,
  nMinus: number,
): { theta: Float64Array; b: number } {
  const theta = new Float64Array(d);
  for (let i = 0; i < nPlus; i++) for (let j = 0; j < d; j++) theta[j] += X[i * d + j] / nPlus;
  for (let i = nPlus; i < nPlus + nMinus; i++) for (let j = 0; j < d; j++) theta[j] -= X[i * d + j] / nMinus;
  // Scores s = ⟨θ, x⟩; f = +1 iff s > −b. Sweep the threshold τ = −b ≤ 0 over the sorted scores.
  const n = nPlus + nMinus;
  const s: { v: number; pos: boolean }[] = [];
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let j = 0; j < d; j++) v += theta[j] * X[i * d + j];
    s.push({ v, pos: i < nPlus });
  }
  s.sort((a, c) => a.v - c.v);
  // τ below every score: all +1, errors = N−. Raising τ past a score flips that point to −1.
  let errors = nMinus;
  let best = errors;
  let bestTau = s.length ? s[0].v - 1 : 0;
  for (let k = 0; k < n && s[k].v < 0; k++) {
    errors += s[k].pos ? 1 : -1;
    const next = k + 1 < n ? Math.min(0, (s[k].v + s[k + 1].v) / 2) : 0;
    if (errors < best) {
      best = errors;
      bestTau = next;
    }
  }
  return { theta, b: Math.max(0, -bestTau) };
}

export interface Theorem2Options extends GaussianModel {
  /** Dimensions d (the x values). */
  dims: number[];
  /** Trials per x (default 200). */
  trials?: number;
  seed?: number;
}

/** Theorem 2 by Monte Carlo: the error of a trained raw linear classifier per dimension, against ¼. */
export function simulateTheorem2(o: Theorem2Options): TheoryRow[] {
  const m = checkModel(o);
  const trials = o.trials ?? 200;
  return o.dims.map((d, i) => {
    if (!(Number.isInteger(d) && d >= 1)) throw new RangeError(`dimension must be a positive integer, got ${d}`);
    const rng = new Rng(o.seed ?? 0, 2, i);
    const errs = new Float64Array(trials);
    for (let t = 0; t < trials; t++) {
      const X = drawTraining(rng, d, o.nPlus, o.nMinus, m.beta, m.sigma1);
      const { theta, b } = fitRawLinear(X, d, o.nPlus, o.nMinus);
      errs[t] = theorem2Error(Math.hypot(...theta), b, m);
    }
    const s = meanInterval(errs);
    return { x: d, simulated: s.mean, lo: s.lo, hi: s.hi, bound: THEOREM2_BOUND };
  });
}

/** The smallest error any linear classifier with b ≥ 0 reaches on raw X (Theorem 2's formula minimised over b/‖θ‖). */
export function theorem2BestError(m: { pPlus: number; beta: number; sigma1?: number }): number {
  const mm = { ...m, sigma1: m.sigma1 ?? 1 };
  let best = 0.5;
  for (let t = 0; t <= 4000; t++) best = Math.min(best, theorem2Error(1, (t / 100) * mm.sigma1, mm));
  return best;
}

/** Theorem 3's error bound for δ ∈ (0, (β−1)/(β+1)). */
export function theorem3ErrorBound(d: number, delta: number, m: { pPlus: number; beta: number }): number {
  const { beta, pPlus } = m;
  if (!(delta > 0 && delta < (beta - 1) / (beta + 1))) {
    throw new RangeError(
      `Theorem 3 needs δ ∈ (0, (β−1)/(β+1)) = (0, ${((beta - 1) / (beta + 1)).toFixed(4)}), got ${delta}`,
    );
  }
  const g = beta - 1 - (1 + beta) * delta; // > 0
  const neg = (1 - pPlus) * Math.exp((-d * g * g) / (32 * beta * beta));
  const pos = delta >= (beta - 3) / (beta + 1) ? pPlus * Math.exp((-d * g * g) / 32) : pPlus * Math.exp((-d * g) / 16);
  return pos + neg;
}

/** Theorem 3's lower bound on the probability that the error bound holds (clipped at 0). */
export function theorem3Probability(d: number, delta: number, nPlus: number, nMinus: number): number {
  return Math.max(
    0,
    1 - 2 * Math.exp((-nMinus * d * delta * delta) / 8) - 2 * Math.exp((-nPlus * d * delta * delta) / 8),
  );
}

/** The exact error of f_ss with threshold τ on ‖X‖² (predict +1 iff ‖X‖² < τ). */
export function fssError(d: number, tau: number, m: { pPlus: number; beta: number; sigma1: number }): number {
  const s2 = m.sigma1 * m.sigma1;
  const posWrong = chiSquareCdf(d, tau / s2).upper; // P(σ1²χ²_d ≥ τ)
  const negWrong = chiSquareCdf(d, tau / (m.beta * s2)).lower; // P(βσ1²χ²_d < τ)
  return m.pPlus * posWrong + (1 - m.pPlus) * negWrong;
}

export interface Theorem3Options extends GaussianModel {
  dims: number[];
  /** δ of the bound (default 0.1; must lie in (0, (β−1)/(β+1))). */
  delta?: number;
  /** The self-supervised feature's constants Z = k1‖X‖² + k2 (default 1, 0; f_ss does not depend on them). */
  k1?: number;
  k2?: number;
  trials?: number;
  seed?: number;
}

export interface Theorem3Rows {
  /** Mean error of f_ss (95% interval of the mean) against the error bound. */
  error: TheoryRow[];
  /** P(err ≤ bound) over the trials (Wilson interval) against the theorem's lower bound on it. */
  probability: TheoryRow[];
}

/** Theorem 3 by Monte Carlo: f_ss trained on the model's data, per dimension. */
export function simulateTheorem3(o: Theorem3Options): Theorem3Rows {
  const m = checkModel(o);
  const delta = o.delta ?? 0.1;
  const k1 = o.k1 ?? 1;
  const k2 = o.k2 ?? 0;
  if (!(k1 > 0)) throw new RangeError(`Theorem 3 needs k1 > 0, got ${k1}`);
  const trials = o.trials ?? 200;
  const error: TheoryRow[] = [];
  const probability: TheoryRow[] = [];
  o.dims.forEach((d, i) => {
    if (!(Number.isInteger(d) && d >= 1)) throw new RangeError(`dimension must be a positive integer, got ${d}`);
    const bound = theorem3ErrorBound(d, delta, m);
    const rng = new Rng(o.seed ?? 0, 3, i);
    const errs = new Float64Array(trials);
    let within = 0;
    for (let t = 0; t < trials; t++) {
      const X = drawTraining(rng, d, o.nPlus, o.nMinus, m.beta, m.sigma1);
      let zPlus = 0;
      let zMinus = 0;
      for (let r = 0; r < o.nPlus + o.nMinus; r++) {
        let sq = 0;
        for (let j = 0; j < d; j++) sq += X[r * d + j] ** 2;
        const z = k1 * sq + k2; // the self-supervised feature Z = ψ(X)
        if (r < o.nPlus) zPlus += z;
        else zMinus += z;
      }
      const b = 0.5 * (zPlus / o.nPlus + zMinus / o.nMinus);
      errs[t] = fssError(d, (b - k2) / k1, m); // −Z + b > 0 ⇔ ‖X‖² < (b − k2)/k1
      if (errs[t] <= bound) within++;
    }
    const s = meanInterval(errs);
    error.push({ x: d, simulated: s.mean, lo: Math.max(0, s.lo), hi: s.hi, bound });
    const w = wilson(within, trials);
    probability.push({
      x: d,
      simulated: w.p,
      lo: w.lo,
      hi: w.hi,
      bound: theorem3Probability(d, delta, o.nPlus, o.nMinus),
    });
  });
  return { error, probability };
}
