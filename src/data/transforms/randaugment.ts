// FixMatch's strong augmentation, "RandAugmentMC" (Sohn et al. 2020, FixMatch, §2.3 and the appendix's list
// of RandAugment transformations), as batched tensor ops. It mirrors kekmodel/FixMatch-pytorch dataset/randaugment.py:
// `fixmatch_augment_pool()` (14 ops with (max_v, bias)), `_float_parameter` / `_int_parameter`
// (v · max_v / PARAMETER_MAX, PARAMETER_MAX = 10), `RandAugmentMC.__call__` (n ops drawn with replacement, each
// applied with probability 0.5 at a random magnitude) and `CutoutAbs(img, 16)`.
//
// Every op works on float NCHW batches in [0,1] and reproduces the PIL call the reference makes on uint8
// images (PIL.ImageOps / ImageEnhance / Image.transform); see fixtures/transforms/gen_randaugment.py for the
// goldens. Point ops whose PIL version acts on 8-bit levels (posterize, equalize) quantize to round(255·x).
//
// Differences from kekmodel, on purpose (see randAugment's doc): the magnitude is drawn from 1..magnitude
// inclusive (kekmodel's np.random.randint(1, m) stops at m − 1), geometric ops fill with `fill` (0.5 gray;
// kekmodel leaves PIL's default black), and the cutout square is painted `fill` (kekmodel: (127,127,127)) with
// exactly the requested side (PIL's inclusive rectangle makes kekmodel's 16-px patch 17 px).
import {
  Tensor,
  tidy,
  tensor,
  add,
  sub,
  mul,
  div,
  floor,
  round,
  clamp,
  where,
  ge,
  lt,
  eq,
  logicalAnd,
  amax,
  amin,
  arange,
  reshape,
  expand,
  gather,
  unsqueeze,
  unbind,
  toDtype,
  bincount,
  cumsum,
  conv2d,
  constantPadNd,
  indexSelect,
  cat,
  rsub,
  reciprocal,
} from '../../engine';
import { AugRng } from './rng';
import { Transform, floatTensor, longTensor, check4d, checkFloat, checkProb, identityCopy } from './core';
import { adjustBrightness, adjustContrast, adjustSaturation } from './color';
import { Box } from './geometric';

/** An 8-bit level on the [0,1] scale. */
const toUnit = (level: number): number => level / 255;

/** A per-image column [n,1,1,1] in x's dtype (built in float64, so t/255 rounds once to x's precision). */
function col(x: Tensor, v: ArrayLike<number>): Tensor {
  return toDtype(tensor(Float64Array.from(v), [v.length, 1, 1, 1], 'float64'), x.dtype);
}

function checkCount(name: string, x: Tensor, v: ArrayLike<number>): void {
  if (v.length !== x.shape[0]) throw new Error(`${name}: need ${x.shape[0]} per-image parameters, got ${v.length}`);
}

/** 8-bit level of each pixel, round(255·x) clamped to 0..255, as int64. */
function levels(x: Tensor): Tensor {
  return tidy(() => toDtype(clamp(round(mul(x, 255)), { min: 0, max: 255 }), 'int64'));
}

// ------------------------------------------------------------------ point ops

/**
 * AutoContrast per image and channel: (x − min) / (max − min), a constant channel unchanged — torchvision's
 * tensor `autocontrast` (F_t.autocontrast, float bound 1). PIL.ImageOps.autocontrast does the same on 8-bit
 * levels but truncates int(i·scale + offset), so it sits up to 1/255 below this.
 */
export function autoContrast(x: Tensor): Tensor {
  return tidy(() => {
    check4d('autoContrast', x);
    checkFloat('autoContrast', x);
    const lo = amin(x, { dim: [2, 3], keepdim: true });
    const hi = amax(x, { dim: [2, 3], keepdim: true });
    const flat = eq(hi, lo);
    const scale = where(flat, 1, reciprocal(sub(hi, lo)));
    return clamp(mul(sub(x, where(flat, 0, lo)), scale), { min: 0, max: 1 });
  });
}

/**
 * PIL.ImageOps.posterize(img, bits) per image: keeps the top bits[n] of each 8-bit level
 * (level & ~(2^(8−bits) − 1)), bits in 1..8. Input is quantized to round(255·x).
 */
export function posterize(x: Tensor, bits: ArrayLike<number>): Tensor {
  check4d('posterize', x);
  checkFloat('posterize', x);
  checkCount('posterize', x, bits);
  const q = Array.from(bits, (b) => {
    if (!(Number.isInteger(b) && b >= 1 && b <= 8)) throw new RangeError(`posterize: bits must be 1..8, got ${b}`);
    return 2 ** (8 - b);
  });
  return tidy(() => {
    const step = col(x, q);
    return div(mul(floor(div(round(mul(x, 255)), step)), step), 255);
  });
}

/**
 * Solarize per image: pixels ≥ thresholds[n] become 1 − x (PIL.ImageOps.solarize / torchvision F.solarize).
 * Thresholds are on the [0,1] scale; PIL's 8-bit threshold t is t/255 (t = 256 inverts nothing).
 */
export function solarize(x: Tensor, thresholds: ArrayLike<number>): Tensor {
  check4d('solarize', x);
  checkFloat('solarize', x);
  checkCount('solarize', x, thresholds);
  return tidy(() => where(ge(x, col(x, thresholds)), rsub(x, 1), x));
}

/**
 * PIL.ImageOps.equalize per image and channel, exactly on 8-bit levels q = round(255·x): with h the
 * 256-bin histogram and step = ⌊(Σh − h[last non-empty bin]) / 255⌋, level i maps to
 * ⌊(Σ_{j<i} h[j] + ⌊step/2⌋) / step⌋ (clamped to 255); a channel with step = 0 (one level, or nearly so) is
 * left as it is. Same algorithm as torchvision's tensor `equalize` (F_t._scale_channel). All channels of all
 * images are histogrammed by one bincount over offset levels.
 */
export function equalize(x: Tensor): Tensor {
  return tidy(() => {
    const [n, c, h, w] = check4d('equalize', x);
    checkFloat('equalize', x);
    const m = n * c;
    const q = reshape(levels(x), [m, h * w]); // [N·C, HW] levels 0..255
    const offset = mul(arange(0, m, { dtype: 'int64' }), 256);
    const hist = toDtype(
      reshape(bincount(reshape(add(q, unsqueeze(offset, 1)), [-1]), { minlength: m * 256 }), [m, 256]),
      'float64',
    ); // [N·C, 256] pixel counts
    const lastCount = gather(hist, 1, amax(q, { dim: 1, keepdim: true })); // [N·C, 1]
    const step = floor(div(rsub(lastCount, h * w), 255)); // [N·C, 1]
    const safeStep = where(eq(step, 0), 1, step);
    const before = sub(cumsum(hist, 1), hist); // Σ_{j<i} h[j]
    const lut = clamp(floor(div(add(before, floor(div(step, 2))), safeStep)), { max: 255 });
    const eqd = reshape(div(toDtype(gather(lut, 1, q), x.dtype), 255), [n, c, h, w]);
    return where(reshape(eq(step, 0), [n, c, 1, 1]), x, eqd);
  });
}

/**
 * PIL.ImageEnhance.Sharpness per image: blend of x with its SMOOTH-filtered copy (3×3 kernel
 * [[1,1,1],[1,5,1],[1,1,1]]/13, border pixels kept), clamp(f·x + (1 − f)·smooth, 0, 1) — torchvision's
 * tensor `adjust_sharpness`. Images of side ≤ 2 are returned unchanged, as in torchvision.
 */
export function adjustSharpness(x: Tensor, factors: ArrayLike<number>): Tensor {
  const [, c, h, w] = check4d('adjustSharpness', x);
  checkFloat('adjustSharpness', x);
  checkCount('adjustSharpness', x, factors);
  return tidy(() => {
    if (h <= 2 || w <= 2) return identityCopy(x);
    const k = new Float32Array(c * 9).fill(1 / 13);
    for (let ch = 0; ch < c; ch++) k[ch * 9 + 4] = 5 / 13;
    const inner = conv2d(x, toDtype(floatTensor(k, [c, 1, 3, 3]), x.dtype), { groups: c }); // [N,C,H−2,W−2]
    const interior = constantPadNd(
      tensor(new Uint8Array((h - 2) * (w - 2)).fill(1), [1, 1, h - 2, w - 2], 'bool'),
      [1, 1, 1, 1],
    );
    const smooth = where(interior, constantPadNd(inner, [1, 1, 1, 1]), x);
    const f = col(x, factors);
    return clamp(add(mul(x, f), mul(smooth, rsub(f, 1))), { min: 0, max: 1 });
  });
}

// ------------------------------------------------------------------ geometric ops (PIL AFFINE, nearest)

/**
 * PIL `Image.transform(size, AFFINE, (a, b, c, d, e, f), NEAREST, fillcolor)` per image: output pixel
 * (u, v) takes input pixel (⌊a(u+½) + b(v+½) + c⌋, ⌊d(u+½) + e(v+½) + f⌋), and `fill` where that falls outside
 * the image. `coeffs` holds the 6 numbers per image. Reproduces PIL's arithmetic (libImaging/Geometry.c,
 * ImagingTransformAffine), so ties land on the same pixel: with b = d = 0 (translations) the continuous
 * coordinates directly (ImagingScaleAffine); otherwise, for images under 32768 px, PIL's 16.16 fixed point
 * (affine_fixed: FIX(v) = ⌊65536·v + ½⌋, input = (FIX(c + a/2 + b/2) + u·FIX(a) + v·FIX(b)) >> 16). All images
 * are resampled by one integer gather over the batch.
 */
export function affineNearest(x: Tensor, coeffs: ArrayLike<number>, fill = 0.5): Tensor {
  const [n, c, h, w] = check4d('affineNearest', x);
  if (coeffs.length !== 6 * n) throw new Error(`affineNearest: need ${6 * n} coefficients, got ${coeffs.length}`);
  // Per image: input column = ⌊(p2 + p0·u + p1·v) / s⌋, input row = ⌊(p5 + p3·u + p4·v) / s⌋ (u, v integers).
  const prm = new Float64Array(7 * n);
  const fix = (v: number): number => Math.floor(v * 65536 + 0.5);
  for (let i = 0; i < n; i++) {
    const [a, b, cc, d, e, f] = Array.from({ length: 6 }, (_, k) => coeffs[6 * i + k]);
    const small = (px: number, py: number): boolean =>
      Math.abs(px * a + py * b + cc) < 32768 && Math.abs(px * d + py * e + f) < 32768;
    if (b !== 0 || d !== 0) {
      if (small(0, 0) && small(w, h)) {
        prm.set(
          [fix(a), fix(b), fix(cc + a * 0.5 + b * 0.5), fix(d), fix(e), fix(f + d * 0.5 + e * 0.5), 65536],
          7 * i,
        );
        continue;
      }
    }
    prm.set([a, b, cc + a * 0.5 + b * 0.5, d, e, f + d * 0.5 + e * 0.5, 1], 7 * i);
  }
  return tidy(() => {
    const [p0, p1, p2, p3, p4, p5, s] = unbind(tensor(prm, [n, 7, 1, 1], 'float64'), { dim: 1 }); // each [n,1,1]
    const us = reshape(arange(0, w, { dtype: 'float64' }), [1, 1, w]);
    const vs = reshape(arange(0, h, { dtype: 'float64' }), [1, h, 1]);
    const ix = floor(div(add(add(mul(p0, us), mul(p1, vs)), p2), s)); // [n,h,w] input column
    const iy = floor(div(add(add(mul(p3, us), mul(p4, vs)), p5), s)); // [n,h,w] input row
    const inside = logicalAnd(logicalAnd(ge(ix, 0), lt(ix, w)), logicalAnd(ge(iy, 0), lt(iy, h)));
    const flatIdx = add(mul(clamp(iy, { min: 0, max: h - 1 }), w), clamp(ix, { min: 0, max: w - 1 }));
    const idx = expand(reshape(toDtype(flatIdx, 'int64'), [n, 1, h * w]), [n, c, h * w]);
    const moved = reshape(gather(reshape(x, [n, c, h * w]), 2, idx), [n, c, h, w]);
    return where(unsqueeze(inside, 1), moved, fill);
  });
}

/** Python's round(v, 15), as PIL's Image.rotate applies to cos/sin (so 90° gives exact zeros). */
function round15(v: number): number {
  return Number(v.toFixed(15));
}

/**
 * PIL `img.rotate(angle, NEAREST, fillcolor)` per image: counter-clockwise by degrees[n] about the image
 * centre (w/2, h/2), same size, nearest neighbour. The affine coefficients are PIL's (Image.rotate).
 */
export function rotateNearest(x: Tensor, degrees: ArrayLike<number>, fill = 0.5): Tensor {
  const [n, , h, w] = check4d('rotateNearest', x);
  checkCount('rotateNearest', x, degrees);
  const co = new Float64Array(6 * n);
  const cx = w / 2;
  const cy = h / 2;
  for (let i = 0; i < n; i++) {
    const deg = ((degrees[i] % 360) + 360) % 360; // Python's angle % 360.0
    const t = -(deg * (Math.PI / 180)); // -math.radians(angle)
    const [a, b, d, e] = [round15(Math.cos(t)), round15(Math.sin(t)), round15(-Math.sin(t)), round15(Math.cos(t))];
    co.set([a, b, a * -cx + b * -cy + cx, d, e, d * -cx + e * -cy + cy], 6 * i);
  }
  return affineNearest(x, co, fill);
}

/** kekmodel ShearX: PIL AFFINE (1, v, 0, 0, 1, 0) — a shear about the top-left corner, not the centre. */
export function shearX(x: Tensor, shear: ArrayLike<number>, fill = 0.5): Tensor {
  checkCount('shearX', x, shear);
  const coeffs = Array.from(shear, (v) => [1, v, 0, 0, 1, 0]).flat();
  return affineNearest(x, coeffs, fill);
}

/** kekmodel ShearY: PIL AFFINE (1, 0, 0, v, 1, 0). */
export function shearY(x: Tensor, shear: ArrayLike<number>, fill = 0.5): Tensor {
  checkCount('shearY', x, shear);
  const coeffs = Array.from(shear, (v) => [1, 0, 0, v, 1, 0]).flat();
  return affineNearest(x, coeffs, fill);
}

/** kekmodel TranslateX: PIL AFFINE (1, 0, t, 0, 1, 0), i.e. out[:, u] = in[:, u + t] (whole pixels). */
export function translateX(x: Tensor, pixels: ArrayLike<number>, fill = 0.5): Tensor {
  checkCount('translateX', x, pixels);
  const coeffs = Array.from(pixels, (v) => [1, 0, v, 0, 1, 0]).flat();
  return affineNearest(x, coeffs, fill);
}

/** kekmodel TranslateY: PIL AFFINE (1, 0, 0, 0, 1, t), i.e. out[v] = in[v + t]. */
export function translateY(x: Tensor, pixels: ArrayLike<number>, fill = 0.5): Tensor {
  checkCount('translateY', x, pixels);
  const coeffs = Array.from(pixels, (v) => [1, 0, 0, 0, 1, v]).flat();
  return affineNearest(x, coeffs, fill);
}

// ------------------------------------------------------------------ cutout

/** Paints boxes[n] (rows [top, top+height), columns [left, left+width)) of image n with `fill`. */
export function cutoutBoxes(x: Tensor, boxes: Box[], fill = 0.5): Tensor {
  const [n, , h, w] = check4d('cutoutBoxes', x);
  if (boxes.length !== n) throw new Error(`cutoutBoxes: need ${n} boxes, got ${boxes.length}`);
  return tidy(() => {
    const perImage = (v: number[]): Tensor => longTensor(v, [n, 1, 1, 1]);
    const top = perImage(boxes.map((b) => b.top));
    const bottom = perImage(boxes.map((b) => b.top + b.height));
    const left = perImage(boxes.map((b) => b.left));
    const right = perImage(boxes.map((b) => b.left + b.width));
    const rows = reshape(arange(0, h, { dtype: 'int64' }), [1, 1, h, 1]);
    const cols = reshape(arange(0, w, { dtype: 'int64' }), [1, 1, 1, w]);
    const inRows = logicalAnd(ge(rows, top), lt(rows, bottom));
    const inCols = logicalAnd(ge(cols, left), lt(cols, right));
    return where(logicalAnd(inRows, inCols), fill, x);
  });
}

/**
 * kekmodel CutoutAbs(img, side): centre (x0, y0) ~ U[0, w) × U[0, h); the box starts at
 * ⌊max(0, centre − side/2)⌋ and ends at min(size, start + side) (clipped at the far edges).
 */
export function drawCutoutBox(rng: AugRng, h: number, w: number, side: number): Box {
  const cxr = rng.uniform(0, w);
  const cyr = rng.uniform(0, h);
  const left = Math.floor(Math.max(0, cxr - side / 2));
  const top = Math.floor(Math.max(0, cyr - side / 2));
  return { top, left, height: Math.min(h, top + side) - top, width: Math.min(w, left + side) - left };
}

// ------------------------------------------------------------------ the FixMatch op pool

/** kekmodel `fixmatch_augment_pool()`, in its order. */
export const RAND_AUGMENT_OPS = [
  'AutoContrast',
  'Brightness',
  'Color',
  'Contrast',
  'Equalize',
  'Identity',
  'Posterize',
  'Rotate',
  'Sharpness',
  'ShearX',
  'ShearY',
  'Solarize',
  'TranslateX',
  'TranslateY',
] as const;
export type RandAugmentOp = (typeof RAND_AUGMENT_OPS)[number];

/** (max_v, bias) of each op in kekmodel's fixmatch_augment_pool(); null for the parameterless ops. */
const POOL: Record<RandAugmentOp, [number, number] | null> = {
  AutoContrast: null,
  Brightness: [0.9, 0.05],
  Color: [0.9, 0.05],
  Contrast: [0.9, 0.05],
  Equalize: null,
  Identity: null,
  Posterize: [4, 4],
  Rotate: [30, 0],
  Sharpness: [0.9, 0.05],
  ShearX: [0.3, 0],
  ShearY: [0.3, 0],
  Solarize: [256, 0],
  TranslateX: [0.3, 0],
  TranslateY: [0.3, 0],
};
const PARAMETER_MAX = 10;
const SIGNED = new Set<RandAugmentOp>(['Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY']);

/**
 * The op's parameter at magnitude v (1..10) and sign ±1, as kekmodel computes it
 * (_float_parameter = v·max_v/10 + bias, _int_parameter = int(v·max_v/10) + bias, int() truncating):
 *   Brightness, Color, Contrast, Sharpness: enhance factor 0.9·v/10 + 0.05 (0.14 … 0.95)
 *   Posterize: bits int(4v/10) + 4 (4 … 8);   Rotate: sign·int(30v/10) degrees (3 … 30)
 *   ShearX/Y: sign·0.3v/10 (0.03 … 0.3);      Solarize: 8-bit threshold 256 − int(256v/10) (231 … 0)
 *   TranslateX/Y: int(sign·0.3v/10 · size) whole pixels (size = width for X, height for Y)
 * AutoContrast, Equalize, Identity take none (0).
 */
export function randAugmentParameter(op: RandAugmentOp, v: number, sign = 1, size = 32): number {
  const mv = POOL[op];
  if (!mv) return 0;
  const [maxV, bias] = mv;
  const s = SIGNED.has(op) ? sign : 1;
  switch (op) {
    case 'Posterize':
    case 'Rotate':
      return s * (Math.trunc((v * maxV) / PARAMETER_MAX) + bias);
    case 'Solarize':
      return 256 - (Math.trunc((v * maxV) / PARAMETER_MAX) + bias);
    case 'TranslateX':
    case 'TranslateY':
      return Math.trunc(((s * v * maxV) / PARAMETER_MAX + bias) * size);
    default:
      return (s * v * maxV) / PARAMETER_MAX + bias;
  }
}

/**
 * Applies one pool op to every image of x, image n at magnitude magnitudes[n] and sign signs[n] (±1; ignored by
 * unsigned ops), with randAugmentParameter's mapping. Geometric ops fill uncovered pixels with `fill`.
 */
export function applyRandAugmentOp(
  x: Tensor,
  op: RandAugmentOp,
  magnitudes: ArrayLike<number>,
  signs?: ArrayLike<number>,
  fill = 0.5,
): Tensor {
  const [n, , h, w] = check4d('applyRandAugmentOp', x);
  checkCount('applyRandAugmentOp', x, magnitudes);
  const size = op === 'TranslateY' ? h : w;
  const prm = Array.from({ length: n }, (_, i) => randAugmentParameter(op, magnitudes[i], signs ? signs[i] : 1, size));
  switch (op) {
    case 'AutoContrast':
      return autoContrast(x);
    case 'Brightness':
      return adjustBrightness(x, prm);
    case 'Color':
      return adjustSaturation(x, prm); // PIL ImageEnhance.Color = blend with the L image; identity on 1 channel
    case 'Contrast':
      return adjustContrast(x, prm);
    case 'Equalize':
      return equalize(x);
    case 'Identity':
      return identityCopy(x);
    case 'Posterize':
      return posterize(x, prm);
    case 'Rotate':
      return rotateNearest(x, prm, fill);
    case 'Sharpness':
      return adjustSharpness(x, prm);
    case 'ShearX':
      return shearX(x, prm, fill);
    case 'ShearY':
      return shearY(x, prm, fill);
    case 'Solarize':
      return solarize(x, prm.map(toUnit));
    case 'TranslateX':
      return translateX(x, prm, fill);
    case 'TranslateY':
      return translateY(x, prm, fill);
  }
}

export interface RandAugmentOptions {
  /** Ops per image, drawn with replacement from RAND_AUGMENT_OPS (default 2). */
  n?: number;
  /** Largest magnitude, an integer 1..10; each op draws v uniformly from 1..magnitude (default 10). */
  magnitude?: number;
  /** Probability that each drawn op is applied (default 0.5). */
  p?: number;
  /** Cutout square side as a fraction of min(H, W) (default 0.5: 16 px of 32); 0 disables cutout. */
  cutout?: number;
  /** Value for the cutout square and for pixels geometric ops uncover (default 0.5, mid gray). */
  fill?: number;
}

/**
 * FixMatch's strong augmentation (RandAugmentMC, then Cutout), independently per image. For each of n steps
 * an image draws an op uniformly from the 14-op pool, a magnitude v ∈ {1..magnitude}, an apply coin (p) and a
 * sign coin; then a cutout square of side ⌊cutout·min(H,W)⌋ at a uniform centre is painted `fill`.
 * Images that drew the same op at a step run it together on their sub-batch (≤ 14 groups per step).
 *
 * Draws: step s uses rng.fork(0, s) (per image: op, magnitude, apply, sign), cutout rng.fork(1).
 * kekmodel draws v with np.random.randint(1, m), i.e. 1..m−1: its RandAugmentMC(2, 10) is magnitude 9 here.
 * Float NCHW input in [0,1], 1 or 3 channels, any H×W; the output has x's shape and dtype.
 */
export function randAugment(opts: RandAugmentOptions = {}): Transform {
  const nOps = opts.n ?? 2;
  const maxM = opts.magnitude ?? 10;
  const p = opts.p ?? 0.5;
  const cut = opts.cutout ?? 0.5;
  const fill = opts.fill ?? 0.5;
  if (!(Number.isInteger(nOps) && nOps >= 0))
    throw new RangeError(`randAugment: n must be an integer >= 0, got ${nOps}`);
  if (!(Number.isInteger(maxM) && maxM >= 1 && maxM <= PARAMETER_MAX))
    throw new RangeError(`randAugment: magnitude must be an integer 1..${PARAMETER_MAX}, got ${maxM}`);
  checkProb('randAugment p', p);
  if (!(cut >= 0 && cut <= 1)) throw new RangeError(`randAugment: cutout must be in [0,1], got ${cut}`);
  return (x, rng) =>
    tidy(() => {
      const [b, c, h, w] = check4d('randAugment', x);
      checkFloat('randAugment', x);
      if (c !== 1 && c !== 3) throw new Error(`randAugment: expected 1 or 3 channels, got ${c}`);
      let y = x;
      for (let s = 0; s < nOps; s++) {
        const r = rng.fork(0, s);
        const groups = new Map<RandAugmentOp, { members: number[]; v: number[]; sign: number[] }>();
        const untouched: number[] = [];
        for (let i = 0; i < b; i++) {
          const op = RAND_AUGMENT_OPS[r.int(0, RAND_AUGMENT_OPS.length)];
          const v = r.int(1, maxM + 1);
          const on = r.bernoulli(p);
          const sign = r.bernoulli(0.5) ? -1 : 1;
          if (!on || op === 'Identity' || (op === 'Color' && c === 1)) {
            untouched.push(i);
            continue;
          }
          let g = groups.get(op);
          if (!g) groups.set(op, (g = { members: [], v: [], sign: [] }));
          g.members.push(i);
          g.v.push(v);
          g.sign.push(sign);
        }
        if (groups.size === 0) continue;
        const order: number[] = [];
        const outs: Tensor[] = [];
        const cur = y;
        const subset = (idx: number[]): Tensor => (idx.length === b ? cur : indexSelect(cur, 0, longTensor(idx)));
        for (const [op, g] of groups) {
          outs.push(applyRandAugmentOp(subset(g.members), op, g.v, g.sign, fill));
          order.push(...g.members);
        }
        if (untouched.length > 0) {
          outs.push(subset(untouched));
          order.push(...untouched);
        }
        if (outs.length === 1) {
          y = outs[0];
          continue;
        }
        // Scatter the groups back to their images' positions: image order[k] is row k of the concatenation.
        const pos = new Int32Array(b);
        order.forEach((img, k) => (pos[img] = k));
        y = indexSelect(cat(outs), 0, longTensor(pos));
      }
      const side = Math.floor(cut * Math.min(h, w));
      if (side > 0) {
        const r = rng.fork(1);
        const boxes: Box[] = [];
        for (let i = 0; i < b; i++) boxes.push(drawCutoutBox(r, h, w, side));
        y = cutoutBoxes(y, boxes, fill);
      }
      return y === x ? identityCopy(x) : y;
    });
}
