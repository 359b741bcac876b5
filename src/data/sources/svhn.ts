// SVHN "format 2" cropped digits (http://ufldl.stanford.edu/housenumbers/): `train_32x32.mat`,
// `test_32x32.mat`, `extra_32x32.mat`, each a MATLAB Level 5 MAT-file (see mat5.ts) holding
// X: uint8 [32, 32, 3, N] (column-major: row, column, channel, image) and y: [N, 1] labels 1..10
// where 10 stands for digit 0 (mapped here to label 0, so label = digit).
import * as path from 'path';
import { DenseImageSource } from './dense-source';
import { readFileChecked } from './file-io';
import { matNumbers, matUint8, readMat5 } from './mat5';
import { DataFormatError } from './types';

export type SvhnSplit = 'train' | 'test' | 'extra';

export interface SvhnOptions {
  /** Folder holding `<split>_32x32.mat`. */
  root: string;
  split?: SvhnSplit;
}

/** Loads one SVHN split; images stay in the file's column-major layout and are gathered to HWC on access. */
export function loadSvhn(opts: SvhnOptions): DenseImageSource {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test' && split !== 'extra') {
    throw new RangeError(`SVHN split must be 'train', 'test' or 'extra', got '${split}'`);
  }
  const file = path.join(opts.root, `${split}_32x32.mat`);
  return svhnFromMat(readFileChecked(file), file, `svhn-${split}`);
}

/** Builds an SVHN source from the bytes of a `*_32x32.mat` file. */
export function svhnFromMat(buf: Uint8Array, file: string, name = 'svhn'): DenseImageSource {
  const mat = readMat5(buf, file);
  const X = mat.variables.get('X');
  const y = mat.variables.get('y');
  if (!X || !y) {
    throw new DataFormatError(
      file,
      `missing variable ${!X ? "'X'" : "'y'"} (found: ${[...mat.variables.keys()].join(', ') || 'none'})`,
    );
  }
  if (X.dims.length !== 4 || X.dims[2] !== 3) {
    throw new DataFormatError(file, `'X' has dims [${X.dims.join(',')}], expected [H,W,3,N]`);
  }
  if (X.complex || y.complex) throw new DataFormatError(file, 'complex arrays are not valid SVHN data');
  const [h, w, , n] = X.dims;
  const yn = y.dims.reduce((a, b) => a * b, 1);
  if (y.dims.length !== 2 || Math.min(...y.dims) !== 1 || yn !== n) {
    throw new DataFormatError(file, `'y' has dims [${y.dims.join(',')}], expected [${n},1] to match 'X'`);
  }
  const raw = matNumbers(y, file);
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = raw[i];
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw new DataFormatError(file, `label out of range: y[${i}] = ${v} (SVHN labels are 1..10, 10 = digit 0)`);
    }
    targets[i] = v === 10 ? 0 : v;
  }
  return new DenseImageSource({
    name,
    file,
    data: matUint8(X, file),
    layout: 'colmajor-hwcn',
    imageSize: [h, w, 3],
    targets,
    numClasses: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  });
}
