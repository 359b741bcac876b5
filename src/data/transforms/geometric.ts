// Geometric transforms on NCHW batches: pad-crop, flip, 90° rotations, resize, center crop and
// random-resized crop. Each random transform = a JS parameter draw (a few numbers per image from AugRng)
// + an exported deterministic "apply" function doing the whole batch in a handful of libtorch ops.
import {
  Tensor,
  tidy,
  arange,
  constantPadNd,
  index,
  flip,
  rot90,
  stack,
  cat,
  where,
  narrow,
  upsampleBilinear2d,
  affineGridGenerator,
  gridSampler,
  gather,
  expand,
} from '../../engine';
import { AugRng } from './rng';
import { Transform, longTensor, floatTensor, imageMask, check4d, checkFloat, checkProb, identityCopy } from './core';

// ------------------------------------------------------------------ pad + crop

/**
 * Crops a `size`-sized window at a per-image offset from the batch zero-padded by `padding` on each side:
 * out[n] = pad(x)[n, :, tops[n] : tops[n]+h, lefts[n] : lefts[n]+w]. Offsets are in padded coordinates
 * (0 ≤ top ≤ H + 2·padding − h). Works on any dtype; one pad and two gathers per batch.
 * With `flips`, images with flips[n] set are also mirrored horizontally (fused into the column index).
 */
export function cropAt(
  x: Tensor,
  tops: ArrayLike<number>,
  lefts: ArrayLike<number>,
  size: number | [number, number],
  padding = 0,
  opts: { fill?: number; flips?: ArrayLike<boolean | number> } = {},
): Tensor {
  const [n, c, hIn, wIn] = check4d('cropAt', x);
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  const hp = hIn + 2 * padding;
  const wp = wIn + 2 * padding;
  if (tops.length !== n || lefts.length !== n)
    throw new Error(`cropAt: need ${n} offsets, got ${tops.length}/${lefts.length}`);
  for (let i = 0; i < n; i++) {
    if (tops[i] < 0 || tops[i] + h > hp || lefts[i] < 0 || lefts[i] + w > wp) {
      throw new RangeError(
        `cropAt: window (${tops[i]}, ${lefts[i]}) of ${h}x${w} outside the padded ${hp}x${wp} image ${i}`,
      );
    }
  }
  return tidy(() => {
    const xp = padding > 0 ? constantPadNd(x, [padding, padding, padding, padding], { value: opts.fill ?? 0 }) : x;
    // Row/column index per image: [n,1,h,1] and [n,1,1,w]; batch/channel indices broadcast.
    const rowIdx = new Int32Array(n * h);
    const colIdx = new Int32Array(n * w);
    for (let i = 0; i < n; i++) {
      for (let r = 0; r < h; r++) rowIdx[i * h + r] = tops[i] + r;
      const f = opts.flips !== undefined && opts.flips[i];
      for (let q = 0; q < w; q++) colIdx[i * w + q] = lefts[i] + (f ? w - 1 - q : q);
    }
    // Two gathers with broadcast (stride-0) index views: rows (dim 2), then columns (dim 3). About 3x
    // faster on CPU than one 4-index advanced `index` over the same output.
    const rI = expand(longTensor(rowIdx, [n, 1, h, 1]), [n, c, h, wp]);
    const qI = expand(longTensor(colIdx, [n, 1, 1, w]), [n, c, h, w]);
    return gather(gather(xp, 2, rI), 3, qI);
  });
}

/** Draws torchvision RandomCrop(size, padding) offsets: top ~ U{0..H+2p−h}, left ~ U{0..W+2p−w}. */
export function drawCropOffsets(
  rng: AugRng,
  n: number,
  inSize: [number, number],
  size: [number, number],
  padding: number,
): { tops: Int32Array; lefts: Int32Array } {
  const tops = new Int32Array(n);
  const lefts = new Int32Array(n);
  const maxT = inSize[0] + 2 * padding - size[0];
  const maxL = inSize[1] + 2 * padding - size[1];
  if (maxT < 0 || maxL < 0)
    throw new RangeError(`padCrop: crop ${size} larger than padded image ${inSize} + ${padding}`);
  for (let i = 0; i < n; i++) {
    tops[i] = rng.int(0, maxT + 1);
    lefts[i] = rng.int(0, maxL + 1);
  }
  return { tops, lefts };
}

/**
 * torchvision `RandomCrop(size, padding, fill=0)`: zero-pad by `padding`, crop `size` at an independent
 * uniform offset per image.
 */
export function padCrop(size: number | [number, number] = 32, padding = 4, opts: { fill?: number } = {}): Transform {
  const sz: [number, number] = typeof size === 'number' ? [size, size] : size;
  return (x, rng) => {
    const [n, , h, w] = check4d('padCrop', x);
    const { tops, lefts } = drawCropOffsets(rng, n, [h, w], sz, padding);
    return cropAt(x, tops, lefts, sz, padding, opts);
  };
}

/**
 * RandomCrop(size, padding) followed by RandomHorizontalFlip(p), fused into one gather: the CIFAR/SVHN
 * training geometry in a single index op. Draws the same offsets as `padCrop` (from rng.fork(0)) and the
 * same coins as `randomFlip` (from rng.fork(1)), so compose([padCrop, randomFlip]) gives the identical batch.
 */
export function padCropFlip(
  size: number | [number, number] = 32,
  padding = 4,
  p = 0.5,
  opts: { fill?: number } = {},
): Transform {
  checkProb('padCropFlip', p);
  const sz: [number, number] = typeof size === 'number' ? [size, size] : size;
  return (x, rng) => {
    const [n, , h, w] = check4d('padCropFlip', x);
    const { tops, lefts } = drawCropOffsets(rng.fork(0), n, [h, w], sz, padding);
    const flips = drawCoins(rng.fork(1), n, p);
    return cropAt(x, tops, lefts, sz, padding, { ...opts, flips });
  };
}

// ------------------------------------------------------------------ flips

/** Per-image Bernoulli(p) coins. */
export function drawCoins(rng: AugRng, n: number, p: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.bernoulli(p) ? 1 : 0;
  return out;
}

/** Mirrors (last dim) the images whose flag is set: where(mask, flip(x), x). */
export function flipWhere(x: Tensor, flags: ArrayLike<boolean | number>): Tensor {
  const [n] = check4d('flipWhere', x);
  if (flags.length !== n) throw new Error(`flipWhere: need ${n} flags, got ${flags.length}`);
  return tidy(() => where(imageMask(flags), flip(x, [3]), x));
}

/** torchvision RandomHorizontalFlip(p), independently per image. */
export function randomFlip(p = 0.5): Transform {
  checkProb('randomFlip', p);
  return (x, rng) => {
    const [n] = check4d('randomFlip', x);
    return flipWhere(x, drawCoins(rng, n, p));
  };
}

/** RandomVerticalFlip(p). */
export function randomVerticalFlip(p = 0.5): Transform {
  checkProb('randomVerticalFlip', p);
  return (x, rng) =>
    tidy(() => {
      const [n] = check4d('randomVerticalFlip', x);
      return where(imageMask(drawCoins(rng, n, p)), flip(x, [2]), x);
    });
}

// ------------------------------------------------------------------ 90° rotations

/**
 * Rotates image n by k[n]·90° counter-clockwise (torch.rot90(img, k, dims=[H,W]) per image; square images).
 * Computes the 4 rotations of the batch once and picks per image with one advanced index.
 */
export function rotate90(x: Tensor, k: ArrayLike<number>): Tensor {
  const [n, , h, w] = check4d('rotate90', x);
  if (h !== w) throw new Error(`rotate90: per-image rotations need square images, got ${h}x${w}`);
  if (k.length !== n) throw new Error(`rotate90: need ${n} rotation counts, got ${k.length}`);
  return tidy(() => {
    const ks = Array.from(k, (v) => ((v % 4) + 4) % 4);
    const all = stack([
      x,
      rot90(x, { k: 1, dims: [2, 3] }),
      rot90(x, { k: 2, dims: [2, 3] }),
      rot90(x, { k: 3, dims: [2, 3] }),
    ]);
    return index(all, [longTensor(ks), arange(0, n, { dtype: 'int64' })]);
  });
}

/**
 * The rotation self-supervision task (Gidaris et al. 2018; SSP in Yang & Xu 2020): `mode: 'all'` returns
 * the 4 rotations of every image, x = cat([rot0(X), rot90(X), rot180(X), rot270(X)]) with targets
 * y = [0]*N ++ [1]*N ++ [2]*N ++ [3]*N (int64); `mode: 'random'` rotates each image by a random k and
 * returns y = k.
 */
export function rotationTask(
  x: Tensor,
  opts: { mode?: 'all' | 'random'; rng?: AugRng } = {},
): { x: Tensor; y: Tensor } {
  const [n] = check4d('rotationTask', x);
  const mode = opts.mode ?? 'all';
  return tidy(() => {
    if (mode === 'all') {
      const xs = cat([
        identityCopy(x),
        rot90(x, { k: 1, dims: [2, 3] }),
        rot90(x, { k: 2, dims: [2, 3] }),
        rot90(x, { k: 3, dims: [2, 3] }),
      ]);
      const y = new Float64Array(4 * n);
      for (let r = 0; r < 4; r++) y.fill(r, r * n, (r + 1) * n);
      return { x: xs, y: longTensor(y) };
    }
    if (!opts.rng) throw new Error("rotationTask: mode 'random' needs an rng");
    const k = new Int32Array(n);
    for (let i = 0; i < n; i++) k[i] = opts.rng.int(0, 4);
    return { x: rotate90(x, k), y: longTensor(k) };
  });
}

// ------------------------------------------------------------------ resize / crops

/** Output size for torchvision Resize(size): an int resizes the smaller edge keeping the aspect ratio. */
export function resizeShape(h: number, w: number, size: number | [number, number]): [number, number] {
  if (typeof size !== 'number') return size;
  if (h <= w) return [size, Math.floor((size * w) / h)];
  return [Math.floor((size * h) / w), size];
}

/** torchvision Resize(size) with bilinear interpolation (align_corners=False, no antialias) on float batches. */
export function resize(size: number | [number, number]): Transform {
  return (x) => {
    const [, , h, w] = check4d('resize', x);
    checkFloat('resize', x);
    const [oh, ow] = resizeShape(h, w, size);
    if (oh === h && ow === w) return identityCopy(x);
    return upsampleBilinear2d(x, [oh, ow], false, null);
  };
}

/** torchvision CenterCrop(size): the same central window for every image (an exact slice, any dtype). */
export function centerCrop(size: number | [number, number]): Transform {
  const [th, tw] = typeof size === 'number' ? [size, size] : size;
  return (x) =>
    tidy(() => {
      const [, , h, w] = check4d('centerCrop', x);
      if (th > h || tw > w) throw new RangeError(`centerCrop: ${th}x${tw} larger than the ${h}x${w} images`);
      const top = Math.round((h - th) / 2);
      const left = Math.round((w - tw) / 2);
      return identityCopy(narrow(narrow(x, 2, top, th), 3, left, tw));
    });
}

/** A crop box in input pixels: rows [top, top+height), columns [left, left+width). */
export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

/**
 * Crops each image to its box and resizes it to `size` with bilinear interpolation, in one
 * affine_grid + grid_sample over the batch. Equals torchvision resized_crop (bilinear, align_corners=False,
 * no antialias, edge-clamped): output pixel u samples input x = left + (u + 0.5)·width/W_out − 0.5.
 * With `flips`, flagged images are also mirrored horizontally (negated x scale). Float batches only.
 */
export function resizedCrop(
  x: Tensor,
  boxes: Box[],
  size: number | [number, number],
  opts: { flips?: ArrayLike<boolean | number>; mode?: 'bilinear' | 'nearest' } = {},
): Tensor {
  const [n, c, h, w] = check4d('resizedCrop', x);
  checkFloat('resizedCrop', x);
  if (boxes.length !== n) throw new Error(`resizedCrop: need ${n} boxes, got ${boxes.length}`);
  const [oh, ow] = typeof size === 'number' ? [size, size] : size;
  return tidy(() => {
    const theta = new Float32Array(n * 6);
    for (let i = 0; i < n; i++) {
      const b = boxes[i];
      const sx = (b.width / w) * (opts.flips !== undefined && opts.flips[i] ? -1 : 1);
      theta[i * 6 + 0] = sx;
      theta[i * 6 + 2] = (2 * b.left + b.width) / w - 1;
      theta[i * 6 + 4] = b.height / h;
      theta[i * 6 + 5] = (2 * b.top + b.height) / h - 1;
    }
    const grid = affineGridGenerator(floatTensor(theta, [n, 2, 3]), [n, c, oh, ow], false);
    // grid_sampler: interpolation 0 = bilinear, 1 = nearest; padding 1 = border (edge clamp like resize)
    return gridSampler(x, grid, opts.mode === 'nearest' ? 1 : 0, 1, false);
  });
}

/** torchvision RandomResizedCrop.get_params for one image (10 attempts, then the central fallback). */
export function drawResizedCropBox(
  rng: AugRng,
  h: number,
  w: number,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): Box {
  const area = h * w;
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
      return { top: rng.int(0, h - ch + 1), left: rng.int(0, w - cw + 1), height: ch, width: cw };
    }
  }
  const inRatio = w / h;
  let cw: number;
  let ch: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) {
    cw = w;
    ch = Math.round(cw / Math.min(ratio[0], ratio[1]));
  } else if (inRatio > Math.max(ratio[0], ratio[1])) {
    ch = h;
    cw = Math.round(ch * Math.max(ratio[0], ratio[1]));
  } else {
    cw = w;
    ch = h;
  }
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw };
}

/** torchvision RandomResizedCrop(size, scale, ratio) with bilinear interpolation, per image, float batches. */
export function randomResizedCrop(
  size: number | [number, number],
  opts: { scale?: [number, number]; ratio?: [number, number] } = {},
): Transform {
  const scale = opts.scale ?? [0.08, 1];
  const ratio = opts.ratio ?? [3 / 4, 4 / 3];
  return (x, rng) => {
    const [n, , h, w] = check4d('randomResizedCrop', x);
    const boxes: Box[] = [];
    for (let i = 0; i < n; i++) boxes.push(drawResizedCropBox(rng, h, w, scale, ratio));
    return resizedCrop(x, boxes, size);
  };
}
