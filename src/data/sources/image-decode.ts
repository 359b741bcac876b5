// Decodes one JPEG (ITU T.81 / JFIF, via jpeg-js) or PNG (ISO/IEC 15948, via pngjs) file to 8-bit RGB,
// HWC. The format is chosen by magic bytes, not by extension. Grayscale is replicated to RGB; the
// alpha channel of RGBA/gray+alpha PNGs is dropped (as PIL's convert('RGB') does); 16-bit PNG
// samples are scaled to 8 bits by pngjs.
import * as fs from 'fs';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { DataFormatError, RawImage } from './types';

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && PNG_MAGIC.every((v, i) => b[i] === v);
}

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/**
 * The largest image decoded, in pixels (width × height): 100 megapixels, jpeg-js's own default, for PNG and
 * JPEG alike — a small file can declare a huge image (a 249 KB PNG of 16000×16000 would take 2.5 GB).
 */
export const DEFAULT_MAX_PIXELS = 100e6;

export interface DecodeOptions {
  /** Refuse images larger than this many pixels (default: LTKIT_MAX_IMAGE_PIXELS, else DEFAULT_MAX_PIXELS). */
  maxPixels?: number;
}

/** The pixel limit in force: the option, else the LTKIT_MAX_IMAGE_PIXELS environment setting, else 100 MP. */
export function maxImagePixels(o: DecodeOptions = {}): number {
  if (o.maxPixels !== undefined) return o.maxPixels;
  const env = process.env.LTKIT_MAX_IMAGE_PIXELS;
  if (env === undefined || env === '') return DEFAULT_MAX_PIXELS;
  const v = Number(env);
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`LTKIT_MAX_IMAGE_PIXELS must be a positive number of pixels, got '${env}'`);
  }
  return v;
}

function checkPixels(file: string, width: number, height: number, max: number): void {
  if (width * height > max) {
    throw new DataFormatError(
      file,
      `image of ${width}×${height} pixels exceeds the limit of ${max} pixels (LTKIT_MAX_IMAGE_PIXELS, option maxPixels)`,
    );
  }
}

/** Decodes JPEG or PNG bytes to RGB. `file` names the source in errors. */
export function decodeImage(buf: Uint8Array, file = '<image>', o: DecodeOptions = {}): RawImage {
  const maxPixels = maxImagePixels(o);
  if (isPng(buf)) {
    // The header chunk (IHDR) comes first: check the declared size before decoding anything.
    const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR') {
      throw new DataFormatError(file, 'corrupt PNG: no IHDR header chunk');
    }
    checkPixels(file, b.readUInt32BE(16), b.readUInt32BE(20), maxPixels);
    let png: PNG;
    try {
      png = PNG.sync.read(b);
    } catch (e) {
      const msg = (e as Error).message;
      // pngjs reports a file that ends early as pending "read requests" on a finished stream.
      const why = /read requests/.test(msg) ? 'the file ends before its image data does' : msg;
      throw new DataFormatError(file, `corrupt or truncated PNG: ${why}`);
    }
    const { width, height } = png;
    const n = width * height;
    const out = new Uint8Array(n * 3);
    const src = png.data;
    for (let p = 0; p < n; p++) {
      out[p * 3] = src[p * 4];
      out[p * 3 + 1] = src[p * 4 + 1];
      out[p * 3 + 2] = src[p * 4 + 2];
    }
    return { data: out, height, width, channels: 3 };
  }
  if (isJpeg(buf)) {
    try {
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: false,
        tolerantDecoding: false,
        maxResolutionInMP: maxPixels / 1e6,
      });
      if (img.data.length !== img.width * img.height * 3) throw new Error('unexpected decoded size');
      return { data: img.data, height: img.height, width: img.width, channels: 3 };
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (/maxResolutionInMP/.test(msg)) {
        throw new DataFormatError(
          file,
          `image exceeds the limit of ${maxPixels} pixels (LTKIT_MAX_IMAGE_PIXELS, option maxPixels)`,
        );
      }
      throw new DataFormatError(file, `corrupt or truncated JPEG: ${msg}`);
    }
  }
  throw new DataFormatError(file, 'wrong magic: not a JPEG or PNG image');
}

/** Reads and decodes an image file to RGB. */
export function readImageFile(file: string, o: DecodeOptions = {}): RawImage {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFormatError(file, code === 'ENOENT' ? 'missing file' : `cannot read: ${(e as Error).message}`);
  }
  return decodeImage(buf, file, o);
}
