// Test helpers: locate fixtures/data/formats and recompute the generator's formulas
// (fixtures/data/gen_formats.py): px = (31*seed + 37*n + 101*c + 7*y + 3*x) % 256, label = (7*n + seed) % C.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ImageSource } from './types';

export function repoRoot(): string {
  let d = __dirname;
  while (!fs.existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('package.json not found above ' + __dirname);
    d = up;
  }
  return d;
}

export const FORMATS = path.join(repoRoot(), 'fixtures', 'data', 'formats');

export function px(seed: number, n: number, c: number, y: number, x: number): number {
  return (31 * seed + 37 * n + 101 * c + 7 * y + 3 * x) % 256;
}

export function label(seed: number, n: number, classes: number): number {
  return (7 * n + seed) % classes;
}

/** Index of the first pixel of `src` (HWC per image) that differs from the formula, or -1. */
export function firstPixelMismatch(src: ImageSource, seed: number, indexOffset = 0): string | null {
  for (let i = 0; i < src.length; i++) {
    const im = src.getImage(i);
    for (let y = 0; y < im.height; y++) {
      for (let x = 0; x < im.width; x++) {
        for (let c = 0; c < im.channels; c++) {
          const got = im.data[(y * im.width + x) * im.channels + c];
          const want = px(seed, i + indexOffset, c, y, x);
          if (got !== want) return `image ${i} y=${y} x=${x} c=${c}: got ${got}, want ${want}`;
        }
      }
    }
  }
  return null;
}

/** Copies a fixture folder to a fresh temp dir and returns the copy's path. */
export function tempCopy(rel: string): string {
  const dst = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-fmt-'));
  fs.cpSync(path.join(FORMATS, rel), dst, { recursive: true });
  return dst;
}
