import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadCsv, parseCsv } from './csv';
import { decodeImage } from './image-decode';
import { loadImageFolder } from './image-folder';
import { loadSource, SOURCE_NAMES } from './index';
import { load } from '../index';
import { loadListFile } from './list-file';
import { loadTinyImageNet } from './tiny-imagenet';
import { DataFormatError } from './types';
import { FORMATS } from './test-fixtures';

/** RGBA pattern: r = 10*y + x + seed, g = 2*seed, b = 255 - x, a = alpha. */
function rgba(w: number, h: number, seed: number, alpha: number): Buffer {
  const d = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) d.set([(10 * y + x + seed) & 255, (2 * seed) & 255, 255 - x, alpha], (y * w + x) * 4);
  return d;
}

function writePng(file: string, w: number, h: number, seed: number, colorType: 0 | 2 | 6 = 2): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const png = new PNG({ width: w, height: h });
  rgba(w, h, seed, colorType === 6 ? 128 : 255).copy(png.data); // pngjs blends alpha when writing RGB
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputHasAlpha: true }));
}

function writeJpeg(file: string, w: number, h: number, rgb: [number, number, number]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const d = Buffer.alloc(w * h * 4);
  for (let p = 0; p < w * h; p++) d.set([...rgb, 255], p * 4);
  fs.writeFileSync(file, jpeg.encode({ data: d, width: w, height: h }, 95).data);
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-files-'));
}

test('decodeImage: PNG RGB exact, RGBA drops alpha, grayscale -> RGB, JPEG ~colour, bad magic', () => {
  const dir = tmp();
  try {
    writePng(path.join(dir, 'a.png'), 5, 4, 7, 6);
    const a = decodeImage(fs.readFileSync(path.join(dir, 'a.png')));
    assert.deepEqual([a.height, a.width, a.channels], [4, 5, 3]);
    assert.deepEqual([...a.data.subarray((2 * 5 + 3) * 3, (2 * 5 + 3) * 3 + 3)], [30, 14, 252]);
    writePng(path.join(dir, 'g.png'), 3, 2, 0, 0);
    const g = decodeImage(fs.readFileSync(path.join(dir, 'g.png')));
    assert.equal(g.channels, 3);
    assert.equal(g.data[0], g.data[1]);
    assert.equal(g.data[1], g.data[2]);
    writeJpeg(path.join(dir, 'j.jpg'), 8, 6, [200, 40, 90]);
    const j = decodeImage(fs.readFileSync(path.join(dir, 'j.jpg')));
    assert.deepEqual([j.height, j.width, j.channels], [6, 8, 3]);
    for (const [k, v] of [200, 40, 90].entries()) assert.ok(Math.abs(j.data[k] - v) <= 4, `channel ${k}: ${j.data[k]}`);
    assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'x.png'), /x\.png: wrong magic: not a JPEG or PNG/);
    const full = fs.readFileSync(path.join(dir, 'a.png'));
    assert.throws(
      () => decodeImage(full.subarray(0, 40), 't.png'),
      (e: unknown) =>
        e instanceof DataFormatError &&
        /t\.png: corrupt or truncated PNG: the file ends before its image data does/.test(e.message),
    );
    assert.throws(() => decodeImage(full.subarray(0, 20), 'h.png'), /h\.png: corrupt PNG: no IHDR/);
    // A small file declaring a huge image is refused from its header, before anything is decoded.
    const huge = Buffer.from(full);
    huge.writeUInt32BE(16000, 16);
    huge.writeUInt32BE(16000, 20);
    assert.throws(
      () => decodeImage(huge, 'huge.png'),
      /huge\.png: image of 16000×16000 pixels exceeds the limit of 100000000/,
    );
    assert.throws(() => decodeImage(full, 'a.png', { maxPixels: 19 }), /5×4 pixels exceeds the limit of 19/);
    assert.equal(decodeImage(full, 'a.png', { maxPixels: 20 }).width, 5);
    const jpg = fs.readFileSync(path.join(dir, 'j.jpg'));
    assert.throws(() => decodeImage(jpg, 'j.jpg', { maxPixels: 47 }), /j\.jpg: image exceeds the limit of 47 pixels/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('image folder: sorted classes, lazy decode, batches, size mismatch and class-count errors', () => {
  const dir = tmp();
  try {
    writePng(path.join(dir, 'zebra', 'b.png'), 4, 3, 1);
    writePng(path.join(dir, 'zebra', 'a.png'), 4, 3, 2);
    writeJpeg(path.join(dir, 'ant', 'x.JPG'), 4, 3, [10, 20, 30]);
    fs.writeFileSync(path.join(dir, 'ant', 'notes.txt'), 'ignored');
    fs.mkdirSync(path.join(dir, '.ipynb_checkpoints'));
    const s = loadImageFolder({ root: dir });
    assert.deepEqual(s.classNames, ['ant', 'zebra']);
    assert.deepEqual([...s.targets], [0, 1, 1]);
    assert.deepEqual(
      s.paths.map((p) => path.basename(p)),
      ['x.JPG', 'a.png', 'b.png'],
    );
    const b = s.getBatch([1, 2]);
    assert.deepEqual(b.shape, [2, 3, 4, 3]);
    assert.deepEqual([...b.data.subarray(0, 3)], [2, 4, 255]);
    assert.deepEqual([...b.data.subarray(36, 39)], [1, 2, 255]);
    assert.throws(
      () => loadImageFolder({ root: dir, numClasses: 3 }),
      /class count mismatch: 2 class folders, expected 3/,
    );
    writePng(path.join(dir, 'zebra', 'c.png'), 5, 3, 3);
    const s2 = loadSource('imagefolder', { root: dir });
    assert.throws(
      () => s2.getBatch([1, 3]),
      (e: unknown) =>
        e instanceof DataFormatError && /c\.png: image size 3x5x3 \(index 3\) differs from 3x4x3/.test(e.message),
    );
    fs.mkdirSync(path.join(dir, 'empty'));
    assert.throws(() => loadImageFolder({ root: dir }), /empty: class folder has no/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('list file (ImageNet-LT style): paths with spaces, root, label range, class count, missing image', () => {
  const dir = tmp();
  try {
    writePng(path.join(dir, 'imgs', 'n01', 'a.png'), 2, 2, 5);
    writePng(path.join(dir, 'imgs', 'n02', 'my b.png'), 2, 2, 6);
    const list = path.join(dir, 'ImageNet_LT_train.txt');
    fs.writeFileSync(list, 'n01/a.png 0\r\nn02/my b.png 2\n\n');
    const s = loadListFile({ file: list, root: path.join(dir, 'imgs') });
    assert.equal(s.numClasses, 3);
    assert.deepEqual([...s.targets], [0, 2]);
    assert.equal(s.getImage(1).data[0], 6);
    assert.throws(
      () => loadListFile({ file: list, root: path.join(dir, 'imgs'), numClasses: 2 }),
      /ImageNet_LT_train\.txt: label out of range at index 1: 2/,
    );
    assert.throws(
      () => loadListFile({ file: list, root: path.join(dir, 'imgs'), numClasses: 4 }),
      /class count mismatch: labels cover 2 classes, expected 4/,
    );
    assert.equal(
      loadListFile({ file: list, root: path.join(dir, 'imgs'), numClasses: 4, allowMissingClasses: true }).numClasses,
      4,
    );
    assert.throws(() => loadListFile({ file: list }), /line 1: image file missing/);
    fs.writeFileSync(list, 'n01/a.png zero\n');
    assert.throws(() => loadListFile({ file: list, root: dir }), /line 1: label 'zero' is not an integer/);
    assert.throws(() => loadSource('list', { file: path.join(dir, 'nope.txt') }), /nope\.txt: missing file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: RFC 4180 quoting, header detection, text labels, errors', () => {
  assert.deepEqual(parseCsv('a,"b,c"\r\n"x ""q""",\n"multi\nline",2\n').rows, [
    ['a', 'b,c'],
    ['x "q"', ''],
    ['multi\nline', '2'],
  ]);
  assert.throws(() => parseCsv('a,"b\n', 'u.csv'), /u\.csv: truncated: unterminated quoted field starting on line 1/);
  const dir = tmp();
  try {
    writePng(path.join(dir, 'p', 'one, two.png'), 2, 2, 9);
    writePng(path.join(dir, 'p', 'three.png'), 2, 2, 10);
    const csv = path.join(dir, 'data.csv');
    fs.writeFileSync(csv, 'label,image_path\n1,"p/one, two.png"\n0,p/three.png\n');
    const s = loadCsv({ file: csv });
    assert.deepEqual([...s.targets], [1, 0]);
    assert.equal(s.getImage(0).data[0], 9);
    fs.writeFileSync(csv, '"p/one, two.png",cat\np/three.png,ant\n');
    const t = loadSource('csv', { file: csv, header: false });
    assert.deepEqual(t.classNames, ['ant', 'cat']);
    assert.deepEqual([...t.targets], [1, 0]);
    fs.writeFileSync(csv, 'path,label\np/three.png,7\n');
    assert.throws(() => loadCsv({ file: csv, numClasses: 5 }), /data\.csv: label out of range at index 0: 7/);
    fs.writeFileSync(csv, 'path,label\np/missing.png,0\n');
    assert.throws(() => loadCsv({ file: csv }), /data\.csv: line 2: image file missing/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('Tiny-ImageNet: sorted wnids, train/<wnid>/images, val annotations, errors', () => {
  const dir = tmp();
  const root = path.join(dir, 'tiny-imagenet-200');
  try {
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'wnids.txt'), 'n02\nn01\n');
    fs.writeFileSync(path.join(root, 'words.txt'), 'n01\tgoldfish, Carassius auratus\nn02\tshark\nn03\tother\n');
    writeJpeg(path.join(root, 'train', 'n01', 'images', 'n01_0.JPEG'), 64, 64, [250, 0, 0]);
    writeJpeg(path.join(root, 'train', 'n02', 'images', 'n02_0.JPEG'), 64, 64, [0, 250, 0]);
    writeJpeg(path.join(root, 'train', 'n02', 'images', 'n02_1.JPEG'), 64, 64, [0, 0, 250]);
    writePng(path.join(root, 'val', 'images', 'val_0.JPEG'), 64, 64, 1); // PNG bytes: detected by magic
    fs.writeFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn02\t0\t0\t10\t10\n');
    const tr = loadSource('tiny-imagenet', { root: dir });
    assert.deepEqual(tr.classNames, ['n01', 'n02']);
    assert.deepEqual([...tr.targets], [0, 1, 1]);
    const b = tr.getBatch([0, 2]);
    assert.deepEqual(b.shape, [2, 64, 64, 3]);
    assert.ok(b.data[0] > 240 && b.data[64 * 64 * 3 + 2] > 240);
    const va = loadTinyImageNet({ root, split: 'val' });
    assert.deepEqual([...va.targets], [1]);
    assert.equal(va.words?.[0], 'goldfish, Carassius auratus');
    assert.throws(
      () => loadTinyImageNet({ root, numClasses: 200 }),
      /wnids\.txt: class count mismatch: 2 wnids, expected 200/,
    );
    fs.appendFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_1.JPEG\tn09\t0\t0\t1\t1\n');
    assert.throws(
      () => loadTinyImageNet({ root, split: 'val' }),
      /val_annotations\.txt: entry 2: label out of range: wnid n09/,
    );
    assert.throws(
      () => loadSource('tiny-imagenet', { root, split: 'test' }),
      /no split 'test'; valid splits: train, val/,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('loadSource: registry names, splits, defaults and errors', () => {
  assert.deepEqual(SOURCE_NAMES, [
    'cifar10',
    'cifar100',
    'svhn',
    'mnist',
    'fashion-mnist',
    'tiny-imagenet',
    'imagefolder',
    'list',
    'csv',
  ]);
  assert.throws(() => loadSource('imagenet'), /unknown data source 'imagenet'; valid names: cifar10, cifar100, svhn/);
  assert.throws(
    () => loadSource('cifar10', { root: FORMATS, split: 'extra' }),
    /no split 'extra'; valid splits: train, test/,
  );
  assert.throws(() => loadSource('svhn'), /needs option 'root'/);
  assert.throws(() => loadSource('csv', { split: 'train' }), /takes no split/);
  assert.equal(
    loadSource('cifar10', { root: path.join(FORMATS, 'cifar10'), split: 'test', format: 'binary' }).length,
    3,
  );
  assert.equal(loadSource('cifar100', { root: path.join(FORMATS, 'cifar100'), labels: 'coarse' }).numClasses, 20);
  assert.equal(loadSource('svhn', { root: path.join(FORMATS, 'svhn'), split: 'extra' }).length, 2);
  assert.equal(loadSource('mnist', { root: path.join(FORMATS, 'mnist'), split: 'test' }).name, 'mnist-test');
  // The public entry point fills in the catalogue's default folder.
  if (fs.existsSync('/usr/share/datasets/fashion-mnist'))
    assert.equal(load('fashion-mnist', { split: 'test' }).length, 10000);
});
