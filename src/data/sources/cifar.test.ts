import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { loadCifar10, loadCifar100 } from './cifar';
import { DataFormatError } from './types';
import { FORMATS, firstPixelMismatch, label, tempCopy } from './test-fixtures';

const C10 = path.join(FORMATS, 'cifar10');
const C100 = path.join(FORMATS, 'cifar100');
const seq = (n: number, seed: number, c: number): number[] => Array.from({ length: n }, (_, i) => label(seed, i, c));

test('CIFAR-10 python: 5 Python-2 pickled batches concatenate, exact pixels (CHW->HWC) and labels', () => {
  const s = loadCifar10({ root: C10, split: 'train' });
  assert.equal(s.length, 15);
  assert.equal(s.numClasses, 10);
  assert.deepEqual(s.imageSize, [32, 32, 3]);
  assert.deepEqual([...s.targets], seq(15, 1, 10));
  assert.equal(s.classNames?.[9], 'truck');
  assert.equal(firstPixelMismatch(s, 1), null);
  const b = s.getBatch([2, 0]);
  assert.deepEqual(b.shape, [2, 32, 32, 3]);
  assert.deepEqual([...b.data.subarray(3072, 3075)], [31, 132, 233]); // image 0, pixel (0,0), R G B
});

test('CIFAR-10 python test batch (protocol 2, _codecs.encode bytes) and binary layout', () => {
  const t = loadCifar10({ root: C10, split: 'test' });
  assert.equal(t.length, 5);
  assert.deepEqual([...t.targets], seq(5, 11, 10));
  assert.equal(firstPixelMismatch(t, 11), null);
  const b = loadCifar10({ root: C10, split: 'train', format: 'binary' });
  assert.equal(b.length, 10);
  assert.deepEqual([...b.targets], seq(10, 3, 10));
  assert.equal(firstPixelMismatch(b, 3), null);
  assert.equal(b.classNames?.[0], 'airplane');
  const bt = loadCifar10({ root: path.join(C10, 'cifar-10-batches-bin'), split: 'test' });
  assert.deepEqual([...bt.targets], seq(3, 13, 10));
  assert.equal(firstPixelMismatch(bt, 13), null);
});

test('CIFAR-100 python (protocol 4 str keys + int64 array; Python 2 test) and binary, fine and coarse', () => {
  const s = loadCifar100({ root: C100, split: 'train' });
  assert.equal(s.numClasses, 100);
  assert.deepEqual([...s.targets], seq(10, 2, 100));
  assert.deepEqual(
    [...(s.coarseTargets ?? [])],
    seq(10, 2, 100).map((x) => Math.floor(x / 5)),
  );
  assert.equal(s.classNames?.[42], 'class_42');
  assert.equal(firstPixelMismatch(s, 2), null);
  const c = loadCifar100({ root: C100, split: 'test', labels: 'coarse' });
  assert.equal(c.numClasses, 20);
  assert.deepEqual(
    [...c.targets],
    seq(5, 12, 100).map((x) => Math.floor(x / 5)),
  );
  assert.equal(c.classNames?.[3], 'super_03');
  assert.equal(firstPixelMismatch(c, 12), null);
  const b = loadCifar100({ root: C100, split: 'train', format: 'binary' });
  assert.deepEqual([...b.targets], seq(4, 4, 100));
  assert.equal(firstPixelMismatch(b, 4), null);
});

test('CIFAR errors: missing batch, truncated binary, label out of range, truncated pickle', () => {
  const dir = tempCopy('cifar10');
  try {
    const py = path.join(dir, 'cifar-10-batches-py');
    fs.rmSync(path.join(py, 'data_batch_3'));
    assert.throws(
      () => loadCifar10({ root: dir }),
      (e: unknown) => e instanceof DataFormatError && /data_batch_3: missing file/.test(e.message),
    );
    assert.equal(loadCifar10({ root: dir, trainBatches: 2 }).length, 6);

    const bin = path.join(dir, 'cifar-10-batches-bin', 'test_batch.bin');
    const buf = fs.readFileSync(bin);
    fs.writeFileSync(bin, buf.subarray(0, buf.length - 100));
    assert.throws(() => loadCifar10({ root: dir, split: 'test', format: 'binary' }), /test_batch\.bin: truncated/);
    const bad = Buffer.from(buf);
    bad[3073] = 10; // label of record 1
    fs.writeFileSync(bin, bad);
    assert.throws(
      () => loadCifar10({ root: dir, split: 'test', format: 'binary' }),
      /test_batch\.bin: label out of range in record 1: 10/,
    );

    const tb = path.join(py, 'test_batch');
    const pk = fs.readFileSync(tb);
    fs.writeFileSync(tb, pk.subarray(0, 5000));
    assert.throws(() => loadCifar10({ root: dir, split: 'test' }), /test_batch: pickle: truncated/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => loadCifar10({ root: '/nonexistent/cifar' }), /missing CIFAR-10 data/);
  assert.throws(() => loadCifar10({ root: C10, split: 'val' as 'test' }), /split must be/);
});
