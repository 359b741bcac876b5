// Numerical helpers of the theory simulators: the normal CDF Φ (Theorem 2), the regularised incomplete gamma
// function (the χ²_d CDF, Theorem 3's exact error), Monte-Carlo intervals, and Gaussian draws in pairs.
import type { Rng } from '../util/rng';

/** A point of a simulated curve: the Monte-Carlo estimate with its 95% interval, and the theorem's bound. */
export interface TheoryRow {
  x: number;
  simulated: number;
  lo: number;
  hi: number;
  bound: number;
}

/**
 * erfc(x) by the Chebyshev fit of Numerical Recipes (§6.2, "erfcc"), fractional error < 1.2e-7 everywhere.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Φ, the CDF of N(0, 1). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** ln Γ(a) for a > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
export function lnGamma(a: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (a < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * a))) - lnGamma(1 - a);
  const x = a - 1;
  let s = c[0];
  for (let i = 1; i < 9; i++) s += c[i] / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/**
 * The regularised lower incomplete gamma P(a, x) = γ(a, x)/Γ(a) and its complement Q = 1 − P, each computed
 * directly (series for x < a + 1, Lentz's continued fraction otherwise; Numerical Recipes §6.2) so that tiny
 * tails keep their relative precision.
 */
export function gammaPQ(a: number, x: number): { P: number; Q: number } {
  if (!(a > 0)) throw new RangeError(`gammaPQ: a must be > 0, got ${a}`);
  if (x <= 0) return { P: 0, Q: 1 };
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 100000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    const P = sum * Math.exp(lnPre);
    return { P, Q: 1 - P };
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 100000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  const Q = Math.exp(lnPre) * h;
  return { P: 1 - Q, Q };
}

/** P(χ²_k ≤ x) and P(χ²_k > x). */
export function chiSquareCdf(k: number, x: number): { lower: number; upper: number } {
  const { P, Q } = gammaPQ(k / 2, x / 2);
  return { lower: P, upper: Q };
}

/** Wilson's 95% score interval of a proportion `hits / n`. */
export function wilson(hits: number, n: number): { p: number; lo: number; hi: number } {
  const z = 1.959963984540054;
  const p = hits / n;
  const den = 1 + (z * z) / n;
  const mid = (p + (z * z) / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  return { p, lo: hits === 0 ? 0 : Math.max(0, mid - half), hi: hits === n ? 1 : Math.min(1, mid + half) };
}

/** The mean of `v` with its normal-approximation 95% interval (mean ± 1.96·s/√n). */
export function meanInterval(v: ArrayLike<number>): { mean: number; lo: number; hi: number } {
  const n = v.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += v[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (v[i] - mean) ** 2;
  const half = n > 1 ? 1.959963984540054 * Math.sqrt(ss / (n - 1) / n) : 0;
  return { mean, lo: mean - half, hi: mean + half };
}

/** Fills `out` with N(0, 1) draws, both outputs of each Box–Muller pair used (half the draws of Rng.normal). */
export function fillNormal(rng: Rng, out: Float64Array): Float64Array {
  const n = out.length;
  for (let i = 0; i < n; i += 2) {
    let u = 0;
    while (u === 0) u = rng.random();
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * rng.random();
    out[i] = r * Math.cos(a);
    if (i + 1 < n) out[i + 1] = r * Math.sin(a);
  }
  return out;
}

/** The number of successes in n Bernoulli(p) trials, drawn one trial at a time (exact). */
export function binomial(rng: Rng, n: number, p: number): number {
  const cut = p * 4294967296;
  let k = 0;
  for (let i = 0; i < n; i++) if (rng.nextU32() < cut) k++;
  return k;
}
