// Criterion: the callable every loss in src/losses returns, and the per-class-vector plumbing they share.
//
// A criterion is a function `(logits [B, C], targets [B] int64) => scalar mean loss` that also carries
// `.name`, `.options` (the resolved arguments, to save next to a run), `.forward`, and `.setWeight(w|null)`.
// `setWeight` exists for DRW (SPEC §3; kaidic/LDAM-DRW cifar_train.py rebuilds the criterion each epoch with
// `per_cls_weights` = None before epoch 160 and CB weights after): a trainer calls it at an epoch boundary.
//
// Per-class vectors (weights, margins, log-priors) are held as plain numbers and materialized once per
// (device, dtype) of the logits; the cached tensors are `keep()`-ed so tidy scopes around a training step do
// not free them, and are released by `setWeight` / `dispose()`.
import { Tensor, tensor, keep } from '../engine/tensor';
import { toDevice, toDtype } from '../engine/ops.generated';

/** A per-class weight vector: numbers, or a 1-D tensor (copied, so later edits to it have no effect). */
export type WeightInput = ArrayLike<number> | Tensor;

export interface Criterion {
  /** Mean loss over the batch: logits [B, C] (float), targets [B] class indices (int64; int32 accepted). */
  (logits: Tensor, targets: Tensor): Tensor;
  readonly name: string;
  /** Resolved options (defaults filled in), JSON-serializable; `weight` reflects the current weight. */
  readonly options: Readonly<Record<string, unknown>>;
  forward(logits: Tensor, targets: Tensor): Tensor;
  /** Replaces the per-class weight (null: unweighted). Takes effect on the next call. */
  setWeight(weight: WeightInput | null): void;
  /** The current per-class weight, or null. */
  readonly weight: readonly number[] | null;
  /** Frees the cached per-class tensors; the criterion stays usable (they are rebuilt on demand). */
  dispose(): void;
}

/** A loss body: `weight` is already on the logits' device and dtype (or null). */
export type LossBody = (logits: Tensor, targets: Tensor, weight: Tensor | null) => Tensor;

/** Copies a weight input into a validated number[] (finite, >= 0, not all zero). */
export function toWeightArray(w: WeightInput, where: string): number[] {
  let arr: number[];
  if (w instanceof Tensor) {
    if (w.ndim !== 1) throw new Error(`${where}: weight must be 1-D, got shape [${w.shape}]`);
    arr = w.toList();
  } else {
    arr = Array.from(w, Number);
  }
  if (arr.length === 0) throw new Error(`${where}: weight is empty`);
  for (let c = 0; c < arr.length; c++) {
    if (!(Number.isFinite(arr[c]) && arr[c] >= 0)) {
      throw new RangeError(`${where}: weight[${c}] = ${arr[c]} must be finite and >= 0`);
    }
  }
  if (arr.every((v) => v === 0)) throw new RangeError(`${where}: weight is all zeros`);
  return arr;
}

/** Validates class counts used to derive margins or priors (positive, finite; need not be integers). */
export function toClassCounts(clsNumList: ArrayLike<number>, where: string): number[] {
  const arr = Array.from(clsNumList, Number);
  if (arr.length === 0) throw new Error(`${where}: clsNumList is empty`);
  for (let c = 0; c < arr.length; c++) {
    // n_c = 0 would give an infinite LDAM margin and a -inf log-prior; a class with no training samples has
    // no meaningful margin or prior, so refuse instead of training on inf/NaN.
    if (!(Number.isFinite(arr[c]) && arr[c] > 0)) {
      throw new RangeError(`${where}: clsNumList[${c}] = ${arr[c]} must be a positive count`);
    }
  }
  return arr;
}

/** A number[] materialized lazily as a tensor matching a reference tensor's device and dtype. */
export class ClassVector {
  readonly values: readonly number[];
  private cache: { device: string; dtype: string; t: Tensor } | null = null;

  constructor(values: readonly number[]) {
    this.values = values;
  }

  like(ref: Tensor): Tensor {
    const device = ref.device;
    const dtype = ref.dtype;
    const c = this.cache;
    if (c !== null && c.device === device && c.dtype === dtype && !c.t.isDisposed) return c.t;
    this.dispose();
    const f64 = tensor(Float64Array.from(this.values), [this.values.length], 'float64');
    let t: Tensor;
    if (device === 'cpu') {
      t = dtype === 'float64' ? f64 : toDtype(f64, dtype);
    } else {
      t = toDevice(f64, device, dtype);
    }
    if (t !== f64) f64.dispose();
    keep(t);
    this.cache = { device, dtype, t };
    return t;
  }

  dispose(): void {
    if (this.cache !== null) {
      this.cache.t.dispose();
      this.cache = null;
    }
  }
}

/** Checks shapes and returns int64 targets (a new tensor only when a cast was needed). */
export function checkInputs(name: string, logits: Tensor, targets: Tensor, numClasses: number | null): Tensor {
  if (logits.ndim !== 2) throw new Error(`loss '${name}': logits must be [B, C], got shape [${logits.shape}]`);
  const [B, C] = logits.shape;
  if (numClasses !== null && C !== numClasses) {
    throw new Error(`loss '${name}': logits have ${C} classes but the loss was built for ${numClasses}`);
  }
  if (targets.ndim !== 1 || targets.shape[0] !== B) {
    throw new Error(`loss '${name}': targets must be [${B}] class indices, got shape [${targets.shape}]`);
  }
  const dt = targets.dtype;
  if (dt === 'int64') return targets;
  if (dt === 'int32' || dt === 'int16' || dt === 'int8' || dt === 'uint8') return toDtype(targets, 'int64');
  throw new TypeError(`loss '${name}': targets must be integer class indices, got dtype ${dt}`);
}

export interface CriterionSpec {
  name: string;
  /** Resolved options without `weight` (added by the criterion). */
  options: Record<string, unknown>;
  /** C when the loss is tied to a class count (clsNumList), else null (checked against `weight` instead). */
  numClasses: number | null;
  body: LossBody;
  /** Extra cached tensors the body uses, freed by `dispose()`. */
  owned?: ClassVector[];
}

/** Builds the callable criterion around a loss body. */
export function makeCriterion(spec: CriterionSpec, weight?: WeightInput | null): Criterion {
  const { name, body } = spec;
  let w: ClassVector | null = null;

  const setWeight = (next: WeightInput | null | undefined): void => {
    const arr = next === null || next === undefined ? null : toWeightArray(next, `loss '${name}'`);
    if (arr !== null && spec.numClasses !== null && arr.length !== spec.numClasses) {
      throw new Error(`loss '${name}': weight has ${arr.length} entries but clsNumList has ${spec.numClasses}`);
    }
    w?.dispose();
    w = arr === null ? null : new ClassVector(arr);
  };
  setWeight(weight);

  const forward = (logits: Tensor, targets: Tensor): Tensor => {
    const C = spec.numClasses ?? (w !== null ? w.values.length : null);
    const t = checkInputs(name, logits, targets, C);
    const out = body(logits, t, w === null ? null : w.like(logits));
    if (t !== targets) t.dispose();
    return out;
  };

  const fn = ((logits: Tensor, targets: Tensor) => forward(logits, targets)) as Criterion;
  Object.defineProperties(fn, {
    name: { value: name, enumerable: true },
    options: { get: () => ({ ...spec.options, weight: w === null ? null : [...w.values] }), enumerable: true },
    weight: { get: () => (w === null ? null : w.values), enumerable: true },
    forward: { value: forward },
    setWeight: { value: setWeight },
    dispose: {
      value: () => {
        w?.dispose();
        for (const v of spec.owned ?? []) v.dispose();
      },
    },
  });
  return fn;
}
