// Decoupled classifier re-balancing on a frozen representation (SPEC §4 "Decoupled"): τ-normalization
// with a τ sweep (used by the tau-norm component, src/methods/tau-norm.ts).
//
// Sources:
// - B. Kang, S. Xie, M. Rohrbach, Z. Yan, A. Gordo, J. Feng, Y. Kalantidis, "Decoupling Representation
//   and Classifier for Long-Tailed Recognition", ICLR 2020 (arXiv:1910.09217), §4 "τ-normalized
//   classifier" and "Learnable weight scaling (LWS)".
// - Reference code: github.com/facebookresearch/classifier-balancing
//   * tau_norm.py: `pnorm(weights, p)` divides row c of the fc weight [C, D] by `‖W_c‖₂^p`, logits are
//     `features @ W̃ᵀ` (dot product, the fc bias is dropped), and p sweeps np.linspace(0, 2, 21) on the
//     set given by --type (the test set by default). We default to τ ∈ {0, 0.1, …, 1} and select τ on a
//     validation split when one is given (SPEC §8: the reference selects on test).
// LWS (learnable weight scaling) is a training stage: src/methods/lws.ts with nn's ScaledHead.
import { Tensor, tidy, noGrad } from '../engine/tensor';
import { norm, pow, clampMin, div, matmul, linear, narrow } from '../engine/ops.generated';
import { ClassificationMeter, ClassificationSummary, MeterOptions } from './metrics';

// ------------------------------------------------------------------------------------- τ-norm

/**
 * τ-normalization of a classifier weight [C, D]: row c becomes `W_c / ‖W_c‖₂^τ`. τ = 0 returns the
 * weights unchanged (a copy), τ = 1 gives unit-norm rows. Norms are clamped at `eps` so that an
 * all-zero row stays zero instead of becoming NaN. The result does not require grad.
 */
export function tauNormalize(weight: Tensor, tau: number, opts: { eps?: number } = {}): Tensor {
  if (weight.ndim !== 2) throw new RangeError(`tauNormalize: weight must be [C, D], got [${weight.shape}]`);
  const eps = opts.eps ?? 1e-12;
  return noGrad(() =>
    tidy(() => {
      const w = weight.detach();
      const n = clampMin(norm(w, 2, 1, { keepdim: true }), eps);
      return div(w, pow(n, tau));
    }),
  );
}

/** Logits of the τ-normalized classifier: `features [N, D] @ τnorm(W)ᵀ` (no bias, as tau_norm.py). */
export function tauNormLogits(features: Tensor, weight: Tensor, tau: number): Tensor {
  return noGrad(() => tidy(() => matmul(features.detach(), tauNormalize(weight, tau).t())));
}

export interface EvalSplit {
  features: Tensor;
  targets: Tensor;
}

export interface TauSweepOptions {
  /** Where to pick τ: 'val' (needs `val`; the default when `val` is given) or 'test'. */
  select?: 'val' | 'test';
  /** Validation split used to choose τ. */
  val?: EvalSplit;
  /** Training counts per class, for many / medium / few in the summaries. */
  trainCounts?: ArrayLike<number>;
  /** Selection metric (default balanced accuracy; top-1 equals it on a balanced split). */
  metric?: 'balancedAccuracy' | 'top1';
  /** Rows per matmul (default 4096). */
  batchSize?: number;
  meter?: Omit<MeterOptions, 'trainCounts'>;
}

export interface TauSweepEntry {
  tau: number;
  test: ClassificationSummary;
  val: ClassificationSummary | null;
}

export interface TauSweepResult {
  metric: 'balancedAccuracy' | 'top1';
  selectedOn: 'val' | 'test';
  entries: TauSweepEntry[];
  best: TauSweepEntry & { index: number; score: number };
  /** The original classifier (`x Wᵀ + b`, untouched) for reference. */
  baseline: { test: ClassificationSummary; val: ClassificationSummary | null };
}

/** τ ∈ {0, 0.1, …, 1.0}, computed as i/10 so the values are exact decimals. */
export function defaultTaus(): number[] {
  return Array.from({ length: 11 }, (_, i) => i / 10);
}

function evaluateClassifier(
  split: EvalSplit,
  weight: Tensor,
  bias: Tensor | null,
  opts: MeterOptions,
  batchSize: number,
): ClassificationSummary {
  const C = weight.shape[0];
  const m = new ClassificationMeter(C, opts);
  const N = split.features.shape[0];
  if (split.targets.shape[0] !== N) {
    throw new RangeError(`tauSweep: ${N} feature rows but ${split.targets.shape[0]} targets`);
  }
  for (let s = 0; s < N; s += batchSize) {
    const len = Math.min(batchSize, N - s);
    noGrad(() =>
      tidy(() => {
        const x = narrow(split.features, 0, s, len);
        const logits = linear(x, weight, { bias });
        m.update(logits, narrow(split.targets, 0, s, len));
      }),
    );
  }
  return m.summary();
}

/**
 * Sweeps τ for a frozen classifier: for every τ, evaluates `features @ τnorm(W)ᵀ` (bias dropped) on the
 * test split and, when given, on `opts.val`; picks the τ with the best `metric` on the selection split
 * (first best on ties, i.e. the smallest τ in the given order). `bias` only enters the `baseline` entry
 * (the untouched classifier).
 */
export function tauSweep(
  features: Tensor,
  targets: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  taus: number[] = defaultTaus(),
  opts: TauSweepOptions = {},
): TauSweepResult {
  if (taus.length === 0) throw new RangeError('tauSweep: empty τ list');
  const select = opts.select ?? (opts.val ? 'val' : 'test');
  if (select === 'val' && !opts.val) throw new Error("tauSweep: select 'val' needs opts.val (a validation split)");
  const metric = opts.metric ?? 'balancedAccuracy';
  const bs = opts.batchSize ?? 4096;
  const mopts: MeterOptions = { ...(opts.meter ?? {}), trainCounts: opts.trainCounts };
  const test: EvalSplit = { features, targets };
  const run = (w: Tensor, b: Tensor | null) => ({
    test: evaluateClassifier(test, w, b, mopts, bs),
    val: opts.val ? evaluateClassifier(opts.val, w, b, mopts, bs) : null,
  });

  const baseline = noGrad(() => tidy(() => run(weight.detach(), bias === null ? null : bias.detach())));
  const entries: TauSweepEntry[] = [];
  for (const tau of taus) {
    const wn = tauNormalize(weight, tau);
    try {
      entries.push({ tau, ...run(wn, null) });
    } finally {
      wn.dispose();
    }
  }
  let bestIdx = 0;
  let bestScore = -Infinity;
  entries.forEach((e, i) => {
    const s = (select === 'val' ? e.val : e.test) as ClassificationSummary;
    const v = s[metric] ?? -Infinity;
    if (v > bestScore) {
      bestScore = v;
      bestIdx = i;
    }
  });
  return {
    metric,
    selectedOn: select,
    entries,
    best: { ...entries[bestIdx], index: bestIdx, score: bestScore },
    baseline,
  };
}
