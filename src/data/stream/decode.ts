// Image decoding for streamed file data sets: JPEG/PNG (anything libvips reads) → one fixed-size uint8 RGB
// image, with `sharp` (its npm package carries libvips; the work runs on libuv's thread pool, off the JS
// thread). Every image of a data set comes out at the same square size, so a batch is one uint8 NHWC tensor
// and the rest of the pipeline (crop, flip, jitter, normalise) runs as batched tensor ops.
//
// Two geometries (SPEC §1.4):
//   - 'test': torchvision's Resize(R) + CenterCrop(S) on a PIL image, done in sharp. Resize(R) scales the
//     shorter side to R and the longer to int(R·long/short) (torchvision 0.14 `_compute_resized_output_size`
//     truncates); CenterCrop takes top = int(round((h − S)/2)), left likewise (Python's round: halves to even).
//     The resampling kernel is libvips' 'linear' with fast shrink-on-load off: a triangle filter widened by the
//     scale factor when shrinking, like Pillow's antialiased BILINEAR (Pillow ≥ 7, what torchvision's PIL path
//     uses). bench/decode_torch.py measures how close the two are (mean |Δ| per pixel).
//   - 'train': the working image of the batched RandomResizedCrop: shorter side → W, then the central W×W
//     square (W = data.workSize, default round(crop·256/224) = 256 for crop 224). See ./pipelines.ts for how
//     RandomResizedCrop on this square differs from torchvision's per-original-image crop.
// Images are read as torchvision's pil_loader reads them: converted to RGB (grey → 3 equal channels, alpha
// dropped), no EXIF rotation. A truncated or corrupt file is an error (sharp `failOn: 'warning'`, as PIL raises
// on truncated images by default).
import * as fs from 'fs';
import type { Sharp } from 'sharp';

export interface DecodeSpec {
  mode: 'train' | 'test';
  /** Side of the square output image. */
  size: number;
  /** 'test': the shorter side before the centre crop (torchvision Resize); ignored for 'train'. */
  resize?: number;
}

/** A batch of decoded images: n × size × size × 3 bytes (a failed image's slot stays zero) and per-image errors. */
export interface DecodedBatch {
  data: Uint8Array;
  size: number;
  /** null where the image decoded, else why it did not. */
  errors: (string | null)[];
}

/** Something that decodes a batch of image files asynchronously (the default: a sharp worker, ./worker-decoder.ts). */
export interface ImageDecoder {
  decodeBatch(paths: readonly string[], spec: DecodeSpec): Promise<DecodedBatch>;
  /**
   * Optional: takes back a batch's pixel buffer once the loader has copied it into a tensor, to decode a later
   * batch of the same size into (the loader never touches it again). Saves allocating, page-faulting and later
   * collecting one batch-sized buffer per step on each side.
   */
  recycle?(data: Uint8Array): void;
}

type SharpFn = ((input: Buffer | string, opts?: Record<string, unknown>) => Sharp) & {
  cache(options: boolean): unknown;
  concurrency(n: number): number;
};
let sharpModule: SharpFn | null = null;

/** sharp, loaded on first use (so code that never streams files does not load libvips). */
export function loadSharp(): SharpFn {
  if (!sharpModule) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      sharpModule = require('sharp') as SharpFn;
    } catch (e) {
      throw new Error(`image decoding needs the npm package 'sharp' (npm install sharp): ${(e as Error).message}`);
    }
  }
  return sharpModule;
}

/**
 * libvips settings for decoding batches of images (process-wide: libvips keeps them globally). Called by the decode
 * worker. No operation cache: each image is decoded once per epoch, so cached results only hold memory (sharp's
 * default keeps up to 50 MB). One libvips thread per image: a batch's images already decode in parallel on libuv's
 * pool (UV_THREADPOOL_SIZE threads), so decoding uses that many threads and no more beside a training step. On our
 * 2-core machine neither setting moved decode CPU per image beyond run-to-run noise (±10 %).
 */
export function tuneSharpForBatches(): void {
  const sharp = loadSharp();
  sharp.cache(false);
  sharp.concurrency(1);
}

/** Python 3's round() for x.5 (halves to even), as torchvision's CenterCrop rounds. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision Resize(size) output (h, w) for an h×w image: shorter side → size, longer truncated. */
export function resizedShape(h: number, w: number, size: number): [number, number] {
  if (h <= w) return [size, Math.max(1, Math.trunc((size * w) / h))];
  return [Math.max(1, Math.trunc((size * h) / w)), size];
}

/**
 * Decodes one encoded image (the bytes of a file, read once) to `spec.size`² RGB bytes (HWC). Throws with libvips'
 * reason. The header is parsed from the same buffer for the resize geometry, so the file is opened once.
 */
export async function decodeImageBuffer(input: Buffer, spec: DecodeSpec): Promise<Uint8Array> {
  const sharp = loadSharp();
  const S = spec.size;
  const meta = await sharp(input, { failOn: 'warning' }).metadata();
  const h0 = meta.height;
  const w0 = meta.width;
  if (!h0 || !w0) throw new Error('no image size in the file');
  const R = spec.mode === 'test' ? (spec.resize ?? S) : S;
  const [h, w] = resizedShape(h0, w0, R);
  if (h < S || w < S) throw new Error(`resize ${R} gives ${h}×${w}, smaller than the ${S}×${S} crop`);
  const top = spec.mode === 'test' ? roundHalfEven((h - S) / 2) : Math.floor((h - S) / 2);
  const left = spec.mode === 'test' ? roundHalfEven((w - S) / 2) : Math.floor((w - S) / 2);
  const { data, info } = await sharp(input, { failOn: 'warning' })
    .resize(w, h, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
    .extract({ left, top, width: S, height: S })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return toRgb(new Uint8Array(data.buffer, data.byteOffset, data.length), info.channels, S * S);
}

/** Reads and decodes one file (see decodeImageBuffer). Throws with the reason (a missing file: the system's). */
export async function decodeImageFile(file: string, spec: DecodeSpec): Promise<Uint8Array> {
  return decodeImageBuffer(await fs.promises.readFile(file), spec);
}

function toRgb(px: Uint8Array, channels: number, n: number): Uint8Array {
  if (channels === 3) return px;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const g = px[i * channels];
    out[3 * i] = channels >= 3 ? px[i * channels] : g;
    out[3 * i + 1] = channels >= 3 ? px[i * channels + 1] : g;
    out[3 * i + 2] = channels >= 3 ? px[i * channels + 2] : g;
  }
  return out;
}

/**
 * Decodes a batch concurrently (sharp queues the work on libuv's thread pool); failures are recorded, not thrown.
 * `into`: a buffer of exactly paths.length·size²·3 bytes to fill (one a loader handed back, see
 * ImageDecoder.recycle) instead of a fresh one; a failed image's slot is zeroed either way.
 */
export async function decodeFiles(
  paths: readonly string[],
  spec: DecodeSpec,
  into?: Uint8Array,
): Promise<DecodedBatch> {
  const S = spec.size;
  const per = S * S * 3;
  if (into && into.length !== paths.length * per)
    throw new Error(`decodeFiles: buffer of ${into.length} bytes for ${paths.length} images of ${S}×${S}×3`);
  const data = into ?? new Uint8Array(paths.length * per);
  const errors: (string | null)[] = new Array(paths.length).fill(null);
  await Promise.all(
    paths.map(async (p, k) => {
      try {
        data.set(await decodeImageFile(p, spec), k * per);
      } catch (e) {
        if (into) data.fill(0, k * per, (k + 1) * per);
        const m = ((e as Error).message.split('\n')[0] || String(e))
          .replace(/^Input buffer /, 'Input file ') // sharp names its input by kind; here it is the file's bytes
          .replace(/, \w+ '.*'$/, ''); // a system error's path: the report names the file already
        // sharp's failOn text does not say what was wrong: libvips warned (a truncated or corrupt stream).
        errors[k] = /failOn/.test(m) ? 'truncated or corrupt image data' : m;
      }
    }),
  );
  return { data, size: S, errors };
}

/** The in-process decoder: sharp on this thread's libuv pool (async only). */
export const sharpDecoder: ImageDecoder = { decodeBatch: decodeFiles };
