// Pixel-value transforms on NCHW batches: uint8 → float, normalize, ColorJitter (brightness, contrast,
// saturation, hue via RGB↔HSV tensor math), grayscale and Gaussian blur (grouped depthwise conv with one
// kernel per image). Formulas follow torchvision's tensor backend (transforms/functional_tensor.py).
import {
  Tensor,
  tidy,
  permute,
  contiguous,
  toDtype,
  div,
  sub,
  mul,
  add,
  clamp,
  mean,
  amax,
  amin,
  eq,
  ne,
  logicalAnd,
  where,
  onesLike,
  remainder,
  floor,
  stack,
  gather,
  unsqueeze,
  reshape,
  unbind,
  cat,
  indexSelect,
  expand,
  pad,
  conv2d,
  narrow,
  mul_,
  add_,
  clamp_,
  copy_,
} from '../../engine';
import {
  Transform,
  floatTensor,
  longTensor,
  imageMask,
  check4d,
  checkFloat,
  checkProb,
  factorRange,
  applyToSubset,
  identityCopy,
} from './core';

// ------------------------------------------------------------------ conversion / normalization

/**
 * uint8 → float32 in [0,1] (torchvision ToTensor): x.float() / 255. `layout: 'nhwc'` (default, the loader's
 * batches) also transposes to NCHW; 'nchw' converts in place of layout.
 */
export function toFloat(opts: { layout?: 'nhwc' | 'nchw' } = {}): Transform {
  const layout = opts.layout ?? 'nhwc';
  return (x) =>
    tidy(() => {
      check4d('toFloat', x);
      const nchw = layout === 'nhwc' ? contiguous(permute(x, [0, 3, 1, 2])) : x;
      return div(toDtype(nchw, 'float32'), 255);
    });
}

/** Per-channel (x − mean[c]) / std[c] (torchvision Normalize). */
export function normalize(meanV: ArrayLike<number>, stdV: ArrayLike<number>): Transform {
  if (meanV.length !== stdV.length) throw new Error('normalize: mean and std differ in length');
  for (let i = 0; i < stdV.length; i++)
    if (!(stdV[i] > 0)) throw new RangeError(`normalize: std must be > 0, got ${stdV[i]}`);
  const m = Array.from(meanV);
  const s = Array.from(stdV);
  return (x) =>
    tidy(() => {
      const [, c] = check4d('normalize', x);
      checkFloat('normalize', x);
      if (c !== m.length) throw new Error(`normalize: ${m.length} channel statistics for ${c} channels`);
      return div(sub(x, floatTensor(m, [1, c, 1, 1])), floatTensor(s, [1, c, 1, 1]));
    });
}

// ------------------------------------------------------------------ grayscale

/** ITU-R 601-2 luma (torchvision rgb_to_grayscale): [N,3,H,W] → [N,1,H,W]; 1-channel input is copied. */
export function rgbToGray(x: Tensor): Tensor {
  return tidy(() => {
    const [, c] = check4d('rgbToGray', x);
    if (c === 1) return identityCopy(x);
    if (c !== 3) throw new Error(`rgbToGray: expected 1 or 3 channels, got ${c}`);
    const [r, g, b] = unbind(x, { dim: 1 });
    return unsqueeze(add(add(mul(r, 0.2989), mul(g, 0.587)), mul(b, 0.114)), 1);
  });
}

/** torchvision RandomGrayscale(p): flagged images become gray, replicated to the input's channel count. */
export function grayscale(p = 0.1): Transform {
  checkProb('grayscale', p);
  return (x, rng) =>
    tidy(() => {
      const [n, c, h, w] = check4d('grayscale', x);
      checkFloat('grayscale', x);
      const flags = new Uint8Array(n);
      for (let i = 0; i < n; i++) flags[i] = rng.bernoulli(p) ? 1 : 0;
      if (c === 1) return identityCopy(x);
      return where(imageMask(flags), expand(rgbToGray(x), [n, c, h, w]), x);
    });
}

// ------------------------------------------------------------------ colour adjustments (per-image factors)

function col(f: ArrayLike<number>): Tensor {
  return floatTensor(f, [f.length, 1, 1, 1]);
}

/** clamp(f·x, 0, 1) per image (torchvision adjust_brightness). */
export function adjustBrightness(x: Tensor, f: ArrayLike<number>): Tensor {
  return tidy(() => clamp(mul(x, col(f)), { min: 0, max: 1 }));
}

/** clamp(f·x + (1−f)·mean(gray(x)), 0, 1) per image (torchvision adjust_contrast). */
export function adjustContrast(x: Tensor, f: ArrayLike<number>): Tensor {
  return tidy(() => {
    const m = mean(rgbToGray(x), [1, 2, 3], { keepdim: true });
    const ft = col(f);
    return clamp(add(mul(x, ft), mul(m, sub(onesLike(ft), ft))), { min: 0, max: 1 });
  });
}

/** clamp(f·x + (1−f)·gray(x), 0, 1) per image (torchvision adjust_saturation); no-op on 1-channel data. */
export function adjustSaturation(x: Tensor, f: ArrayLike<number>): Tensor {
  return tidy(() => {
    if (x.shape[1] === 1) return identityCopy(x);
    const ft = col(f);
    return clamp(add(mul(x, ft), mul(rgbToGray(x), sub(onesLike(ft), ft))), { min: 0, max: 1 });
  });
}

/** RGB → HSV (torchvision _rgb2hsv), [N,3,H,W] in [0,1] → [N,3,H,W] with h,s,v in [0,1]. */
export function rgbToHsv(x: Tensor): Tensor {
  return tidy(() => {
    const [r, g, b] = unbind(x, { dim: 1 });
    const maxc = amax(x, { dim: 1 });
    const minc = amin(x, { dim: 1 });
    const eqc = eq(maxc, minc);
    const cr = sub(maxc, minc);
    const ones = onesLike(maxc);
    const s = div(cr, where(eqc, ones, maxc));
    const crd = where(eqc, ones, cr);
    const rc = div(sub(maxc, r), crd);
    const gc = div(sub(maxc, g), crd);
    const bc = div(sub(maxc, b), crd);
    const isR = eq(maxc, r);
    const notR = ne(maxc, r);
    const hr = mul(toDtype(isR, x.dtype), sub(bc, gc));
    const hg = mul(toDtype(logicalAnd(eq(maxc, g), notR), x.dtype), sub(add(rc, 2), bc));
    const hb = mul(toDtype(logicalAnd(ne(maxc, g), notR), x.dtype), sub(add(gc, 4), rc));
    const h = remainder(add(div(add(add(hr, hg), hb), 6), 1), 1);
    return stack([h, s, maxc], { dim: 1 });
  });
}

/** HSV → RGB (torchvision _hsv2rgb). */
export function hsvToRgb(x: Tensor): Tensor {
  return tidy(() => {
    const [h, s, v] = unbind(x, { dim: 1 });
    const h6 = mul(h, 6);
    const fi = floor(h6);
    const f = sub(h6, fi);
    const i = unsqueeze(toDtype(remainder(fi, 6), 'int64'), 1);
    const p = clamp(mul(v, sub(onesLike(s), s)), { min: 0, max: 1 });
    const q = clamp(mul(v, sub(onesLike(s), mul(s, f))), { min: 0, max: 1 });
    const t = clamp(mul(v, sub(onesLike(s), mul(s, sub(onesLike(f), f)))), { min: 0, max: 1 });
    const pick = (a: Tensor[]): Tensor => gather(stack(a, { dim: 1 }), 1, i);
    return cat([pick([v, q, p, p, t, v]), pick([t, v, v, q, p, p]), pick([p, p, t, v, v, q])], { dim: 1 });
  });
}

/** Hue shift by f ∈ [−0.5, 0.5] per image (torchvision adjust_hue); no-op on 1-channel data. */
export function adjustHue(x: Tensor, f: ArrayLike<number>): Tensor {
  return tidy(() => {
    if (x.shape[1] === 1) return identityCopy(x);
    const [h, s, v] = unbind(rgbToHsv(x), { dim: 1 });
    const hs = remainder(add(h, reshape(floatTensor(f), [f.length, 1, 1])), 1);
    return hsvToRgb(stack([hs, s, v], { dim: 1 }));
  });
}

export interface ColorJitterOptions {
  /** Probability that an image is jittered at all (RandomApply around ColorJitter, as in MoCo v2). */
  p?: number;
}

/**
 * torchvision ColorJitter(brightness, contrast, saturation, hue), per image: each image gets its own
 * factors (b ~ U[max(0,1−brightness), 1+brightness], … , hue ~ U[−hue, hue]) and its own random order of
 * the four adjustments (torchvision draws `randperm(4)` per call, i.e. per image). A zero argument disables
 * that adjustment, as in torchvision. With `p` < 1 only a random subset is jittered.
 *
 * Batched without sub-batches of random sizes: the images are sorted once so that those sharing an order lie
 * together (one gather), then at each position of the order the whole batch is updated in place — one multiply
 * by every image's factor (1 where its adjustment there is hue, or it has none), plus per group the blend's other
 * term ((1−f)·mean(gray) for contrast, (1−f)·gray for saturation, from the grayscale of the batch before that
 * position) and a clamp — and one gather puts the images back. These are the same float operations, in the
 * same order, as adjust{Brightness,Contrast,Saturation} on each image, so the result is identical (bit for bit)
 * to running them image by image. Hue, a non-linear HSV round trip, runs on its group's slice and is copied
 * back. Apart from hue's, every large tensor has the batch's size each call, so the caching CPU allocator reuses
 * the same blocks step after step; the former per-group sub-batches of random sizes made it keep a block of
 * every size it had seen, and RSS crept up epoch after epoch (bench/decode.ts rss).
 */
export function colorJitter(
  brightness: number | [number, number] = 0,
  contrast: number | [number, number] = 0,
  saturation: number | [number, number] = 0,
  hue: number | [number, number] = 0,
  opts: ColorJitterOptions = {},
): Transform {
  const ranges: ([number, number] | null)[] = [
    brightness === 0 ? null : factorRange('colorJitter brightness', brightness),
    contrast === 0 ? null : factorRange('colorJitter contrast', contrast),
    saturation === 0 ? null : factorRange('colorJitter saturation', saturation),
    hue === 0 ? null : factorRange('colorJitter hue', hue, 0, false),
  ];
  const hr = ranges[3];
  if (hr && (hr[0] < -0.5 || hr[1] > 0.5))
    throw new RangeError(`colorJitter: hue range [${hr}] must lie in [-0.5, 0.5]`);
  const p = opts.p ?? 1;
  checkProb('colorJitter p', p);
  const [BRIGHTNESS, CONTRAST, SATURATION, HUE] = [0, 1, 2, 3];
  return (x, rng) =>
    tidy(() => {
      const [n, c] = check4d('colorJitter', x);
      checkFloat('colorJitter', x);
      // Per image: apply?, order (active ops only), factors — the draws torchvision makes, in its order.
      type Group = { order: number[]; members: number[]; factors: number[][]; start: number };
      const groups = new Map<string, Group>();
      for (let i = 0; i < n; i++) {
        if (p < 1 && !rng.bernoulli(p)) continue;
        const perm = rng.permutation(4);
        const f = ranges.map((r) => (r ? rng.uniform(r[0], r[1]) : 0));
        const order = Array.from(perm).filter((k) => ranges[k] !== null);
        const key = order.join('');
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { order, members: [], factors: [[], [], [], []], start: 0 }));
        g.members.push(i);
        for (let k = 0; k < 4; k++) g.factors[k].push(f[k]);
      }
      if (groups.size === 0) return identityCopy(x);
      // Sorted layout: each group's images contiguous, the images left alone (p < 1) at the end.
      const gs = [...groups.values()];
      const perm: number[] = [];
      for (const g of gs) {
        g.start = perm.length;
        perm.push(...g.members);
      }
      const jittered = new Uint8Array(n);
      for (const i of perm) jittered[i] = 1;
      for (let i = 0; i < n; i++) if (!jittered[i]) perm.push(i);
      const inOrder = perm.every((img, k) => img === k);
      const y = inOrder ? identityCopy(x) : indexSelect(x, 0, longTensor(perm));
      // A blend needs three channels: saturation and hue leave 1-channel images as they are (torchvision).
      const acts = (k: number | undefined) => k !== undefined && (c === 3 || k === BRIGHTNESS || k === CONTRAST);
      const steps = Math.max(...gs.map((g) => g.order.length));
      for (let j = 0; j < steps; j++) {
        tidy(() => {
          const scale = new Float32Array(n).fill(1);
          let blends = false;
          let gray: Tensor | null = null;
          for (const g of gs) {
            const k = g.order[j];
            if (!acts(k) || k === HUE) continue;
            scale.set(g.factors[k], g.start);
            blends = true;
            if (k !== BRIGHTNESS) gray ??= rgbToGray(y); // of the batch before this position
          }
          // (1−f)·gray for the saturation groups (0 elsewhere), over the whole batch so that its size never varies,
          // computed before y changes: the other term of their blend.
          let satTerm: Tensor | null = null;
          const satW = new Float32Array(n);
          for (const g of gs) {
            if (g.order[j] !== SATURATION || !acts(SATURATION)) continue;
            satW.set(oneMinus(g.factors[SATURATION]), g.start);
            satTerm = gray; // marks that some group blends towards gray here
          }
          if (satTerm) satTerm = mul(satTerm, floatTensor(satW, [n, 1, 1, 1]));
          if (blends) mul_(y, floatTensor(scale, [n, 1, 1, 1]));
          for (const g of gs) {
            const k = g.order[j];
            if (!acts(k)) continue;
            const len = g.members.length;
            const part = narrow(y, 0, g.start, len);
            if (k === HUE) {
              copy_(part, adjustHue(part, g.factors[HUE]));
              continue;
            }
            if (k === CONTRAST) {
              const m = mean(narrow(gray as Tensor, 0, g.start, len), [1, 2, 3], { keepdim: true });
              add_(part, mul(m, floatTensor(oneMinus(g.factors[CONTRAST]), [len, 1, 1, 1])));
            } else if (k === SATURATION) add_(part, narrow(satTerm as Tensor, 0, g.start, len));
            clamp_(part, { min: 0, max: 1 });
          }
        });
      }
      if (inOrder) return y;
      const back = new Int32Array(n);
      perm.forEach((img, k) => (back[img] = k));
      return indexSelect(y, 0, longTensor(back));
    });
}

/**
 * 1 − f for each factor as float32 arithmetic gives it from the float32 factor: the difference of two float32
 * values is exact in float64, so one rounding to float32 is float32's own correctly rounded 1 − f.
 */
function oneMinus(f: number[]): Float32Array {
  return Float32Array.from(f, (v) => 1 - Math.fround(v));
}

// ------------------------------------------------------------------ Gaussian blur

/** A normalized 1-d Gaussian kernel of odd size k (torchvision _get_gaussian_kernel1d). */
export function gaussianKernel1d(k: number, sigma: number): Float64Array {
  const r = (k - 1) / 2;
  const out = new Float64Array(k);
  let s = 0;
  for (let i = 0; i < k; i++) {
    const x = (i - r) / sigma;
    out[i] = Math.exp(-0.5 * x * x);
    s += out[i];
  }
  for (let i = 0; i < k; i++) out[i] /= s;
  return out;
}

/**
 * Blurs image n with a Gaussian of std sigmas[n] (kernel size k, odd; reflect padding), separably: two
 * grouped depthwise convolutions over the batch reshaped to [1, N·C, H, W], one kernel per image.
 */
export function blurWith(x: Tensor, sigmas: ArrayLike<number>, k: number): Tensor {
  const [n, c, h, w] = check4d('blurWith', x);
  checkFloat('blurWith', x);
  if (k % 2 !== 1 || k < 1) throw new RangeError(`blurWith: kernel size must be odd and positive, got ${k}`);
  const r = (k - 1) / 2;
  if (r >= h || r >= w) throw new RangeError(`blurWith: kernel ${k} too large for ${h}x${w} images (reflect padding)`);
  return tidy(() => {
    const wts = new Float32Array(n * c * k);
    for (let i = 0; i < n; i++) {
      const g = gaussianKernel1d(k, sigmas[i]);
      for (let ch = 0; ch < c; ch++) wts.set(g, (i * c + ch) * k);
    }
    const flat = reshape(x, [1, n * c, h, w]);
    const wx = floatTensor(wts, [n * c, 1, 1, k]);
    const wy = floatTensor(wts, [n * c, 1, k, 1]);
    const bx = conv2d(pad(flat, [r, r, 0, 0], { mode: 'reflect' }), toDtype(wx, x.dtype), { groups: n * c });
    const by = conv2d(pad(bx, [0, 0, r, r], { mode: 'reflect' }), toDtype(wy, x.dtype), { groups: n * c });
    return reshape(by, [n, c, h, w]);
  });
}

/**
 * Random Gaussian blur (MoCo v2 / SimCLR): with probability p per image, blur with σ ~ U[sigma].
 * Kernel size: `kernelSize`, else 2·ceil(3·σ_max)+1 (a ±3σ truncated Gaussian), capped to the image.
 */
export function gaussianBlur(opts: { sigma?: [number, number]; p?: number; kernelSize?: number } = {}): Transform {
  const [s0, s1] = opts.sigma ?? [0.1, 2];
  if (!(s0 > 0 && s0 <= s1))
    throw new RangeError(`gaussianBlur: sigma range [${s0}, ${s1}] must be positive, lo <= hi`);
  const p = opts.p ?? 0.5;
  checkProb('gaussianBlur', p);
  return (x, rng) =>
    tidy(() => {
      const [n, , h, w] = check4d('gaussianBlur', x);
      let k = opts.kernelSize ?? 2 * Math.ceil(3 * s1) + 1;
      const maxK = 2 * (Math.min(h, w) - 1) - 1;
      if (k > maxK) k = maxK % 2 === 1 ? maxK : maxK - 1;
      const pick: number[] = [];
      const sig: number[] = [];
      for (let i = 0; i < n; i++) {
        const on = rng.bernoulli(p);
        const s = rng.uniform(s0, s1);
        if (on) {
          pick.push(i);
          sig.push(s);
        }
      }
      return applyToSubset(x, pick, (sub) => blurWith(sub, sig, k));
    });
}
