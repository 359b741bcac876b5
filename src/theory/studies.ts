// The curves `ltkit theory` draws for S1's Theorems 1–3: each simulator run over a sweep, a few settings per
// theorem (unlabeled / training imbalance, the tight case of Theorem 2), as panels of labelled series.
import { simulateTheorem1, splitUnlabeled } from './theorem1';
import { simulateTheorem2, simulateTheorem3, theorem2BestError } from './theorem23';
import type { TheoryRow } from './stats';

export type TheoremId = 't1' | 't2' | 't3';
export const THEOREMS: readonly TheoremId[] = ['t1', 't2', 't3'];

export interface TheorySeries {
  /** A label for the setting, e.g. "ρU = 10". */
  name: string;
  rows: TheoryRow[];
}

export interface TheoryPanel {
  /** File-name suffix ('' for the theorem's main panel). */
  id: string;
  title: string;
  xTitle: string;
  yTitle: string;
  logX: boolean;
  /** Whether the theorem bounds the simulated value from above or from below. */
  boundKind: 'upper' | 'lower';
  series: TheorySeries[];
}

export interface TheoryStudy {
  theorem: TheoremId;
  /** The model's settings, for the record. */
  settings: Record<string, unknown>;
  /** What the reader should know about the bound (constants, tightness). */
  note: string;
  trials: number;
  seed: number;
  panels: TheoryPanel[];
}

export interface StudyOptions {
  /** Monte-Carlo trials per point (defaults: 2000 for Theorem 1, 200 for Theorems 2–3). */
  trials?: number;
  seed?: number;
}

const T1_SIZES = [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
const DIMS = [2, 4, 8, 16, 32, 64, 128, 256, 512];

export function theoryStudy(which: TheoremId, o: StudyOptions = {}): TheoryStudy {
  const seed = o.seed ?? 0;
  if (which === 't1') {
    const trials = o.trials ?? 2000;
    const model = { mu1: 1, mu2: -1, sigma: 1, p: 0.7, q: 0.9, delta: 0.1 };
    const series = [1, 10, 100].map((rhoU) => ({
      name: `ρU = ${rhoU}`,
      rows: simulateTheorem1({ ...model, sizes: T1_SIZES, rhoU, trials, seed }),
    }));
    const { nPlus, nMinus } = splitUnlabeled(10000, 100);
    return {
      theorem: which,
      settings: { ...model, delta: model.delta, rhoU: [1, 10, 100], sizes: T1_SIZES },
      note:
        'Failure probability P(|θ̂ − (µ1+µ2)/2 − Δ(µ1−µ2)/2| > δ) against Theorem 1 (S1 §2.1), all constants as ' +
        `stated. The bound is loose (Chernoff/Hoeffding with δ split in thirds) but shows the paper's two effects: ` +
        `more unlabeled data always helps, balanced unlabeled data helps most (at ñ = 10000, ρU = 100 leaves only ` +
        `ñ+ = ${nPlus} of ${nPlus + nMinus} in the minority set, whose terms dominate).`,
      trials,
      seed,
      panels: [
        {
          id: '',
          title: `Theorem 1: pseudo-label estimate, P(|θ̂ − θ_Δ| > δ), δ = ${model.delta}, Δ = ${(model.p - model.q).toFixed(1)}`,
          xTitle: 'unlabeled size ñ',
          yTitle: 'P(|θ̂ − θ_Δ| > δ)',
          logX: true,
          boundKind: 'upper',
          series,
        },
      ],
    };
  }
  if (which === 't2') {
    const trials = o.trials ?? 200;
    const cases = [
      { nPlus: 100, nMinus: 100, beta: 5 },
      { nPlus: 20, nMinus: 180, beta: 5 },
      { nPlus: 100, nMinus: 100, beta: 100 },
    ];
    const series = cases.map((c) => ({
      name: `N+/N− = ${c.nPlus}/${c.nMinus}, β = ${c.beta}`,
      rows: simulateTheorem2({ ...c, dims: DIMS, trials, seed }),
    }));
    const best = cases.map((c) =>
      theorem2BestError({ pPlus: c.nPlus / (c.nPlus + c.nMinus), beta: c.beta }).toFixed(3),
    );
    return {
      theorem: which,
      settings: { cases, sigma1: 1, dims: DIMS, classifier: 'θ = class-mean difference, b ≥ 0 by training-error ERM' },
      note:
        'Error of a trained linear classifier on raw X (exact given θ, b, by Theorem 2’s formula) against the lower ' +
        `bound ¼ (S1 §4.1). It stays constant in d; the best any b ≥ 0 can do is ${best.join(', ')} for the three ` +
        'settings: ¼ is approached only with balanced classes and β → ∞ (tight case), imbalance makes it loose (≥ p−/2).',
      trials,
      seed,
      panels: [
        {
          id: '',
          title: 'Theorem 2: linear classifier on raw features, error ≥ ¼',
          xTitle: 'dimension d',
          yTitle: 'test error',
          logX: true,
          boundKind: 'lower',
          series,
        },
      ],
    };
  }
  const trials = o.trials ?? 200;
  const delta = 0.1;
  const beta = 5;
  const cases = [
    { nPlus: 100, nMinus: 100 },
    { nPlus: 10, nMinus: 100 },
    { nPlus: 2, nMinus: 200 },
  ];
  const runs = cases.map((c) => ({ c, r: simulateTheorem3({ ...c, beta, delta, dims: DIMS, trials, seed }) }));
  const name = (c: { nPlus: number; nMinus: number }) => `N+/N− = ${c.nPlus}/${c.nMinus}`;
  return {
    theorem: 't3',
    settings: { cases, beta, delta, sigma1: 1, k1: 1, k2: 0, dims: DIMS },
    note:
      `Error of f_ss (exact χ²_d tails given the fitted threshold) against Theorem 3's bound at δ = ${delta}, β = ${beta} ` +
      '(S1 §4.1; constants as stated: χ² concentration with 1/8). The error decays exponentially in d; the bound ' +
      'is loose by orders of magnitude. The probability panel: how often err ≤ bound, against 1 − 2e^{−N−dδ²/8} − ' +
      '2e^{−N+dδ²/8}, which is vacuous (0) for small N+·d: training imbalance costs probability, not error.',
    trials,
    seed,
    panels: [
      {
        id: '',
        title: `Theorem 3: self-supervised feature, error of f_ss (δ = ${delta}, β = ${beta})`,
        xTitle: 'dimension d',
        yTitle: 'test error',
        logX: true,
        boundKind: 'upper',
        series: runs.map(({ c, r }) => ({ name: name(c), rows: r.error })),
      },
      {
        id: 'probability',
        title: `Theorem 3: P(err ≤ bound) (δ = ${delta}, β = ${beta})`,
        xTitle: 'dimension d',
        yTitle: 'P(err_fss ≤ bound)',
        logX: true,
        boundKind: 'lower',
        series: runs.map(({ c, r }) => ({ name: name(c), rows: r.probability })),
      },
    ],
  };
}

/** One table per panel: x, then per series the simulated value [95% interval] and the bound. */
export function formatStudy(s: TheoryStudy): string {
  const lines: string[] = [];
  const f = (v: number) => (v === 0 ? '0' : Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toFixed(4));
  for (const p of s.panels) {
    lines.push(`${p.title}`, `(${p.boundKind} bound; ${s.trials} trials per point, seed ${s.seed})`);
    const head = [p.xTitle.padStart(8)];
    for (const ser of p.series) head.push(`${ser.name}: simulated [95%]`.padEnd(34), 'bound'.padStart(10));
    lines.push(head.join('  '));
    const xs = p.series[0].rows.map((r) => r.x);
    xs.forEach((x, i) => {
      const cells = [String(x).padStart(8)];
      for (const ser of p.series) {
        const r = ser.rows[i];
        cells.push(`${f(r.simulated)} [${f(r.lo)}, ${f(r.hi)}]`.padEnd(34), f(r.bound).padStart(10));
      }
      lines.push(cells.join('  '));
    });
    lines.push('');
  }
  lines.push(s.note);
  return lines.join('\n');
}
