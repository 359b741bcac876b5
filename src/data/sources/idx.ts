// IDX files as used by MNIST (http://yann.lecun.com/exdb/mnist/) and Fashion-MNIST: big-endian
// magic 00 00 <type> <ndims> (type 0x08 = unsigned byte, ...), then ndims big-endian uint32 sizes,
// then the data in C order. Images: magic 0x00000803 (N, rows, cols); labels: 0x00000801 (N).
// Files may be gzip-compressed (`*.gz`); both raw and gz are accepted.
import * as path from 'path';
import { DenseImageSource } from './dense-source';
import { isFile, readMaybeGzip } from './file-io';
import { DataFormatError } from './types';

const IDX_TYPES: Record<number, { name: string; size: number }> = {
  0x08: { name: 'uint8', size: 1 },
  0x09: { name: 'int8', size: 1 },
  0x0b: { name: 'int16', size: 2 },
  0x0c: { name: 'int32', size: 4 },
  0x0d: { name: 'float32', size: 4 },
  0x0e: { name: 'float64', size: 8 },
};

export interface IdxArray {
  /** 'uint8', 'int8', 'int16', 'int32', 'float32', 'float64'. */
  type: string;
  dims: number[];
  /** Raw big-endian element bytes in C order. */
  data: Uint8Array;
}

/** Parses an (uncompressed) IDX buffer, optionally requiring an exact magic number. */
export function readIdx(buf: Uint8Array, file = '<idx>', expectMagic?: number): IdxArray {
  if (buf.length < 4) throw new DataFormatError(file, `truncated: ${buf.length} bytes, an IDX header needs at least 4`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, false);
  const hex = (m: number): string => '0x' + m.toString(16).padStart(8, '0');
  if (expectMagic !== undefined && magic !== expectMagic) {
    throw new DataFormatError(file, `wrong magic ${hex(magic)}, expected ${hex(expectMagic)}`);
  }
  const t = IDX_TYPES[buf[2]];
  if (buf[0] !== 0 || buf[1] !== 0 || !t || buf[3] === 0)
    throw new DataFormatError(file, `wrong magic ${hex(magic)}: not an IDX file`);
  const nd = buf[3];
  const head = 4 + 4 * nd;
  if (buf.length < head) throw new DataFormatError(file, `truncated header: ${buf.length} bytes, needs ${head}`);
  const dims: number[] = [];
  for (let k = 0; k < nd; k++) dims.push(dv.getUint32(4 + 4 * k, false));
  const need = dims.reduce((a, b) => a * b, 1) * t.size;
  if (buf.length - head < need) {
    throw new DataFormatError(
      file,
      `truncated: dims [${dims.join(', ')}] need ${need} data bytes, file has ${buf.length - head}`,
    );
  }
  if (buf.length - head > need) {
    throw new DataFormatError(
      file,
      `${buf.length - head - need} unexpected trailing bytes after dims [${dims.join(', ')}]`,
    );
  }
  return { type: t.name, dims, data: buf.subarray(head) };
}

export type MnistFlavour = 'mnist' | 'fashion-mnist';

export interface MnistOptions {
  /** Folder with the four IDX files (raw or .gz). */
  root: string;
  split?: 'train' | 'test';
  /** Sets the source name and class names (default 'mnist'). */
  flavour?: MnistFlavour;
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

function findIdx(root: string, prefix: string, kind: 'images' | 'labels'): string {
  const d = kind === 'images' ? 3 : 1;
  const bases = [`${prefix}-${kind}-idx${d}-ubyte`, `${prefix}-${kind}.idx${d}-ubyte`];
  for (const b of bases) {
    for (const name of [b, b + '.gz']) {
      const p = path.join(root, name);
      if (isFile(p)) return p;
    }
  }
  throw new DataFormatError(path.join(root, bases[0] + '(.gz)'), 'missing file');
}

/** Loads an MNIST-style split (MNIST, Fashion-MNIST, KMNIST, …: 10 classes, IDX uint8 images and labels). */
export function loadMnist(opts: MnistOptions): DenseImageSource {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test')
    throw new RangeError(`MNIST split must be 'train' or 'test', got '${split}'`);
  const flavour = opts.flavour ?? 'mnist';
  const prefix = split === 'train' ? 'train' : 't10k';
  const imgFile = findIdx(opts.root, prefix, 'images');
  const labFile = findIdx(opts.root, prefix, 'labels');
  const img = readIdx(readMaybeGzip(imgFile), imgFile, 0x00000803);
  const lab = readIdx(readMaybeGzip(labFile), labFile, 0x00000801);
  const [n, h, w] = img.dims;
  if (lab.dims[0] !== n) {
    throw new DataFormatError(labFile, `count mismatch: ${lab.dims[0]} labels but ${imgFile} has ${n} images`);
  }
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = lab.data[i];
    if (v >= 10) throw new DataFormatError(labFile, `label out of range at index ${i}: ${v} (expected 0..9)`);
    targets[i] = v;
  }
  return new DenseImageSource({
    name: `${flavour}-${split}`,
    file: labFile,
    data: img.data,
    layout: 'nhwc',
    imageSize: [h, w, 1],
    targets,
    numClasses: 10,
    classNames:
      flavour === 'fashion-mnist' ? [...FASHION_MNIST_CLASSES] : ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
}
