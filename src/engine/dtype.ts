// dtype names as PyTorch spells them, and their c10::ScalarType codes (c10/core/ScalarType.h).

export type DType =
  'uint8' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'bool' | 'bfloat16';

const CODES: Record<DType, number> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};
const NAMES: Record<number, DType> = Object.fromEntries(
  Object.entries(CODES).map(([k, v]) => [v, k as DType]),
) as Record<number, DType>;

/** PyTorch-style aliases accepted wherever a dtype is. */
const ALIASES: Record<string, DType> = {
  float: 'float32',
  double: 'float64',
  half: 'float16',
  long: 'int64',
  int: 'int32',
  short: 'int16',
  byte: 'uint8',
  char: 'int8',
};

export function dtypeCode(d: DType | string): number {
  const name = (ALIASES[d] ?? d) as DType;
  const code = CODES[name];
  if (code === undefined) {
    throw new TypeError(`unknown dtype '${d}' (allowed: ${Object.keys(CODES).join(', ')})`);
  }
  return code;
}

export function dtypeName(code: number): DType {
  const n = NAMES[code];
  if (n === undefined) throw new TypeError(`ltkit does not support ScalarType code ${code}`);
  return n;
}

export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : D extends 'float16' | 'bfloat16'
              ? Uint16Array
              : Uint8Array;

export type AnyTypedArray =
  Float32Array | Float64Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint16Array | Uint8Array;

/** A typed array view of raw little-endian bytes for a dtype (float16/bfloat16 as raw Uint16). */
export function typedView(dtype: DType, buf: ArrayBuffer): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf);
  }
}

export function elementSize(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
      return 2;
    default:
      return 1;
  }
}

export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}
