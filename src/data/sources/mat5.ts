// Reader for MATLAB Level 5 MAT-files ("MAT-File Format", MathWorks, R2018a+ doc, chapter 1):
// 128-byte header (text, subsystem offset, version 0x0100, endian indicator 'IM'/'MI'), then tagged
// data elements; miCOMPRESSED elements hold one zlib-deflated element; miMATRIX holds array flags,
// dimensions, name and the real (and optional imaginary) part. Small data elements (<= 4 bytes) pack
// type and size into one 32-bit word. Numeric arrays are column-major; MATLAB may store a class's
// values with a narrower element type (e.g. a double array written as miUINT8), so values are read
// by element type and interpreted by class. Non-numeric arrays (cell, struct, char, sparse, object) are
// listed but not decoded. MAT 7.3 files are HDF5 and are rejected with a clear message.
import * as zlib from 'zlib';
import { DataFormatError } from './types';

const MI_SIZES: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 2,
  5: 4,
  6: 4,
  7: 4,
  9: 8,
  12: 8,
  13: 8,
  16: 1,
  17: 2,
  18: 4,
};
const MI_NAMES: Record<number, string> = {
  1: 'miINT8',
  2: 'miUINT8',
  3: 'miINT16',
  4: 'miUINT16',
  5: 'miINT32',
  6: 'miUINT32',
  7: 'miSINGLE',
  9: 'miDOUBLE',
  12: 'miINT64',
  13: 'miUINT64',
  14: 'miMATRIX',
  15: 'miCOMPRESSED',
  16: 'miUTF8',
  17: 'miUTF16',
  18: 'miUTF32',
};
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;

export const MX_CLASSES: Record<number, string> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};

export interface MatNumeric {
  /** Element type (miUINT8 = 2, miDOUBLE = 9, …). */
  miType: number;
  bytes: Uint8Array;
  littleEndian: boolean;
}

export interface MatVariable {
  name: string;
  /** MATLAB class name: 'double', 'uint8', 'cell', … */
  className: string;
  dims: number[];
  complex: boolean;
  logical: boolean;
  /** Real part, column-major, for numeric classes only. */
  real?: MatNumeric;
}

interface Tag {
  type: number;
  nbytes: number;
  data: number;
  next: number;
}

export interface MatFile {
  header: string;
  littleEndian: boolean;
  variables: Map<string, MatVariable>;
}

/** Parses a Level 5 MAT-file held in memory. */
export function readMat5(buf: Uint8Array, file = '<mat>'): MatFile {
  const fail = (msg: string): never => {
    throw new DataFormatError(file, msg);
  };
  if (buf.length < 128) fail(`truncated: ${buf.length} bytes, a MAT-file header needs 128`);
  const header = Buffer.from(buf.subarray(0, 116))
    .toString('latin1')
    .replace(/[\s\0]+$/, '');
  if (header.startsWith('MATLAB 7.3')) fail('MAT-file v7.3 (HDF5) is not supported; re-save with -v7');
  const ei = String.fromCharCode(buf[126], buf[127]);
  if (ei !== 'IM' && ei !== 'MI')
    fail(`wrong magic: endian indicator '${ei}', expected 'IM' or 'MI' (not a Level 5 MAT-file)`);
  const le = ei === 'IM';
  const hdv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = hdv.getUint16(124, le);
  if (version !== 0x0100) fail(`unsupported MAT-file version 0x${version.toString(16)} (expected 0x0100)`);

  const readTag = (dv: DataView, at: number, end: number, where: string): Tag => {
    if (at + 8 > end) fail(`truncated ${where}: data element tag at offset ${at} runs past ${end}`);
    const w = dv.getUint32(at, le);
    let t: Tag;
    if (w >>> 16 !== 0) {
      t = { type: w & 0xffff, nbytes: w >>> 16, data: at + 4, next: at + 8 };
      if (t.nbytes > 4) fail(`corrupt small data element at offset ${at} (${t.nbytes} bytes)`);
    } else {
      const nbytes = dv.getUint32(at + 4, le);
      const padded = w === MI_COMPRESSED ? nbytes : nbytes + ((8 - (nbytes % 8)) % 8);
      t = { type: w, nbytes, data: at + 8, next: Math.min(at + 8 + padded, end) };
    }
    if (t.data + t.nbytes > end) {
      fail(
        `truncated ${where}: ${MI_NAMES[t.type] ?? 'type ' + t.type} element at offset ${at} needs ${t.nbytes} bytes, ${end - t.data} left`,
      );
    }
    return t;
  };

  const parseMatrix = (b: Uint8Array, dv: DataView, start: number, end: number): MatVariable | null => {
    if (start === end) return null; // empty miMATRIX
    const flags = readTag(dv, start, end, 'array flags');
    if (flags.type !== 6 || flags.nbytes !== 8) fail(`bad array flags element at offset ${start}`);
    const fw = dv.getUint32(flags.data, le);
    const mx = fw & 0xff;
    const className = MX_CLASSES[mx];
    if (!className) fail(`unknown array class ${mx} at offset ${start}`);
    const dimsTag = readTag(dv, flags.next, end, 'dimensions');
    if (dimsTag.type !== 5 || dimsTag.nbytes % 4) fail(`bad dimensions element at offset ${flags.next}`);
    const dims: number[] = [];
    for (let k = 0; k < dimsTag.nbytes; k += 4) {
      const d = dv.getInt32(dimsTag.data + k, le);
      if (d < 0) fail(`negative dimension ${d}`);
      dims.push(d);
    }
    const nameTag = readTag(dv, dimsTag.next, end, 'array name');
    if (nameTag.type !== 1) fail(`bad array name element at offset ${dimsTag.next}`);
    const name = Buffer.from(b.subarray(nameTag.data, nameTag.data + nameTag.nbytes)).toString('latin1');
    const v: MatVariable = { name, className, dims, complex: (fw & 0x800) !== 0, logical: (fw & 0x200) !== 0 };
    if (mx >= 6 && mx <= 15) {
      const re = readTag(dv, nameTag.next, end, `real part of '${name}'`);
      const size = MI_SIZES[re.type];
      if (!size || re.type > 13) fail(`variable '${name}': unsupported element type ${MI_NAMES[re.type] ?? re.type}`);
      const count = dims.reduce((a, c) => a * c, 1);
      if (re.nbytes !== count * size) {
        fail(
          `variable '${name}': real part has ${re.nbytes} bytes, dims [${dims.join(',')}] of ${MI_NAMES[re.type]} need ${count * size}`,
        );
      }
      v.real = { miType: re.type, bytes: b.subarray(re.data, re.data + re.nbytes), littleEndian: le };
    }
    return v;
  };

  const variables = new Map<string, MatVariable>();
  const addElement = (b: Uint8Array, dv: DataView, at: number, end: number, depth: number): number => {
    const t = readTag(dv, at, end, 'file');
    if (t.type === MI_COMPRESSED) {
      if (depth > 0) fail('nested miCOMPRESSED element');
      let inner: Buffer;
      try {
        inner = zlib.inflateSync(b.subarray(t.data, t.data + t.nbytes));
      } catch (e) {
        return fail(`corrupt or truncated miCOMPRESSED element at offset ${at}: ${(e as Error).message}`);
      }
      const idv = new DataView(inner.buffer, inner.byteOffset, inner.byteLength);
      addElement(inner, idv, 0, inner.length, depth + 1);
    } else if (t.type === MI_MATRIX) {
      const v = parseMatrix(b, dv, t.data, t.data + t.nbytes);
      if (v) {
        if (variables.has(v.name)) fail(`duplicate variable '${v.name}'`);
        variables.set(v.name, v);
      }
    } else {
      fail(`unexpected top-level ${MI_NAMES[t.type] ?? 'element type ' + t.type} at offset ${at}`);
    }
    return t.next;
  };

  let pos = 128;
  while (pos < buf.length) pos = addElement(buf, hdv, pos, buf.length, 0);
  return { header, littleEndian: le, variables };
}

/** A numeric variable's values as float64 (column-major order). */
export function matNumbers(v: MatVariable, file = '<mat>'): Float64Array {
  if (!v.real) throw new DataFormatError(file, `variable '${v.name}' is a ${v.className}, not numeric`);
  const { miType, bytes, littleEndian: le } = v.real;
  const size = MI_SIZES[miType];
  const n = bytes.length / size;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (miType) {
      case 1:
        out[i] = dv.getInt8(o);
        break;
      case 2:
        out[i] = bytes[o];
        break;
      case 3:
        out[i] = dv.getInt16(o, le);
        break;
      case 4:
        out[i] = dv.getUint16(o, le);
        break;
      case 5:
        out[i] = dv.getInt32(o, le);
        break;
      case 6:
        out[i] = dv.getUint32(o, le);
        break;
      case 7:
        out[i] = dv.getFloat32(o, le);
        break;
      case 9:
        out[i] = dv.getFloat64(o, le);
        break;
      case 12:
        out[i] = Number(dv.getBigInt64(o, le));
        break;
      case 13:
        out[i] = Number(dv.getBigUint64(o, le));
        break;
    }
  }
  return out;
}

/** A uint8 variable's bytes (column-major), zero-copy when stored as miUINT8. */
export function matUint8(v: MatVariable, file = '<mat>'): Uint8Array {
  if (v.className !== 'uint8')
    throw new DataFormatError(file, `variable '${v.name}' has class ${v.className}, expected uint8`);
  if (v.real && v.real.miType === 2) return v.real.bytes;
  const nums = matNumbers(v, file);
  return Uint8Array.from(nums, (x, i) => {
    if (!(x >= 0 && x <= 255 && Number.isInteger(x)))
      throw new DataFormatError(file, `'${v.name}'[${i}] = ${x} is not a uint8`);
    return x;
  });
}
