// Feature deviation between a class's training and test features (S2 §5.4, following CDT [72]; SPEC §6):
//
//   dis(c) = (1/R) Σ_r ‖ mean(S_K({f(x_train^(c))})) − mean({f(x_test^(c))}) ‖₂
//
// with ℓ2-normalised features f, S_K a random subset of K of the class's training features (K = the smallest
// class size of the training set, so every class's mean is estimated from as many samples), R rounds (1000).
// Plain JS over Float32Arrays: the features are small ([N, D], D = 64 for the CIFAR ResNets).
import { Tensor } from '../engine';
import { Rng } from '../util/rng';

/** Features as a tensor [N, D], a flat Float32Array with its row width, or rows. */
export type FeatureInput = Tensor | number[][] | { data: Float32Array; dim: number };

export interface FeatureDeviationOptions {
  /** Training features [N, D] (pooled backbone features; normalised here). */
  trainFeatures: FeatureInput | Float32Array;
  trainLabels: ArrayLike<number | bigint> | Tensor;
  testFeatures: FeatureInput | Float32Array;
  testLabels: ArrayLike<number | bigint> | Tensor;
  /** Subset size (default: the smallest class size in the training set); at most every class's size. */
  K?: number;
  /** Subsampling rounds (default 1000). */
  R?: number;
  /** Seed of the subsampling stream (default 0). */
  seed?: number;
  /** Classes (default: 1 + the largest label in either split). */
  numClasses?: number;
}

/** Row-major features with their width. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  dim: number;
}

/** Reads features into a row-major matrix; a bare Float32Array needs `rows` (from its labels). */
export function toMatrix(f: FeatureInput | Float32Array, rows: number, what: string): Matrix {
  let data: Float32Array;
  if (f instanceof Tensor) {
    if (f.ndim !== 2) throw new Error(`${what}: features must be [N, D], got shape [${f.shape}]`);
    data = Float32Array.from(f.toArray() as ArrayLike<number>);
  } else if (f instanceof Float32Array) data = f;
  else if (Array.isArray(f)) data = Float32Array.from(f.flat());
  else data = f.data;
  const dim = rows === 0 ? 0 : data.length / rows;
  if (rows > 0 && (!Number.isInteger(dim) || dim === 0)) {
    throw new Error(`${what}: ${data.length} values do not make ${rows} rows (one per label)`);
  }
  return { data, rows, dim };
}

/** Labels as plain integers. */
export function toLabels(l: ArrayLike<number | bigint> | Tensor, what: string): Int32Array {
  const arr = l instanceof Tensor ? (l.toArray() as ArrayLike<number | bigint>) : l;
  const out = Int32Array.from(Array.from(arr, Number));
  for (const y of out) if (!(y >= 0)) throw new Error(`${what}: labels must be class indices >= 0, got ${y}`);
  return out;
}

/** Divides every row by its ℓ2 norm (S2 §5.4 "ℓ2-normalized features"); a zero row stays zero. */
export function l2NormalizeRows(m: Matrix): Matrix {
  const out = new Float32Array(m.data.length);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    for (let d = 0; d < m.dim; d++) s += m.data[r * m.dim + d] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let d = 0; d < m.dim; d++) out[r * m.dim + d] = m.data[r * m.dim + d] * inv;
  }
  return { data: out, rows: m.rows, dim: m.dim };
}

/** The row indices of each class. */
export function rowsByClass(labels: Int32Array, numClasses: number): number[][] {
  const by: number[][] = Array.from({ length: numClasses }, () => []);
  labels.forEach((y, i) => by[y]?.push(i));
  return by;
}

/** Mean of the given rows (float64 accumulation). */
function meanOfRows(m: Matrix, rows: ArrayLike<number>): Float64Array {
  const mean = new Float64Array(m.dim);
  for (let i = 0; i < rows.length; i++) {
    const at = rows[i] * m.dim;
    for (let d = 0; d < m.dim; d++) mean[d] += m.data[at + d];
  }
  for (let d = 0; d < m.dim; d++) mean[d] /= rows.length;
  return mean;
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += (a[d] - b[d]) ** 2;
  return Math.sqrt(s);
}

/**
 * dis(c) for one class from explicit subsets: the mean over `subsets` of ‖mean(train rows of the subset) −
 * mean(test rows)‖ (S2 §5.4). Rows index the (already normalised) matrices. Exposed for golden tests,
 * which pass the subsets so that the check does not depend on the random generator.
 */
export function deviationFromSubsets(
  train: Matrix,
  subsets: ArrayLike<number>[],
  test: Matrix,
  testRows: ArrayLike<number>,
): number {
  const target = meanOfRows(test, testRows);
  let sum = 0;
  for (const s of subsets) sum += distance(meanOfRows(train, s), target);
  return sum / subsets.length;
}

/** A uniformly random K-subset of `pool` (partial Fisher–Yates on a copy; `pool` is left as it is). */
export function randomSubset(pool: readonly number[], K: number, rng: Rng, scratch: Int32Array): Int32Array {
  scratch.set(pool);
  for (let i = 0; i < K; i++) {
    const j = rng.int(i, pool.length); // [i, n)
    const t = scratch[i];
    scratch[i] = scratch[j];
    scratch[j] = t;
  }
  return scratch.subarray(0, K);
}

/**
 * Feature deviation per class (S2 §5.4; SPEC §6). Returns one value per class; NaN for a class without
 * training or test features. The subsets come from the project's seeded Rng (`seed`), so a run's figures
 * are reproducible; they differ from another generator's draws only by the Monte-Carlo error.
 */
export function featureDeviation(o: FeatureDeviationOptions): number[] {
  const trainLabels = toLabels(o.trainLabels, 'featureDeviation: trainLabels');
  const testLabels = toLabels(o.testLabels, 'featureDeviation: testLabels');
  const train = l2NormalizeRows(toMatrix(o.trainFeatures, trainLabels.length, 'featureDeviation: trainFeatures'));
  const test = l2NormalizeRows(toMatrix(o.testFeatures, testLabels.length, 'featureDeviation: testFeatures'));
  if (train.rows > 0 && test.rows > 0 && train.dim !== test.dim) {
    throw new Error(`featureDeviation: train features have ${train.dim} dimensions, test features ${test.dim}`);
  }
  const numClasses = o.numClasses ?? 1 + Math.max(-1, ...trainLabels, ...testLabels);
  const trainBy = rowsByClass(trainLabels, numClasses);
  const testBy = rowsByClass(testLabels, numClasses);
  const present = trainBy.filter((r) => r.length > 0).map((r) => r.length);
  const K = o.K ?? (present.length > 0 ? Math.min(...present) : 1);
  const R = o.R ?? 1000;
  if (!(Number.isInteger(K) && K >= 1)) throw new RangeError(`featureDeviation: K must be an integer >= 1, got ${K}`);
  if (!(Number.isInteger(R) && R >= 1)) throw new RangeError(`featureDeviation: R must be an integer >= 1, got ${R}`);
  const small = trainBy.findIndex((r) => r.length > 0 && r.length < K);
  if (small >= 0) {
    throw new RangeError(
      `featureDeviation: K = ${K} exceeds class ${small}'s ${trainBy[small].length} training features`,
    );
  }
  const rng = new Rng(o.seed ?? 0);
  return trainBy.map((rows, c) => {
    if (rows.length === 0 || testBy[c].length === 0) return NaN;
    const target = meanOfRows(test, testBy[c]);
    const scratch = new Int32Array(rows.length);
    let sum = 0;
    for (let r = 0; r < R; r++) sum += distance(meanOfRows(train, randomSubset(rows, K, rng, scratch)), target);
    return sum / R;
  });
}
