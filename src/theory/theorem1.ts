// S1 §2.1, Theorem 1 (Yang & Xu, NeurIPS 2020): pseudo-labels from a biased base classifier let unlabeled
// data estimate the Bayes decision value of a two-Gaussian model.
//
// Model (§2.1): Y = ±1 with probability ½; X | Y=+1 ~ N(µ1, σ²), X | Y=−1 ~ N(µ2, σ²), µ1 > µ2; the Bayes
// classifier is sign(x − (µ1+µ2)/2). A base classifier f_B pseudo-labels ñ unlabeled points: ñ+ get +1,
// ñ− get −1. A point pseudo-labelled +1 is truly positive with indicator I+_i ~ Bernoulli(p) (then X̃ ~ N(µ1,σ²),
// else N(µ2,σ²)); one pseudo-labelled −1 is truly negative with I−_i ~ Bernoulli(q); Δ = p − q.
// Estimate: θ̂ = ½(Σ X̃+_i / ñ+ + Σ X̃−_i / ñ−).
//
// Theorem 1: for any δ > 0, with probability at least
//   1 − 2exp(−(2δ²/(9σ²))·ñ+ñ−/(ñ− + ñ+)) − 2exp(−8ñ+δ²/(9(µ1−µ2)²)) − 2exp(−8ñ−δ²/(9(µ1−µ2)²)),
//   |θ̂ − (µ1+µ2)/2 − Δ(µ1−µ2)/2| ≤ δ.
// (The three terms: the Gaussian noise of θ̂ within δ/3, and each pseudo-label set's Hoeffding deviation of its
// correct fraction within 2δ/(3(µ1−µ2)); every constant is stated — nothing is left unspecified.)
//
// The simulator draws the model exactly: each pseudo-label's correctness one Bernoulli at a time (binomial),
// and the sum of a set's Gaussian noises as one N(0, n·σ²) draw (the exact distribution of the sum), for
// fixed ñ+, ñ− as the theorem conditions on them. It reports the failure probability P(|θ̂ − θ_Δ| > δ), with
// θ_Δ = (µ1+µ2)/2 + Δ(µ1−µ2)/2, against the theorem's bound on it (capped at 1).
import { Rng } from '../util/rng';
import { binomial, TheoryRow, wilson } from './stats';

export interface Theorem1Options {
  /** Class means, µ1 > µ2 (default 1, −1). */
  mu1?: number;
  mu2?: number;
  /** Common standard deviation σ (default 1). */
  sigma?: number;
  /** Accuracy of the base classifier on the pseudo-positive set (default 0.7: the minority class). */
  p?: number;
  /** … on the pseudo-negative set (default 0.9: the majority class). */
  q?: number;
  /** The tolerance δ of a "good" estimate (default 0.1). */
  delta?: number;
  /** Unlabeled sizes ñ = ñ+ + ñ− (the x values). */
  sizes: number[];
  /** Unlabeled imbalance ρU = ñ−/ñ+ (ñ+ = round(ñ/(1+ρU)), at least 1); default 1. */
  rhoU?: number;
  /** Monte-Carlo trials per x (default 2000). */
  trials?: number;
  seed?: number;
}

type T1Model = Required<Pick<Theorem1Options, 'mu1' | 'mu2' | 'sigma' | 'delta'>>;

/** The bound of Theorem 1 on P(|θ̂ − θ_Δ| > δ) for pseudo-label set sizes ñ+ and ñ− (capped at 1). */
export function theorem1FailureBound(nPlus: number, nMinus: number, m: T1Model): number {
  const gap2 = (m.mu1 - m.mu2) ** 2;
  const d2 = m.delta * m.delta;
  const gauss = 2 * Math.exp(((-2 * d2) / (9 * m.sigma * m.sigma)) * ((nPlus * nMinus) / (nMinus + nPlus)));
  const hoeffPlus = 2 * Math.exp((-8 * nPlus * d2) / (9 * gap2));
  const hoeffMinus = 2 * Math.exp((-8 * nMinus * d2) / (9 * gap2));
  return Math.min(1, gauss + hoeffPlus + hoeffMinus);
}

/** ñ+ and ñ− for an unlabeled size ñ and imbalance ρU = ñ−/ñ+. */
export function splitUnlabeled(n: number, rhoU: number): { nPlus: number; nMinus: number } {
  const nPlus = Math.min(n - 1, Math.max(1, Math.round(n / (1 + rhoU))));
  return { nPlus, nMinus: n - nPlus };
}

/** One draw of θ̂ from the model of §2.1 with ñ+ pseudo-positives and ñ− pseudo-negatives. */
export function drawEstimate(
  rng: Rng,
  nPlus: number,
  nMinus: number,
  m: { mu1: number; mu2: number; sigma: number; p: number; q: number },
): number {
  const kPlus = binomial(rng, nPlus, m.p); // pseudo-positives that are truly positive (I+ = 1)
  const kMinus = binomial(rng, nMinus, m.q); // pseudo-negatives that are truly negative (I− = 1)
  const sumPlus = kPlus * m.mu1 + (nPlus - kPlus) * m.mu2 + m.sigma * Math.sqrt(nPlus) * rng.normal();
  const sumMinus = kMinus * m.mu2 + (nMinus - kMinus) * m.mu1 + m.sigma * Math.sqrt(nMinus) * rng.normal();
  return 0.5 * (sumPlus / nPlus + sumMinus / nMinus);
}

/** Theorem 1 by Monte Carlo: the failure probability P(|θ̂ − θ_Δ| > δ) per unlabeled size, against its bound. */
export function simulateTheorem1(o: Theorem1Options): TheoryRow[] {
  const m = {
    mu1: o.mu1 ?? 1,
    mu2: o.mu2 ?? -1,
    sigma: o.sigma ?? 1,
    p: o.p ?? 0.7,
    q: o.q ?? 0.9,
    delta: o.delta ?? 0.1,
  };
  if (!(m.mu1 > m.mu2)) throw new RangeError(`Theorem 1 needs µ1 > µ2, got ${m.mu1}, ${m.mu2}`);
  if (!(m.delta > 0 && m.sigma > 0)) throw new RangeError('Theorem 1 needs δ > 0 and σ > 0');
  const rhoU = o.rhoU ?? 1;
  const trials = o.trials ?? 2000;
  // The value θ̂ concentrates around (not the Bayes value (µ1+µ2)/2: the bias Δ(µ1−µ2)/2 is the label bias).
  const target = (m.mu1 + m.mu2) / 2 + ((m.p - m.q) * (m.mu1 - m.mu2)) / 2;
  return o.sizes.map((n, i) => {
    if (!(Number.isInteger(n) && n >= 2)) throw new RangeError(`unlabeled size must be an integer ≥ 2, got ${n}`);
    const { nPlus, nMinus } = splitUnlabeled(n, rhoU);
    const rng = new Rng(o.seed ?? 0, 1, i);
    let fails = 0;
    for (let t = 0; t < trials; t++) if (Math.abs(drawEstimate(rng, nPlus, nMinus, m) - target) > m.delta) fails++;
    const w = wilson(fails, trials);
    return { x: n, simulated: w.p, lo: w.lo, hi: w.hi, bound: theorem1FailureBound(nPlus, nMinus, m) };
  });
}
