import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { loadMnist, readIdx } from './idx';
import { FORMATS, firstPixelMismatch, label, tempCopy } from './test-fixtures';

const ROOT = path.join(FORMATS, 'mnist');
const FMNIST = '/usr/share/datasets/fashion-mnist';

test('IDX: raw train and gzipped test split, exact pixels and labels', () => {
  const tr = loadMnist({ root: ROOT, split: 'train' });
  assert.equal(tr.length, 5);
  assert.deepEqual(tr.imageSize, [28, 28, 1]);
  assert.deepEqual(
    [...tr.targets],
    [0, 1, 2, 3, 4].map((i) => label(6, i, 10)),
  );
  assert.equal(firstPixelMismatch(tr, 6), null);
  const te = loadMnist({ root: ROOT, split: 'test' });
  assert.equal(te.length, 3);
  assert.deepEqual(
    [...te.targets],
    [0, 1, 2].map((i) => label(16, i, 10)),
  );
  assert.equal(firstPixelMismatch(te, 16), null);
});

test('IDX errors: wrong magic, truncated, count mismatch, label out of range, missing, bad gzip', () => {
  const img = fs.readFileSync(path.join(ROOT, 'train-images-idx3-ubyte'));
  assert.throws(() => readIdx(img, 'f', 0x801), /f: wrong magic 0x00000803, expected 0x00000801/);
  assert.throws(() => readIdx(img.subarray(0, img.length - 1), 'f'), /f: truncated: dims \[5, 28, 28\]/);
  assert.throws(() => readIdx(img.subarray(0, 10), 'f'), /f: truncated header/);
  const dir = tempCopy('mnist');
  try {
    const lab = path.join(dir, 'train-labels-idx1-ubyte');
    const l = fs.readFileSync(lab);
    fs.writeFileSync(lab, Buffer.concat([Buffer.from([0, 0, 8, 1, 0, 0, 0, 4]), l.subarray(8, 12)]));
    assert.throws(
      () => loadMnist({ root: dir }),
      /train-labels-idx1-ubyte: count mismatch: 4 labels but .* has 5 images/,
    );
    const bad = Buffer.from(l);
    bad[8 + 2] = 10;
    fs.writeFileSync(lab, bad);
    assert.throws(() => loadMnist({ root: dir }), /train-labels-idx1-ubyte: label out of range at index 2: 10/);
    fs.rmSync(lab);
    assert.throws(() => loadMnist({ root: dir }), /train-labels-idx1-ubyte\(\.gz\): missing file/);
    const gz = path.join(dir, 't10k-images-idx3-ubyte.gz');
    const z = fs.readFileSync(gz);
    fs.writeFileSync(gz, z.subarray(0, z.length - 20));
    assert.throws(
      () => loadMnist({ root: dir, split: 'test' }),
      /t10k-images-idx3-ubyte\.gz: corrupt or truncated gzip/,
    );
    fs.writeFileSync(gz, zlib.gunzipSync(z)); // raw bytes under a .gz name
    assert.throws(() => loadMnist({ root: dir, split: 'test' }), /\.gz: wrong magic/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'Fashion-MNIST (real data from the Debian package): 60000/10000, 28x28x1, 6000 per class',
  { skip: !fs.existsSync(FMNIST) && 'no ' + FMNIST },
  () => {
    const tr = loadMnist({ root: FMNIST, split: 'train', flavour: 'fashion-mnist' });
    const te = loadMnist({ root: FMNIST, split: 'test', flavour: 'fashion-mnist' });
    assert.equal(tr.length, 60000);
    assert.equal(te.length, 10000);
    assert.deepEqual(tr.imageSize, [28, 28, 1]);
    assert.equal(tr.numClasses, 10);
    assert.equal(tr.classNames?.[9], 'Ankle boot');
    const counts = new Array(10).fill(0);
    for (const t of tr.targets) counts[t]++;
    assert.deepEqual(counts, new Array(10).fill(6000));
    const b = te.getBatch([0, 9999]);
    assert.deepEqual(b.shape, [2, 28, 28, 1]);
  },
);
