// Classification metrics for long-tailed evaluation (SPEC §6): top-1 / top-5 (micro), per-class accuracy,
// balanced accuracy, many / medium / few-shot accuracy, confusion matrix, macro-F1, per-class precision /
// recall, and the "classification ratio" of S2 (Procrustean Training, Fig. 1).
//
// One topk per batch moves the predictions to JS; everything else is plain JS math on typed arrays.
//
// Conventions (all values are fractions in [0, 1]; the table renderer turns them into percentages):
// - top-1 / top-5 are micro (correct / samples). With fewer than 5 classes, "top-5" is top-min(5, C).
//   Ties in the logits are broken the way libtorch's topk breaks them (sorted, largest first).
// - per-class accuracy = recall = confusion[c][c] / support(c); null when class c has no test samples.
// - balanced accuracy = mean per-class recall over the classes with test support (as sklearn's
//   balanced_accuracy_score, and as the reference shot_acc, which iterates np.unique(test labels)).
// - shot groups from the training counts (SPEC §6): many = count > 100, medium = 20..100 (inclusive),
//   few = count < 20. A group's accuracy is the mean per-class accuracy of its classes that have test
//   support; null when the group has no such class. (Several copies of the OLTR/classifier-balancing
//   shot_acc use >= 100 / <= 20; the thresholds are options here.)
// - precision(c) = confusion[c][c] / predicted-as-c; null when nothing was predicted as c.
//   recall(c) as per-class accuracy. f1(c) = 2PR/(P+R), with an undefined P or R counted as 0 and
//   f1 = 0 when P + R = 0 — sklearn's zero_division=0 convention.
// - macro-F1 averages f1(c) over the classes that occur in the targets or in the predictions (sklearn's
//   f1_score(average='macro') with labels=None). A class with neither support nor predictions has
//   f1 = null and does not enter the mean, so absent classes never produce NaN nor drag the mean to 0.
//   `macroF1AllClasses` (every class, absent ones as 0) is reported alongside for strict comparisons.
// - classification ratio(c) = predicted-as-c / truly-c (S2 Fig. 1: >1 means the classifier over-predicts
//   c, as it does for major classes); null when class c has no test samples.
// - calibration: expected calibration error (ECE) of Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of
//   Modern Neural Networks", §2 eq. (3). The confidence of a sample is its maximum softmax probability
//   p = max_k softmax(z)_k (computed by libtorch in the logits' float type, float32 for half types), the
//   prediction its top-1 class. The confidences fall into M = 15 equal-width bins (the paper's M, and the
//   authors' gpleiss/temperature_scaling _ECELoss); bin b is (b/M, (b+1)/M], and the first bin also takes
//   p = 0. ECE = Σ_b (n_b / N) · |acc_b − conf_b| with acc_b, conf_b the bin's accuracy and mean confidence;
//   empty bins contribute nothing. Edges are b / M in float64 and the comparison is exact on the confidence
//   as given, so a float32 softmax maximum sits exactly on an edge only at 1 (a saturated softmax → last
//   bin). Per shot group, the ECE is taken over the test samples whose TRUE class is in the group, with the
//   group's own M bins and N = the group's sample count; null for a group without test samples.
import { Tensor, tidy, noGrad } from '../engine/tensor';
import { topk, softmax, amax } from '../engine/ops.generated';

export interface MeterOptions {
  /** Training-set count per class (length numClasses), for the many / medium / few-shot split. */
  trainCounts?: ArrayLike<number>;
  /** Classes with more than this many training images are "many-shot" (default 100). */
  manyThreshold?: number;
  /** Classes with fewer than this many training images are "few-shot" (default 20). */
  fewThreshold?: number;
  /** Number of equal-width confidence bins for the calibration error (default 15, as Guo et al. 2017). */
  calibrationBins?: number;
}

/** One reliability-diagram bin: confidences in (lo, hi] (the first bin also takes 0). */
export interface CalibrationBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence of the bin's samples; null for an empty bin. */
  confidence: number | null;
  /** Top-1 accuracy of the bin's samples; null for an empty bin. */
  accuracy: number | null;
}

export interface Calibration {
  /** Expected calibration error over all samples; null before any sample (or when a batch had no confidences). */
  ece: number | null;
  /** The reliability diagram: M bins, in increasing confidence (empty when the ECE is unavailable). */
  bins: CalibrationBin[];
  /** ECE over the samples whose true class is in each shot group; null without training counts. */
  byGroup: { many: number | null; medium: number | null; few: number | null } | null;
}

export interface ShotGroup {
  /** Mean per-class accuracy of the group's classes with test support; null when there is none. */
  accuracy: number | null;
  /** Classes in the group (by training count), including any without test support. */
  classes: number[];
}

export interface ClassificationSummary {
  numClasses: number;
  numSamples: number;
  /** Micro top-1 accuracy; null before any sample. */
  top1: number | null;
  /** Micro top-5 accuracy (top-min(5, C)); null before any sample or when fed predictions without top-k. */
  top5: number | null;
  balancedAccuracy: number | null;
  macroF1: number | null;
  macroF1AllClasses: number | null;
  /** Many / medium / few-shot accuracy; null when no training counts were given. */
  shots: { many: ShotGroup; medium: ShotGroup; few: ShotGroup; manyThreshold: number; fewThreshold: number } | null;
  perClass: {
    support: number[];
    predicted: number[];
    correct: number[];
    accuracy: (number | null)[];
    precision: (number | null)[];
    recall: (number | null)[];
    f1: (number | null)[];
    classificationRatio: (number | null)[];
    trainCounts: number[] | null;
  };
  /** confusion[t][p] = number of samples of true class t predicted as p. */
  confusion: number[][];
  /**
   * Expected calibration error and reliability bins. Summaries stored by runs made before it existed lack
   * this field: readers of stored summaries treat it as optional (`summary.calibration?.ece ?? null`).
   */
  calibration: Calibration;
}

function toIntArray(a: ArrayLike<number | bigint>): Int32Array {
  const out = new Int32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = Number(a[i]);
  return out;
}

const ratio = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/** Default number of confidence bins (Guo et al. 2017 use M = 15). */
export const CALIBRATION_BINS = 15;

/**
 * The bin of confidence p among nBins equal-width bins (b/M, (b+1)/M], the first bin also taking 0. The
 * edges are compared exactly (b / M in float64), so the result never depends on rounding of p · M.
 */
export function calibrationBin(p: number, nBins: number = CALIBRATION_BINS): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`calibration: confidence ${p} is not in [0, 1]`);
  let b = Math.min(nBins - 1, Math.max(0, Math.ceil(p * nBins) - 1));
  while (b > 0 && p <= b / nBins) b--;
  while (b < nBins - 1 && p > (b + 1) / nBins) b++;
  return b;
}

/** Per-bin sums of a set of (confidence, correct) pairs; the ECE and reliability bins come from these. */
class CalibrationAccumulator {
  readonly count: Float64Array;
  readonly confSum: Float64Array;
  readonly correctSum: Float64Array;
  n = 0;

  constructor(readonly nBins: number) {
    this.count = new Float64Array(nBins);
    this.confSum = new Float64Array(nBins);
    this.correctSum = new Float64Array(nBins);
  }

  add(p: number, correct: boolean): void {
    const b = calibrationBin(p, this.nBins);
    this.count[b]++;
    this.confSum[b] += p;
    if (correct) this.correctSum[b]++;
    this.n++;
  }

  /** The sums as [count…, confSum…, correctSum…, n], written into `out` at `at`; returns the next offset. */
  pack(out: Float64Array, at: number): number {
    const b = this.nBins;
    out.set(this.count, at);
    out.set(this.confSum, at + b);
    out.set(this.correctSum, at + 2 * b);
    out[at + 3 * b] = this.n;
    return at + 3 * b + 1;
  }

  /** Adds sums laid out as `pack` writes them; returns the next offset. */
  addPacked(v: Float64Array, at: number): number {
    const b = this.nBins;
    for (let i = 0; i < b; i++) {
      this.count[i] += v[at + i];
      this.confSum[i] += v[at + b + i];
      this.correctSum[i] += v[at + 2 * b + i];
    }
    this.n += v[at + 3 * b];
    return at + 3 * b + 1;
  }

  reset(): void {
    this.count.fill(0);
    this.confSum.fill(0);
    this.correctSum.fill(0);
    this.n = 0;
  }

  /** ECE = Σ_b (n_b / N) |acc_b − conf_b| (Guo et al. 2017, eq. 3); null when N = 0. */
  ece(): number | null {
    if (this.n === 0) return null;
    let e = 0;
    for (let b = 0; b < this.nBins; b++) {
      const nb = this.count[b];
      if (nb > 0) e += (nb / this.n) * Math.abs(this.correctSum[b] / nb - this.confSum[b] / nb);
    }
    return e;
  }

  bins(): CalibrationBin[] {
    const out: CalibrationBin[] = [];
    for (let b = 0; b < this.nBins; b++) {
      const nb = this.count[b];
      out.push({
        lo: b / this.nBins,
        hi: (b + 1) / this.nBins,
        count: nb,
        confidence: ratio(this.confSum[b], nb),
        accuracy: ratio(this.correctSum[b], nb),
      });
    }
    return out;
  }
}

/**
 * Expected calibration error and reliability bins of confidences in [0, 1] and top-1 correctness
 * (Guo et al. 2017, §2; bins (b/M, (b+1)/M], first bin including 0). `ece` is null for no samples.
 */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<number | boolean>,
  nBins: number = CALIBRATION_BINS,
): { ece: number | null; bins: CalibrationBin[] } {
  if (!Number.isInteger(nBins) || nBins < 1) throw new RangeError(`calibration: bins must be ≥ 1, got ${nBins}`);
  if (confidence.length !== correct.length) {
    throw new RangeError(`calibration: ${confidence.length} confidences but ${correct.length} correctness flags`);
  }
  const acc = new CalibrationAccumulator(nBins);
  for (let i = 0; i < confidence.length; i++) acc.add(confidence[i], Boolean(correct[i]));
  return { ece: acc.ece(), bins: acc.bins() };
}

const GROUPS = ['many', 'medium', 'few'] as const;

export class ClassificationMeter {
  readonly numClasses: number;
  readonly k: number;
  private readonly trainCounts: Int32Array | null;
  private readonly manyThreshold: number;
  private readonly fewThreshold: number;
  private confusion: Int32Array;
  private n = 0;
  private topkCorrect = 0;
  /** Samples fed with top-k information (top-5 is null unless all samples had it). */
  private topkSeen = 0;
  /** Calibration sums over all samples, and per shot group of the true class (with training counts). */
  private readonly calAll: CalibrationAccumulator;
  private readonly calGroup: Record<'many' | 'medium' | 'few', CalibrationAccumulator> | null;

  constructor(numClasses: number, opts: MeterOptions = {}) {
    if (!Number.isInteger(numClasses) || numClasses < 1) {
      throw new RangeError(`ClassificationMeter: numClasses must be a positive integer, got ${numClasses}`);
    }
    this.numClasses = numClasses;
    this.k = Math.min(5, numClasses);
    this.confusion = new Int32Array(numClasses * numClasses);
    this.manyThreshold = opts.manyThreshold ?? 100;
    this.fewThreshold = opts.fewThreshold ?? 20;
    if (opts.trainCounts !== undefined) {
      if (opts.trainCounts.length !== numClasses) {
        throw new RangeError(
          `ClassificationMeter: trainCounts has ${opts.trainCounts.length} entries, expected ${numClasses}`,
        );
      }
      this.trainCounts = toIntArray(opts.trainCounts);
    } else {
      this.trainCounts = null;
    }
    const nBins = opts.calibrationBins ?? CALIBRATION_BINS;
    if (!Number.isInteger(nBins) || nBins < 1) {
      throw new RangeError(`ClassificationMeter: calibrationBins must be a positive integer, got ${nBins}`);
    }
    this.calAll = new CalibrationAccumulator(nBins);
    this.calGroup =
      this.trainCounts === null
        ? null
        : {
            many: new CalibrationAccumulator(nBins),
            medium: new CalibrationAccumulator(nBins),
            few: new CalibrationAccumulator(nBins),
          };
  }

  /** Number of samples seen. */
  get count(): number {
    return this.n;
  }

  reset(): void {
    this.confusion.fill(0);
    this.n = 0;
    this.topkCorrect = 0;
    this.topkSeen = 0;
    this.calAll.reset();
    if (this.calGroup) for (const g of GROUPS) this.calGroup[g].reset();
  }

  /**
   * Adds a batch of logits [N, C] (any device / float dtype) and integer targets [N]. Runs one topk
   * (k = min(5, C)) and one softmax maximum (the confidence, for calibration) under noGrad and copies
   * both to JS; column 0 of the top-k is the top-1 prediction.
   */
  update(logits: Tensor, targets: Tensor): void {
    const shape = logits.shape;
    if (shape.length !== 2 || shape[1] !== this.numClasses) {
      throw new RangeError(`ClassificationMeter.update: logits must be [N, ${this.numClasses}], got [${shape}]`);
    }
    const k = this.k;
    const [idx, conf] = noGrad(() =>
      tidy(() => {
        const z = logits.detach();
        const [, ind] = topk(z, k, { dim: 1, largest: true, sorted: true });
        // Softmax in float32 for half types (as autocast does), in the logits' own type otherwise.
        const full = z.dtype === 'float32' || z.dtype === 'float64';
        const p = amax(softmax(z, 1, full ? {} : { dtype: 'float32' }), { dim: 1 });
        return [ind.toArray() as ArrayLike<number | bigint>, p.toArray() as ArrayLike<number>] as const;
      }),
    );
    const tgt = toIntArray(targets.toArray() as ArrayLike<number | bigint>);
    const n = shape[0];
    if (tgt.length !== n) {
      throw new RangeError(`ClassificationMeter.update: ${n} logits rows but ${tgt.length} targets`);
    }
    this.updatePredictions(toIntArray(idx), tgt, { topk: k, confidence: conf });
  }

  /**
   * Adds predictions without tensors. `preds` is either [N] top-1 labels, or, with `{ topk: k }`, the
   * row-major [N, k] top-k labels (best first; k ≥ min(5, C) gives top-5, else top-5 becomes null).
   * `confidence` ([N], in [0, 1]: the top-1 prediction's probability) feeds the calibration error, which
   * is null unless every sample came with one.
   */
  updatePredictions(
    preds: Int32Array | ArrayLike<number>,
    targets: Int32Array | ArrayLike<number>,
    opts: { topk?: number; confidence?: ArrayLike<number> } = {},
  ): void {
    const kk = opts.topk ?? 1;
    const n = targets.length;
    if (preds.length !== n * kk) {
      throw new RangeError(
        `ClassificationMeter.updatePredictions: ${preds.length} predictions for ${n} targets × k=${kk}`,
      );
    }
    let conf = opts.confidence;
    if (conf !== undefined) {
      if (conf.length !== n) {
        throw new RangeError(`ClassificationMeter.updatePredictions: ${conf.length} confidences for ${n} targets`);
      }
      let nan = false;
      for (let i = 0; i < n; i++) {
        if (Number.isNaN(conf[i])) nan = true;
        else if (!(conf[i] >= 0 && conf[i] <= 1)) throw new RangeError(`confidence ${conf[i]} is not in [0, 1]`);
      }
      // A diverged model's NaN logits have no confidence: its calibration error is null, as without one.
      if (nan) conf = undefined;
    }
    const C = this.numClasses;
    const useK = kk >= this.k;
    for (let i = 0; i < n; i++) {
      const t = targets[i];
      const p = preds[i * kk];
      if (!(t >= 0 && t < C && Number.isInteger(t))) throw new RangeError(`target ${t} out of range [0, ${C})`);
      if (!(p >= 0 && p < C && Number.isInteger(p))) throw new RangeError(`prediction ${p} out of range [0, ${C})`);
      this.confusion[t * C + p]++;
      if (conf !== undefined) {
        this.calAll.add(conf[i], p === t);
        if (this.calGroup) this.calGroup[this.shotGroup(t) as 'many' | 'medium' | 'few'].add(conf[i], p === t);
      }
      if (useK) {
        for (let j = 0; j < this.k; j++) {
          if (preds[i * kk + j] === t) {
            this.topkCorrect++;
            break;
          }
        }
      }
    }
    this.n += n;
    if (useK) this.topkSeen += n;
  }

  /**
   * Everything the meter has counted as one vector of sums: the confusion counts, the sample and top-k counts,
   * and the calibration sums (all, then many / medium / few). Meters over disjoint parts of a set add up to the
   * meter of the whole set (`addSums`), so data-parallel evaluation sums these vectors over the ranks. Counts
   * stay exact as float64 (below 2^53).
   */
  sums(): Float64Array {
    const cal = [this.calAll, ...(this.calGroup ? GROUPS.map((g) => this.calGroup![g]) : [])];
    const C2 = this.confusion.length;
    const out = new Float64Array(C2 + 3 + cal.reduce((s, c) => s + 3 * c.nBins + 1, 0));
    out.set(this.confusion, 0);
    out[C2] = this.n;
    out[C2 + 1] = this.topkCorrect;
    out[C2 + 2] = this.topkSeen;
    let at = C2 + 3;
    for (const c of cal) at = c.pack(out, at);
    return out;
  }

  /** Adds another meter's `sums()` (same classes, training counts and bins) to this one. */
  addSums(v: Float64Array): void {
    const want = this.sums().length;
    if (v.length !== want) {
      throw new RangeError(
        `ClassificationMeter.addSums: ${v.length} sums, expected ${want} (a meter of another shape)`,
      );
    }
    const C2 = this.confusion.length;
    for (let i = 0; i < C2; i++) this.confusion[i] += v[i];
    this.n += v[C2];
    this.topkCorrect += v[C2 + 1];
    this.topkSeen += v[C2 + 2];
    let at = C2 + 3;
    at = this.calAll.addPacked(v, at);
    if (this.calGroup) for (const g of GROUPS) at = this.calGroup[g].addPacked(v, at);
  }

  /** confusion[t][p] as nested arrays (rows = true class, cols = predicted class). */
  confusionMatrix(): number[][] {
    const C = this.numClasses;
    const rows: number[][] = [];
    for (let t = 0; t < C; t++) rows.push(Array.from(this.confusion.subarray(t * C, (t + 1) * C)));
    return rows;
  }

  /** Which shot group a class falls in, by its training count; null without training counts. */
  shotGroup(c: number): 'many' | 'medium' | 'few' | null {
    if (this.trainCounts === null) return null;
    const m = this.trainCounts[c];
    if (m > this.manyThreshold) return 'many';
    if (m < this.fewThreshold) return 'few';
    return 'medium';
  }

  summary(): ClassificationSummary {
    const C = this.numClasses;
    const cm = this.confusion;
    const support = new Array<number>(C).fill(0);
    const predicted = new Array<number>(C).fill(0);
    const correct = new Array<number>(C).fill(0);
    for (let t = 0; t < C; t++) {
      for (let p = 0; p < C; p++) {
        const v = cm[t * C + p];
        support[t] += v;
        predicted[p] += v;
      }
      correct[t] = cm[t * C + t];
    }
    const accuracy = support.map((s, c) => ratio(correct[c], s));
    const precision = predicted.map((q, c) => ratio(correct[c], q));
    const recall = accuracy;
    const f1: (number | null)[] = [];
    let f1Sum = 0;
    let f1N = 0;
    for (let c = 0; c < C; c++) {
      if (support[c] === 0 && predicted[c] === 0) {
        f1.push(null);
        continue;
      }
      const P = precision[c] ?? 0;
      const R = recall[c] ?? 0;
      const f = P + R > 0 ? (2 * P * R) / (P + R) : 0;
      f1.push(f);
      f1Sum += f;
      f1N++;
    }
    const classificationRatio = support.map((s, c) => ratio(predicted[c], s));

    let accSum = 0;
    let accN = 0;
    for (const a of accuracy) {
      if (a !== null) {
        accSum += a;
        accN++;
      }
    }
    let totalCorrect = 0;
    for (const v of correct) totalCorrect += v;

    let shots: ClassificationSummary['shots'] = null;
    if (this.trainCounts !== null) {
      const groups = { many: [] as number[], medium: [] as number[], few: [] as number[] };
      for (let c = 0; c < C; c++) groups[this.shotGroup(c) as 'many' | 'medium' | 'few'].push(c);
      const mk = (classes: number[]): ShotGroup => {
        let s = 0;
        let m = 0;
        for (const c of classes) {
          const a = accuracy[c];
          if (a !== null) {
            s += a;
            m++;
          }
        }
        return { accuracy: m > 0 ? s / m : null, classes };
      };
      shots = {
        many: mk(groups.many),
        medium: mk(groups.medium),
        few: mk(groups.few),
        manyThreshold: this.manyThreshold,
        fewThreshold: this.fewThreshold,
      };
    }

    return {
      numClasses: C,
      numSamples: this.n,
      top1: ratio(totalCorrect, this.n),
      top5: this.n > 0 && this.topkSeen === this.n ? this.topkCorrect / this.n : null,
      balancedAccuracy: accN > 0 ? accSum / accN : null,
      macroF1: f1N > 0 ? f1Sum / f1N : null,
      macroF1AllClasses: this.n > 0 ? f1.reduce<number>((s, v) => s + (v ?? 0), 0) / C : null,
      shots,
      perClass: {
        support,
        predicted,
        correct,
        accuracy,
        precision,
        recall,
        f1,
        classificationRatio,
        trainCounts: this.trainCounts === null ? null : Array.from(this.trainCounts),
      },
      confusion: this.confusionMatrix(),
      calibration: this.calibration(),
    };
  }

  /** ECE and reliability bins (see the header); unavailable (ece null, no bins) if a batch had no confidences. */
  private calibration(): Calibration {
    if (this.calAll.n !== this.n) return { ece: null, bins: [], byGroup: null };
    const g = this.calGroup;
    return {
      ece: this.calAll.ece(),
      bins: this.calAll.bins(),
      byGroup: g === null ? null : { many: g.many.ece(), medium: g.medium.ece(), few: g.few.ece() },
    };
  }
}

/** One-shot helper: the summary of a single [N, C] logits tensor against targets. */
export function evaluateLogits(logits: Tensor, targets: Tensor, opts: MeterOptions = {}): ClassificationSummary {
  const m = new ClassificationMeter(logits.shape[1], opts);
  m.update(logits, targets);
  return m.summary();
}
