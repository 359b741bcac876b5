// Class-level re-sampling with replacement (SPEC §1.4, §3 "Resample"):
// - ClassBalancedSampler: per-sample weight = weight of its class (default CB effective-number weights,
//   Cui et al. CVPR 2019, β = 0.9999, as kaidic/LDAM-DRW's "Resample" rule: per_cls_weights[label] fed to
//   torch WeightedRandomSampler(replacement=True)); so P(class c) ∝ n_c · w_c. `weights: 'inverse'` gives
//   w_c = 1/n_c, i.e. exactly uniform classes (Kang et al. "class-balanced", q = 0).
// - ClassPowerSampler / SquareRootSampler: Kang et al., "Decoupling Representation and Classifier"
//   (ICLR 2020) Eq. 1, p_j = n_j^q / Σ_i n_i^q, q = 1/2 for square-root sampling (Mahajan et al. 2018).
// - ProgressiveSampler: Kang et al. Eq. 2, p_j(t) = (1 − t/T) · n_j/N + (t/T) · 1/C, with t the epoch and
//   T the total number of epochs (t clamped to [0, T]).
// Each epoch draws `length` (default N = dataset size) indices: a class from p, then a uniform image of it.

import { IndexSampler, Rng, classLists, drawByClass, epochRng } from './base';
import { cbWeights, DEFAULT_CB_BETA } from './cb-weights';

export interface ClassSamplingOptions {
  numClasses?: number;
  seed?: number;
  /** Indices per epoch; default targets.length. */
  numSamples?: number;
}

abstract class ClassProbabilitySampler implements IndexSampler {
  abstract readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  protected readonly lists: Int32Array[];
  readonly classCounts: number[];
  protected readonly seed: number;

  constructor(targets: ArrayLike<number>, opts: ClassSamplingOptions) {
    this.lists = classLists(targets, opts.numClasses);
    this.numClasses = this.lists.length;
    this.classCounts = this.lists.map((l) => l.length);
    this.length = opts.numSamples ?? targets.length;
    this.seed = opts.seed ?? 0;
  }

  /** Probability of drawing each class at `epoch` (sums to 1 over non-empty classes). */
  abstract classProbabilities(epoch: number): number[];

  epochIndices(epoch: number, rng?: Rng): Int32Array {
    const r = rng ?? epochRng(this.seed, epoch);
    return drawByClass(this.lists, this.classProbabilities(epoch), this.length, r);
  }
}

function normalize(p: number[]): number[] {
  const s = p.reduce((a, b) => a + b, 0);
  return p.map((x) => (s > 0 ? x / s : 0));
}

export interface ClassBalancedOptions extends ClassSamplingOptions {
  /** 'cb' (default, effective-number weights with `beta`), 'inverse' (1/n_c), or explicit per-class weights. */
  weights?: 'cb' | 'inverse' | ArrayLike<number>;
  beta?: number;
}

export class ClassBalancedSampler extends ClassProbabilitySampler {
  readonly name = 'class-balanced';
  /** Per-class sample weight w_c. */
  readonly classWeights: number[];
  private readonly probs: number[];

  constructor(targets: ArrayLike<number>, opts: ClassBalancedOptions = {}) {
    super(targets, opts);
    const w = opts.weights ?? 'cb';
    if (w === 'cb') this.classWeights = cbWeights(this.classCounts, opts.beta ?? DEFAULT_CB_BETA);
    else if (w === 'inverse') this.classWeights = this.classCounts.map((n) => (n > 0 ? 1 / n : 0));
    else {
      if (w.length !== this.numClasses) throw new RangeError(`weights must have ${this.numClasses} entries`);
      this.classWeights = Array.from(w);
    }
    this.probs = normalize(this.classCounts.map((n, c) => n * this.classWeights[c]));
  }

  classProbabilities(): number[] {
    return this.probs.slice();
  }
}

export class ClassPowerSampler extends ClassProbabilitySampler {
  readonly name: string = 'class-power';
  private readonly probs: number[];

  constructor(
    targets: ArrayLike<number>,
    readonly q: number,
    opts: ClassSamplingOptions = {},
  ) {
    super(targets, opts);
    this.probs = normalize(this.classCounts.map((n) => (n > 0 ? Math.pow(n, q) : 0)));
  }

  classProbabilities(): number[] {
    return this.probs.slice();
  }
}

export class SquareRootSampler extends ClassPowerSampler {
  override readonly name = 'sqrt';
  constructor(targets: ArrayLike<number>, opts: ClassSamplingOptions = {}) {
    super(targets, 0.5, opts);
  }
}

export interface ProgressiveOptions extends ClassSamplingOptions {
  totalEpochs: number;
}

export class ProgressiveSampler extends ClassProbabilitySampler {
  readonly name = 'progressive';
  readonly totalEpochs: number;

  constructor(targets: ArrayLike<number>, opts: ProgressiveOptions) {
    super(targets, opts);
    if (!(opts.totalEpochs > 0)) throw new RangeError('totalEpochs must be > 0');
    this.totalEpochs = opts.totalEpochs;
  }

  classProbabilities(epoch: number): number[] {
    const t = Math.min(Math.max(epoch, 0), this.totalEpochs) / this.totalEpochs;
    const N = this.classCounts.reduce((a, b) => a + b, 0);
    const nonEmpty = this.classCounts.filter((n) => n > 0).length;
    return this.classCounts.map((n) => (n > 0 ? (1 - t) * (n / N) + t * (1 / nonEmpty) : 0));
  }
}
