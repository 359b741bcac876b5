// Transform type, composition and small tensor helpers shared by the transform modules.
import { Tensor, tensor, tidy, indexSelect, indexPut, clone, toDtype } from '../../engine';
import { AugRng } from './rng';

/**
 * A batched data transform: takes a whole batch (NCHW, uint8 or float32 — `toFloat` also accepts the
 * loader's uint8 NHWC) and an AugRng, returns a new tensor. It never modifies or disposes its input and
 * leaves no temporaries alive (every transform runs in its own `tidy`).
 */
export type Transform = (x: Tensor, rng: AugRng) => Tensor;

/** A transform producing several tensors from one batch (e.g. two augmented views). */
export type MultiTransform = (x: Tensor, rng: AugRng) => Tensor[];

/**
 * Applies transforms in order. Step i draws from `rng.fork(i)`, so inserting or changing one step does not
 * change the random draws of the others, and each step's draws do not depend on how many the others made.
 */
export function compose(transforms: Transform[]): Transform {
  const ts = transforms.slice();
  return (x, rng) =>
    tidy(() => {
      let y = x;
      for (let i = 0; i < ts.length; i++) y = ts[i](y, rng.fork(i));
      return y === x ? identityCopy(x) : y;
    });
}

/**
 * Two independently augmented views of the same batch (contrastive pre-training, MoCo / SimCLR): view v
 * draws from `rng.fork(v)`. Returns [query view, key view].
 */
export function twoViews(pipeline: Transform): MultiTransform {
  return nViews(pipeline, 2);
}

/** `n` independently augmented views of one batch. */
export function nViews(pipeline: Transform, n: number): MultiTransform {
  return (x, rng) => {
    const out: Tensor[] = [];
    for (let v = 0; v < n; v++) out.push(tidy(() => pipeline(x, rng.fork(1000 + v))));
    return out;
  };
}

/** Runs `t` on each image with probability p (per image); the others pass through unchanged. */
export function randomApply(t: Transform, p: number): Transform {
  checkProb('randomApply', p);
  return (x, rng) =>
    tidy(() => {
      const n = x.shape[0];
      const r = rng.fork(0);
      const pick: number[] = [];
      for (let i = 0; i < n; i++) if (r.bernoulli(p)) pick.push(i);
      return applyToSubset(x, pick, (sub) => t(sub, rng.fork(1)));
    });
}

// ------------------------------------------------------------------ helpers

/** An int64 tensor from small JS integer data (parameters and index tables, |v| < 2^31). */
export function longTensor(data: ArrayLike<number>, shape?: number[]): Tensor {
  return tidy(() =>
    toDtype(
      tensor(data instanceof Int32Array ? data : Int32Array.from(data), shape ?? [data.length], 'int32'),
      'int64',
    ),
  );
}

/** A float32 tensor from small JS data. */
export function floatTensor(data: ArrayLike<number>, shape?: number[]): Tensor {
  return tensor(Float32Array.from(data), shape ?? [data.length], 'float32');
}

/** A bool tensor [n,1,1,1] from per-image flags (broadcasts over C,H,W). */
export function imageMask(flags: ArrayLike<boolean | number>): Tensor {
  const b = new Uint8Array(flags.length);
  for (let i = 0; i < flags.length; i++) b[i] = flags[i] ? 1 : 0;
  return tensor(b, [flags.length, 1, 1, 1], 'bool');
}

/**
 * Applies `fn` to the images `pick` (ascending indices) and writes the results back into a copy of x; when
 * all images are picked, `fn(x)` directly, when none, a copy of x.
 */
export function applyToSubset(x: Tensor, pick: ArrayLike<number>, fn: (sub: Tensor) => Tensor): Tensor {
  return tidy(() => {
    const n = x.shape[0];
    if (pick.length === n) return fn(x);
    if (pick.length === 0) return identityCopy(x);
    const idx = longTensor(pick);
    const sub = indexSelect(x, 0, idx);
    return indexPut(x, [idx], fn(sub));
  });
}

/** A fresh tensor equal to x (transforms never return their input, so callers may dispose freely). */
export function identityCopy(x: Tensor): Tensor {
  return clone(x);
}

export function check4d(name: string, x: Tensor): [number, number, number, number] {
  const s = x.shape;
  if (s.length !== 4) throw new Error(`${name}: expected a 4-d NCHW batch, got shape [${s}]`);
  return s as [number, number, number, number];
}

export function checkFloat(name: string, x: Tensor): void {
  const d = x.dtype;
  if (d !== 'float32' && d !== 'float64' && d !== 'float16' && d !== 'bfloat16') {
    throw new Error(`${name}: expects a floating-point batch in [0,1] (apply toFloat() first), got ${d}`);
  }
}

export function checkProb(name: string, p: number): void {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`${name}: probability must be in [0,1], got ${p}`);
}

/** [lo, hi] from a number v (→ [max(0, c - v), c + v]) or a pair, like torchvision's _check_input. */
export function factorRange(
  name: string,
  v: number | [number, number],
  center = 1,
  clampZero = true,
): [number, number] {
  if (typeof v === 'number') {
    if (v < 0) throw new RangeError(`${name}: must be non-negative, got ${v}`);
    return [clampZero ? Math.max(0, center - v) : center - v, center + v];
  }
  if (!(v[0] <= v[1])) throw new RangeError(`${name}: range [${v}] must have lo <= hi`);
  return [v[0], v[1]];
}
