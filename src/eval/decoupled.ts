// Decoupled classifier re-balancing on a frozen representation (SPEC §4 "Decoupled"): τ-normalization
// with a τ sweep, and LWS (learnable weight scaling).
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
//   * models/TauNormClassifier.py (the LWS classifier): the stage-1 `nn.Linear` (weight and bias) is
//     frozen and its output is multiplied by a learnable `scales = ones(C)`: logits = fc(x) * scales —
//     the bias is scaled too. config/*/cls_lws.yaml trains it with SGD lr 0.2, momentum 0.9, weight decay
//     5e-4, cosine schedule, class-aware sampling (4 images per class), a few epochs (5 on ImageNet-LT).
import { Tensor, tidy, noGrad, keep } from '../engine/tensor';
import {
  norm,
  pow,
  clampMin,
  div,
  matmul,
  linear,
  mul,
  narrow,
  ones,
  crossEntropyLoss,
  sub_,
  mul_,
  add_,
  zerosLike,
} from '../engine/ops.generated';
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

// ---------------------------------------------------------------------------------------- LWS

/**
 * LWS head: the stage-1 linear classifier, frozen, with a learnable per-class scale on its logits:
 * `logits = (x Wᵀ + b) ⊙ scales` (classifier-balancing's TauNormClassifier.py; `scales` starts at 1).
 * Module-like: `parameters()` lists only `scales`, so any optimizer over it trains LWS alone.
 */
export class LwsHead {
  /** Frozen copy of the classifier weight [C, D]. */
  readonly weight: Tensor;
  /** Frozen copy of the classifier bias [C], or null. */
  readonly bias: Tensor | null;
  /** Learnable per-class logit scales f_c, shape [C], requires grad. */
  readonly scales: Tensor;
  training = true;

  constructor(weight: Tensor, bias: Tensor | null = null) {
    if (weight.ndim !== 2) throw new RangeError(`LwsHead: weight must be [C, D], got [${weight.shape}]`);
    const C = weight.shape[0];
    this.weight = keep(noGrad(() => tidy(() => weight.detach().clone())));
    this.bias = bias === null ? null : keep(noGrad(() => tidy(() => bias.detach().clone())));
    this.scales = keep(ones([C], { dtype: weight.dtype, device: weight.device })).requiresGrad_(true);
  }

  get numClasses(): number {
    return this.weight.shape[0];
  }

  forward(features: Tensor): Tensor {
    return mul(linear(features, this.weight, { bias: this.bias }), this.scales);
  }

  parameters(): Tensor[] {
    return [this.scales];
  }
  namedParameters(): [string, Tensor][] {
    return [['scales', this.scales]];
  }
  /** PyTorch-style keys of TauNormClassifier.DotProduct_Classifier. */
  stateDict(): Record<string, Tensor> {
    const sd: Record<string, Tensor> = { 'fc.weight': this.weight, scales: this.scales };
    if (this.bias !== null) sd['fc.bias'] = this.bias;
    return sd;
  }
  train(on = true): this {
    this.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** The learned scales as a JS array. */
  scaleValues(): number[] {
    return this.scales.toList();
  }
  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
    this.scales.dispose();
  }
}

export interface LwsTrainOptions {
  epochs?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** Cosine decay of lr to 0 over all steps (the reference's coslr). Default true. */
  cosine?: boolean;
}

/**
 * A minimal trainer for LwsHead: SGD with momentum on `scales` (defaults from cls_lws.yaml: lr 0.2,
 * momentum 0.9, weight decay 5e-4, cosine, 5 epochs). `batches()` yields one epoch of
 * (features, targets) — use a class-aware sampler there as the reference does. Returns mean loss per
 * epoch. Any external optimizer can be used instead via `head.parameters()`.
 */
export function trainLws(head: LwsHead, batches: () => Iterable<EvalSplit>, opts: LwsTrainOptions = {}): number[] {
  const epochs = opts.epochs ?? 5;
  const lr0 = opts.lr ?? 0.2;
  const mom = opts.momentum ?? 0.9;
  const wd = opts.weightDecay ?? 5e-4;
  const cosine = opts.cosine ?? true;
  const buf = keep(noGrad(() => zerosLike(head.scales)));
  const losses: number[] = [];
  head.train(true);
  try {
    for (let e = 0; e < epochs; e++) {
      // Per-epoch cosine like the reference's CosineAnnealingLR stepped once per epoch.
      const lr = cosine ? (lr0 * (1 + Math.cos((Math.PI * e) / epochs))) / 2 : lr0;
      let sum = 0;
      let n = 0;
      for (const b of batches()) {
        sum += tidy(() => {
          head.scales.grad = null;
          const loss = crossEntropyLoss(head.forward(b.features), b.targets);
          loss.backward();
          const g = head.scales.grad as Tensor | null;
          if (g === null) throw new Error('trainLws: no gradient reached scales');
          noGrad(() => {
            const d = add_(g, head.scales, { alpha: wd });
            mul_(buf, mom);
            add_(buf, d);
            sub_(head.scales, buf, { alpha: lr });
          });
          return loss.item();
        });
        n++;
      }
      losses.push(n > 0 ? sum / n : NaN);
    }
  } finally {
    head.scales.grad = null;
    buf.dispose();
    head.eval();
  }
  return losses;
}

/** Evaluates an LWS head (logits over `features`) into a summary. */
export function evaluateLws(
  head: LwsHead,
  split: EvalSplit,
  opts: MeterOptions & { batchSize?: number } = {},
): ClassificationSummary {
  const m = new ClassificationMeter(head.numClasses, opts);
  const N = split.features.shape[0];
  const bs = opts.batchSize ?? 4096;
  for (let s = 0; s < N; s += bs) {
    const len = Math.min(bs, N - s);
    noGrad(() =>
      tidy(() => m.update(head.forward(narrow(split.features, 0, s, len)), narrow(split.targets, 0, s, len))),
    );
  }
  return m.summary();
}
