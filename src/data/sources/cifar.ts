// CIFAR-10 / CIFAR-100 loaders, following https://www.cs.toronto.edu/~kriz/cifar.html:
// - python layout: pickled dicts {data: uint8 ndarray (N, 3072), labels | fine_labels + coarse_labels}
//   (`cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta`; `cifar-100-python/train, test, meta`),
//   read through the restricted unpickler in pickle.ts; keys may be str or bytes (Python 2 pickles);
// - binary layout: fixed records <label byte>[<fine label byte>]<3072 pixel bytes>
//   (`cifar-10-batches-bin/data_batch_1..5.bin, test_batch.bin`; `cifar-100-binary/train.bin, test.bin`).
// Each image is stored as three 32x32 planes (R, G, B), row-major; we convert to HWC.
import * as path from 'path';
import { chwToHwc, DenseImageSource } from './dense-source';
import { isDir, isFile, readFileChecked, readLines } from './file-io';
import { NdArray, PyDict, PyValue, pyText, pyTypeName, unpickle } from './pickle';
import { DataFormatError } from './types';

const PIXELS = 3072;

export type CifarFormat = 'python' | 'binary';

export interface CifarOptions {
  /** The folder holding `cifar-10-batches-py` / `cifar-10-batches-bin` (etc.), or that folder itself. */
  root: string;
  split?: 'train' | 'test';
  /** Default: python when present, else binary. */
  format?: CifarFormat;
  /** CIFAR-10 python/binary train batches expected (default 5, the official archive). */
  trainBatches?: number;
}

export interface Cifar100Options extends CifarOptions {
  /** Which label set becomes `targets` (default 'fine', 100 classes; 'coarse' has 20). */
  labels?: 'fine' | 'coarse';
}

/** A CIFAR split; CIFAR-100 sources also carry both label sets. */
export type CifarSource = DenseImageSource & {
  readonly fineTargets?: Int32Array;
  readonly coarseTargets?: Int32Array;
  readonly coarseClassNames?: string[];
};

const DIRS = {
  10: { python: 'cifar-10-batches-py', binary: 'cifar-10-batches-bin' },
  100: { python: 'cifar-100-python', binary: 'cifar-100-binary' },
} as const;

function probeFile(c: 10 | 100, format: CifarFormat): string {
  if (c === 10) return format === 'python' ? 'test_batch' : 'test_batch.bin';
  return format === 'python' ? 'test' : 'test.bin';
}

/** Resolves the archive folder and its format. */
function resolveDir(c: 10 | 100, root: string, format?: CifarFormat): { dir: string; format: CifarFormat } {
  const formats: CifarFormat[] = format ? [format] : ['python', 'binary'];
  for (const f of formats) {
    const sub = path.join(root, DIRS[c][f]);
    if (isDir(sub)) return { dir: sub, format: f };
    if (path.basename(path.resolve(root)) === DIRS[c][f] || isFile(path.join(root, probeFile(c, f)))) {
      return { dir: root, format: f };
    }
  }
  const want = formats.map((f) => DIRS[c][f]).join(' or ');
  throw new DataFormatError(root, `missing CIFAR-${c} data: expected a folder ${want} (or its files) here`);
}

// ------------------------------------------------------------------------------------------ python

function asDict(file: string, v: PyValue): PyDict {
  if (!(v instanceof PyDict)) throw new DataFormatError(file, `expected a pickled dict, found ${pyTypeName(v)}`);
  return v;
}

function intList(file: string, d: PyDict, key: string, n?: number): Int32Array {
  const v = d.get(key);
  if (v === undefined) throw new DataFormatError(file, `missing key '${key}' (keys: ${d.keys().join(', ')})`);
  let out: Int32Array;
  if (Array.isArray(v)) {
    out = new Int32Array(v.length);
    v.forEach((x, i) => {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
        throw new DataFormatError(file, `'${key}'[${i}] is not a small integer (${pyTypeName(x)})`);
      }
      out[i] = x;
    });
  } else if (v instanceof NdArray && v.dtype && 'iub'.includes(v.dtype.kind) && v.shape.length === 1) {
    let nums: Float64Array;
    try {
      nums = v.toNumbers();
    } catch (e) {
      throw new DataFormatError(file, `'${key}': ${(e as Error).message}`);
    }
    out = Int32Array.from(nums, (x, i) => {
      if (x < -2147483648 || x > 2147483647)
        throw new DataFormatError(file, `'${key}'[${i}] = ${x} out of int32 range`);
      return x;
    });
  } else {
    throw new DataFormatError(file, `'${key}' must be a list of ints or a 1-d integer array, found ${pyTypeName(v)}`);
  }
  if (n !== undefined && out.length !== n) {
    throw new DataFormatError(file, `'${key}' has ${out.length} entries but 'data' has ${n} images`);
  }
  return out;
}

function checkRange(file: string, key: string, t: Int32Array, c: number): void {
  for (let i = 0; i < t.length; i++) {
    if (t[i] < 0 || t[i] >= c)
      throw new DataFormatError(file, `label out of range: '${key}'[${i}] = ${t[i]} (expected 0..${c - 1})`);
  }
}

function nameList(file: string, d: PyDict, key: string, expected: number): string[] {
  const v = d.get(key);
  if (!Array.isArray(v)) throw new DataFormatError(file, `missing or invalid '${key}' (found ${pyTypeName(v)})`);
  const names = v.map((x, i) => {
    const s = pyText(x);
    if (s === undefined) throw new DataFormatError(file, `'${key}'[${i}] is not a string`);
    return s;
  });
  if (names.length !== expected) {
    throw new DataFormatError(file, `class count mismatch: '${key}' lists ${names.length} names, expected ${expected}`);
  }
  return names;
}

interface PyBatch {
  images: Uint8Array; // NHWC
  n: number;
  labels: Map<string, Int32Array>;
}

function readPythonBatch(file: string, labelKeys: [string, number][]): PyBatch {
  const d = asDict(file, unpickle(readFileChecked(file), { file }));
  const data = d.get('data');
  if (data === undefined) throw new DataFormatError(file, `missing key 'data' (keys: ${d.keys().join(', ')})`);
  if (!(data instanceof NdArray) || !data.built)
    throw new DataFormatError(file, `'data' is a ${pyTypeName(data)}, expected an ndarray`);
  if (data.dtype?.str !== 'u1') throw new DataFormatError(file, `'data' has dtype ${data.dtype?.str}, expected uint8`);
  const n = data.shape[0] ?? 0;
  if (data.shape.length < 2 || data.size !== n * PIXELS) {
    throw new DataFormatError(file, `'data' has shape (${data.shape.join(', ')}), expected (N, 3072)`);
  }
  const labels = new Map<string, Int32Array>();
  for (const [key, c] of labelKeys) {
    const t = intList(file, d, key, n);
    checkRange(file, key, t, c);
    labels.set(key, t);
  }
  return { images: chwToHwc(data.data, n, 32, 32, 3), n, labels };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function concatI32(parts: Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function batchFiles(
  dir: string,
  split: 'train' | 'test',
  c: 10 | 100,
  format: CifarFormat,
  trainBatches: number,
): string[] {
  const ext = format === 'binary' ? '.bin' : '';
  if (c === 100) return [path.join(dir, split + ext)];
  if (split === 'test') return [path.join(dir, 'test_batch' + ext)];
  if (!Number.isInteger(trainBatches) || trainBatches < 1)
    throw new RangeError(`trainBatches must be a positive integer, got ${trainBatches}`);
  return Array.from({ length: trainBatches }, (_, i) => path.join(dir, `data_batch_${i + 1}${ext}`));
}

function checkSplit(split: string): 'train' | 'test' {
  if (split !== 'train' && split !== 'test')
    throw new RangeError(`CIFAR split must be 'train' or 'test', got '${split}'`);
  return split;
}

// ------------------------------------------------------------------------------------------ binary

function readBinaryBatch(file: string, labelBytes: 1 | 2, classes: number[]): PyBatch {
  const buf = readFileChecked(file);
  const rec = labelBytes + PIXELS;
  if (buf.length === 0) throw new DataFormatError(file, 'empty file');
  if (buf.length % rec !== 0) {
    throw new DataFormatError(file, `truncated: ${buf.length} bytes is not a whole number of ${rec}-byte records`);
  }
  const n = buf.length / rec;
  const chw = new Uint8Array(n * PIXELS);
  const labs = classes.map(() => new Int32Array(n));
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    for (let k = 0; k < labelBytes; k++) {
      const v = buf[o + k];
      if (v >= classes[k])
        throw new DataFormatError(file, `label out of range in record ${i}: ${v} (expected 0..${classes[k] - 1})`);
      labs[k][i] = v;
    }
    chw.set(buf.subarray(o + labelBytes, o + rec), i * PIXELS);
  }
  const keys = labelBytes === 1 ? ['labels'] : ['coarse_labels', 'fine_labels'];
  return { images: chwToHwc(chw, n, 32, 32, 3), n, labels: new Map(keys.map((k, i) => [k, labs[i]])) };
}

function textNames(file: string, expected: number): string[] | undefined {
  if (!isFile(file)) return undefined;
  const names = readLines(file);
  if (names.length !== expected)
    throw new DataFormatError(file, `class count mismatch: ${names.length} names, expected ${expected}`);
  return names;
}

// ------------------------------------------------------------------------------------------ public

/** Loads a CIFAR-10 split (python or binary layout). Class names come from the meta file when present. */
export function loadCifar10(opts: CifarOptions): CifarSource {
  const split = checkSplit(opts.split ?? 'train');
  const { dir, format } = resolveDir(10, opts.root, opts.format);
  const files = batchFiles(dir, split, 10, format, opts.trainBatches ?? 5);
  for (const f of files)
    if (!isFile(f)) throw new DataFormatError(f, `missing file (CIFAR-10 ${format} ${split} split)`);
  const batches = files.map((f) =>
    format === 'python' ? readPythonBatch(f, [['labels', 10]]) : readBinaryBatch(f, 1, [10]),
  );
  let classNames: string[] | undefined;
  if (format === 'python') {
    const meta = path.join(dir, 'batches.meta');
    if (isFile(meta))
      classNames = nameList(meta, asDict(meta, unpickle(readFileChecked(meta), { file: meta })), 'label_names', 10);
  } else {
    classNames = textNames(path.join(dir, 'batches.meta.txt'), 10);
  }
  return new DenseImageSource({
    name: `cifar10-${split}`,
    file: files.length === 1 ? files[0] : dir,
    data: concat(batches.map((b) => b.images)),
    layout: 'nhwc',
    imageSize: [32, 32, 3],
    targets: concatI32(batches.map((b) => b.labels.get('labels') as Int32Array)),
    numClasses: 10,
    classNames,
  });
}

/** Loads a CIFAR-100 split (python or binary layout) with fine (default) or coarse targets. */
export function loadCifar100(opts: Cifar100Options): CifarSource {
  const split = checkSplit(opts.split ?? 'train');
  const which = opts.labels ?? 'fine';
  if (which !== 'fine' && which !== 'coarse')
    throw new RangeError(`CIFAR-100 labels must be 'fine' or 'coarse', got '${which}'`);
  const { dir, format } = resolveDir(100, opts.root, opts.format);
  const [file] = batchFiles(dir, split, 100, format, 1);
  const b =
    format === 'python'
      ? readPythonBatch(file, [
          ['fine_labels', 100],
          ['coarse_labels', 20],
        ])
      : readBinaryBatch(file, 2, [20, 100]);
  let fineNames: string[] | undefined;
  let coarseNames: string[] | undefined;
  if (format === 'python') {
    const meta = path.join(dir, 'meta');
    if (isFile(meta)) {
      const d = asDict(meta, unpickle(readFileChecked(meta), { file: meta }));
      fineNames = nameList(meta, d, 'fine_label_names', 100);
      coarseNames = nameList(meta, d, 'coarse_label_names', 20);
    }
  } else {
    fineNames = textNames(path.join(dir, 'fine_label_names.txt'), 100);
    coarseNames = textNames(path.join(dir, 'coarse_label_names.txt'), 20);
  }
  const fine = b.labels.get('fine_labels') as Int32Array;
  const coarse = b.labels.get('coarse_labels') as Int32Array;
  const src = new DenseImageSource({
    name: `cifar100-${split}${which === 'coarse' ? '-coarse' : ''}`,
    file,
    data: b.images,
    layout: 'nhwc',
    imageSize: [32, 32, 3],
    targets: which === 'fine' ? fine : coarse,
    numClasses: which === 'fine' ? 100 : 20,
    classNames: which === 'fine' ? fineNames : coarseNames,
  });
  return Object.assign(src, { fineTargets: fine, coarseTargets: coarse, coarseClassNames: coarseNames });
}
