import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { readMat5 } from './mat5';
import { loadSvhn, svhnFromMat } from './svhn';
import { DataFormatError } from './types';
import { FORMATS, firstPixelMismatch, label, px } from './test-fixtures';

const ROOT = path.join(FORMATS, 'svhn');

test('SVHN .mat: uncompressed train, compressed test/extra; column-major X gathered to HWC; 10 -> 0', () => {
  for (const [split, n, seed] of [
    ['train', 6, 5],
    ['test', 3, 15],
    ['extra', 2, 25],
  ] as const) {
    const s = loadSvhn({ root: ROOT, split });
    assert.equal(s.length, n);
    assert.equal(s.numClasses, 10);
    assert.deepEqual(s.imageSize, [32, 32, 3]);
    assert.deepEqual(
      [...s.targets],
      Array.from({ length: n }, (_, i) => label(seed, i, 10)),
    );
    assert.equal(firstPixelMismatch(s, seed), null, split);
  }
  const s = loadSvhn({ root: ROOT, split: 'train' });
  assert.equal(s.targets[5], 0); // stored as 10 in the file
  const b = s.getBatch([3, 1]);
  assert.deepEqual(b.shape, [2, 32, 32, 3]);
  assert.equal(b.data[(5 * 32 + 7) * 3 + 2], px(5, 3, 2, 5, 7));
});

test('MAT v5 reader: variables, small elements, narrowed storage (double stored as miUINT8)', () => {
  const m = readMat5(fs.readFileSync(path.join(ROOT, 'test_32x32.mat')), 'test_32x32.mat');
  assert.ok(m.header.startsWith('MATLAB 5.0 MAT-file'));
  assert.deepEqual([...m.variables.keys()], ['X', 'y']);
  assert.deepEqual(m.variables.get('X')?.dims, [32, 32, 3, 3]);
  assert.equal(m.variables.get('y')?.className, 'double');
  assert.equal(m.variables.get('y')?.real?.miType, 2);
});

test('SVHN errors: missing file, wrong magic, truncated (raw and compressed), label out of range', () => {
  const raw = fs.readFileSync(path.join(ROOT, 'train_32x32.mat'));
  const zipped = fs.readFileSync(path.join(ROOT, 'test_32x32.mat'));
  assert.throws(() => loadSvhn({ root: '/nonexistent' }), /train_32x32\.mat: missing file/);
  const wrong = Buffer.from(raw);
  wrong.write('XX', 126, 'latin1');
  assert.throws(() => svhnFromMat(wrong, 'a.mat'), /a\.mat: wrong magic/);
  assert.throws(() => svhnFromMat(raw.subarray(0, 100), 'a.mat'), /a\.mat: truncated/);
  assert.throws(() => svhnFromMat(raw.subarray(0, raw.length - 40), 'a.mat'), /a\.mat: truncated/);
  assert.throws(
    () => svhnFromMat(zipped.subarray(0, zipped.length - 30), 'b.mat'),
    /b\.mat: truncated file: miCOMPRESSED/,
  );
  const corrupt = Buffer.from(zipped);
  corrupt.fill(0x55, 200, 260);
  assert.throws(() => svhnFromMat(corrupt, 'b.mat'), /b\.mat: corrupt or truncated miCOMPRESSED element at offset 128/);
  // y is the last element in train (stored as doubles): overwrite y[0] with 11
  const bad = Buffer.from(raw);
  bad.writeDoubleLE(11, bad.length - 6 * 8);
  assert.throws(
    () => svhnFromMat(bad, 'c.mat'),
    (e: unknown) => e instanceof DataFormatError && /c\.mat: label out of range: y\[0\] = 11/.test(e.message),
  );
  assert.throws(() => loadSvhn({ root: ROOT, split: 'val' as 'test' }), /split must be/);
});
