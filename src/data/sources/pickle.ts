// Safe, restricted unpickler for Python pickle protocols 2–4 (opcode semantics per CPython
// Lib/pickletools.py and PEP 307/3154), limited to what the CIFAR-10/100 python archives need.
// It never executes code: GLOBAL/STACK_GLOBAL resolve only an allow-list of names to inert markers,
// and REDUCE/BUILD are interpreted for exactly those (numpy array/dtype reconstruction and
// `_codecs.encode(str, 'latin1')`). Any other global, opcode or object shape is a DataFormatError.
// Python 2 `str` (BINSTRING/SHORT_BINSTRING) loads as bytes, like `pickle.load(f, encoding='bytes')`.
import { DataFormatError } from './types';

export type PyValue =
  null | boolean | number | bigint | string | Uint8Array | PyValue[] | PyTuple | PyDict | NdArray | PyDtype | PyGlobal;

export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

/** A Python dict; keys may be str or bytes (Python 2 pickles), and `get` matches either. */
export class PyDict {
  readonly entries: [PyValue, PyValue][] = [];
  private readonly index = new Map<string, number>();
  set(k: PyValue, v: PyValue): void {
    const key = canonicalKey(k);
    const at = key === undefined ? undefined : this.index.get(key);
    if (at !== undefined) {
      this.entries[at][1] = v;
      return;
    }
    if (key !== undefined) this.index.set(key, this.entries.length);
    this.entries.push([k, v]);
  }
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }
  /** Looks a key up as str or as bytes with the same (latin-1) text. */
  get(name: string): PyValue | undefined {
    const at = this.index.get('s:' + name) ?? this.index.get('b:' + name);
    return at === undefined ? undefined : this.entries[at][1];
  }
  keys(): string[] {
    return this.entries.map((e) => pyText(e[0]) ?? String(e[0]));
  }
}

/** Hashable form of a dict key (str, bytes, int, bool, None); undefined for other key types. */
function canonicalKey(k: PyValue): string | undefined {
  if (typeof k === 'string') return 's:' + k;
  if (k instanceof Uint8Array) return 'b:' + latin1(k);
  if (typeof k === 'number' && Number.isInteger(k)) return 'n:' + k;
  if (typeof k === 'bigint') return 'n:' + k;
  if (typeof k === 'boolean') return 'n:' + (k ? 1 : 0);
  if (typeof k === 'number') return 'f:' + k;
  if (k === null) return 'None';
  return undefined;
}

/** An allow-listed global: an inert marker, never a callable. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

const DTYPE_RE = /^([<>|=])?([biuf])(\d+)$/;
const ITEMSIZES = new Set(['b1', 'i1', 'u1', 'i2', 'u2', 'i4', 'u4', 'i8', 'u8', 'f4', 'f8']);

export class PyDtype {
  byteorder: '<' | '>' | '|' = '<';
  constructor(
    readonly kind: 'b' | 'i' | 'u' | 'f',
    readonly itemsize: number,
  ) {}
  get str(): string {
    return `${this.kind}${this.itemsize}`;
  }
}

/** A numpy array rebuilt from a pickle: raw little-endian bytes in C order. */
export class NdArray {
  shape: number[] = [];
  dtype: PyDtype | null = null;
  data: Uint8Array = new Uint8Array(0);
  built = false;
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** Element values as numbers (int64 beyond 2^53 throws). */
  toNumbers(): Float64Array {
    const d = this.dtype;
    if (!d || !this.built) throw new Error('ndarray not built');
    const n = this.size;
    const out = new Float64Array(n);
    const dv = new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    for (let i = 0; i < n; i++) {
      const o = i * d.itemsize;
      switch (d.str) {
        case 'u1':
          out[i] = dv.getUint8(o);
          break;
        case 'b1':
          out[i] = dv.getUint8(o) ? 1 : 0;
          break;
        case 'i1':
          out[i] = dv.getInt8(o);
          break;
        case 'u2':
          out[i] = dv.getUint16(o, true);
          break;
        case 'i2':
          out[i] = dv.getInt16(o, true);
          break;
        case 'u4':
          out[i] = dv.getUint32(o, true);
          break;
        case 'i4':
          out[i] = dv.getInt32(o, true);
          break;
        case 'f4':
          out[i] = dv.getFloat32(o, true);
          break;
        case 'f8':
          out[i] = dv.getFloat64(o, true);
          break;
        case 'i8':
        case 'u8': {
          const v = d.kind === 'i' ? dv.getBigInt64(o, true) : dv.getBigUint64(o, true);
          if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
            throw new RangeError(`int64 value ${v} exceeds 2^53`);
          }
          out[i] = Number(v);
          break;
        }
      }
    }
    return out;
  }
}

export interface UnpickleOptions {
  /** File name used in error messages. */
  file?: string;
}

const ALLOWED_GLOBALS = new Set([
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode',
]);

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof NdArray) return 'ndarray';
  if (v instanceof PyDtype) return 'dtype';
  if (v instanceof PyGlobal) return v.qualname;
  return typeof v;
}

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

/** Parses a pickle held in memory. Throws DataFormatError for anything outside the supported subset. */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions = {}): PyValue {
  const file = opts.file ?? '<pickle>';
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let stack: Slot[] = [];
  const metastack: Slot[][] = [];
  const memo = new Map<number, PyValue>();
  const fail = (msg: string): never => {
    throw new DataFormatError(file, `pickle: ${msg}`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > buf.length) fail(`truncated (needs ${n} bytes at offset ${pos}, file has ${buf.length})`);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    const b = buf.slice(pos, pos + n);
    pos += n;
    return b;
  };
  const u8 = (): number => {
    need(1);
    return buf[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(buf.length)) fail(`length ${v} at offset ${pos - 8} exceeds the file size`);
    return Number(v);
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated (unterminated line at offset ${pos})`);
    const s = latin1(buf.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const str = (n: number): string => {
    const b = bytes(n);
    try {
      return utf8.decode(b);
    } catch {
      return fail(`invalid UTF-8 string at offset ${pos - n}`);
    }
  };
  const pop = (): PyValue => {
    if (stack.length === 0) fail(`stack underflow at offset ${pos - 1}`);
    const v = stack.pop() as Slot;
    if (v === MARK) fail(`unexpected MARK at offset ${pos - 1}`);
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail(`stack underflow at offset ${pos - 1}`);
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const items = stack as PyValue[];
    if (metastack.length === 0) fail(`no MARK for opcode at offset ${pos - 1}`);
    stack = metastack.pop() as Slot[];
    return items;
  };
  const int = (v: bigint): number | bigint =>
    v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  const push = (v: PyValue): void => {
    stack.push(v);
  };
  const memoGet = (k: number): void => {
    if (!memo.has(k)) fail(`memo key ${k} missing`);
    push(memo.get(k) as PyValue);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(q)) fail(`global '${q}' is not allowed (only numpy array reconstruction is supported)`);
    return new PyGlobal(module, name);
  };
  const setItems = (d: PyValue, items: PyValue[]): void => {
    if (!(d instanceof PyDict)) return fail(`SETITEM(S) on a ${describe(d)}`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const append = (l: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(l)) return fail(`APPEND(S) on a ${describe(l)}`);
    for (const x of items) l.push(x);
  };

  const reduce = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal)) return fail(`REDUCE on a non-global ${describe(fn)}`);
    if (!(args instanceof PyTuple)) return fail(`REDUCE of ${fn.qualname} with ${describe(args)} arguments`);
    const a = args.items;
    switch (fn.qualname) {
      case '_codecs.encode': {
        const enc = typeof a[1] === 'string' ? a[1].toLowerCase().replace('_', '-') : '';
        if (typeof a[0] !== 'string' || a.length !== 2) return fail('_codecs.encode expects (str, encoding)');
        if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1') {
          if (/[^\x00-\xff]/.test(a[0])) fail('_codecs.encode: character outside latin-1');
          return new Uint8Array(Buffer.from(a[0], 'latin1'));
        }
        if (enc === 'utf-8' || enc === 'utf8') return new Uint8Array(Buffer.from(a[0], 'utf8'));
        return fail(`_codecs.encode with unsupported encoding ${String(a[1])}`);
      }
      case 'numpy.dtype': {
        const s = typeof a[0] === 'string' ? a[0] : a[0] instanceof Uint8Array ? latin1(a[0]) : '';
        const m = DTYPE_RE.exec(s);
        if (!m || !ITEMSIZES.has(m[2] + m[3])) return fail(`unsupported numpy dtype '${s}'`);
        const d = new PyDtype(m[2] as PyDtype['kind'], Number(m[3]));
        if (m[1] === '>') d.byteorder = '>';
        return d;
      }
      case 'numpy.core.multiarray._reconstruct':
      case 'numpy._core.multiarray._reconstruct': {
        if (!(a[0] instanceof PyGlobal) || a[0].qualname !== 'numpy.ndarray') {
          return fail(`_reconstruct of ${describe(a[0])} (only numpy.ndarray is allowed)`);
        }
        return new NdArray();
      }
      default:
        return fail(`${fn.qualname} cannot be called`);
    }
  };

  const build = (obj: PyValue, state: PyValue): void => {
    if (!(state instanceof PyTuple)) return fail(`BUILD of ${describe(obj)} with ${describe(state)} state`);
    const s = state.items;
    if (obj instanceof PyDtype) {
      const bo = s[1];
      if (bo === '>') obj.byteorder = '>';
      else if (bo === '<' || bo === '=') obj.byteorder = '<';
      else if (bo === '|') obj.byteorder = '|';
      else fail(`dtype state with byte order ${String(bo)}`);
      if (s.length > 2 && s[2] !== null) fail('structured/subarray dtypes are not supported');
      return;
    }
    if (!(obj instanceof NdArray)) return fail(`BUILD on a ${describe(obj)}`);
    if (obj.built) fail('ndarray built twice');
    const st = s.length === 5 ? s.slice(1) : s; // (version, shape, dtype, is_fortran, raw) or without version
    if (st.length !== 4) return fail(`ndarray state with ${s.length} items`);
    const [shape, dtype, fortran, raw] = st;
    if (
      !(shape instanceof PyTuple) ||
      !shape.items.every((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0)
    ) {
      return fail('ndarray shape is not a tuple of non-negative ints');
    }
    if (!(dtype instanceof PyDtype)) return fail(`ndarray dtype is a ${describe(dtype)}`);
    let data: Uint8Array;
    if (raw instanceof Uint8Array) data = raw;
    else if (typeof raw === 'string') data = Uint8Array.from(raw, (ch) => ch.charCodeAt(0) & 0xff);
    else return fail(`ndarray data is a ${describe(raw)} (object arrays are not supported)`);
    const dims = shape.items as number[];
    const size = dims.reduce((x, y) => x * y, 1);
    if (data.length !== size * dtype.itemsize) {
      fail(
        `ndarray data has ${data.length} bytes, shape (${dims.join(',')}) ${dtype.str} needs ${size * dtype.itemsize}`,
      );
    }
    const isz = dtype.itemsize;
    if (dtype.byteorder === '>' && isz > 1) {
      data = data.slice();
      for (let i = 0; i < data.length; i += isz) data.subarray(i, i + isz).reverse();
    }
    if (fortran === true || fortran === 1) data = fortranToC(data, dims, isz);
    obj.shape = dims;
    obj.dtype = dtype;
    obj.data = data;
    obj.built = true;
  };

  for (;;) {
    if (pos >= buf.length) fail(`truncated (no STOP opcode; ended at offset ${pos})`);
    const op = buf[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const p = u8();
        if (p < 2 || p > 4) fail(`unsupported pickle protocol ${p} (2–4 are supported)`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: framing is transparent
      case 0x2e: {
        // STOP
        const v = pop();
        if (stack.length || metastack.length) fail('items left on the stack at STOP');
        return v;
      }
      case 0x7d:
        push(new PyDict());
        break; // EMPTY_DICT
      case 0x5d:
        push([]);
        break; // EMPTY_LIST
      case 0x29:
        push(new PyTuple([]));
        break; // EMPTY_TUPLE
      case 0x28:
        metastack.push(stack);
        stack = [];
        break; // MARK
      case 0x58:
        push(str(u32()));
        break; // BINUNICODE
      case 0x8c:
        push(str(u8()));
        break; // SHORT_BINUNICODE
      case 0x8d:
        push(str(u64()));
        break; // BINUNICODE8
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(bytes(n));
        break;
      }
      case 0x55:
        push(bytes(u8()));
        break; // SHORT_BINSTRING
      case 0x42:
        push(bytes(u32()));
        break; // BINBYTES
      case 0x43:
        push(bytes(u8()));
        break; // SHORT_BINBYTES
      case 0x8e:
        push(bytes(u64()));
        break; // BINBYTES8
      case 0x4a:
        push(i32());
        break; // BININT
      case 0x4b:
        push(u8());
        break; // BININT1
      case 0x4d:
        push(u16());
        break; // BININT2
      case 0x8a:
      case 0x8b: {
        // LONG1, LONG4
        const n = op === 0x8a ? u8() : u32();
        if (n > 64) fail(`LONG integer of ${n} bytes is too large`);
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        push(int(v));
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8);
        push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x4e:
        push(null);
        break; // NONE
      case 0x88:
        push(true);
        break; // NEWTRUE
      case 0x89:
        push(false);
        break; // NEWFALSE
      case 0x85:
        push(new PyTuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        push(new PyTuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x74:
        push(new PyTuple(popMark()));
        break; // TUPLE
      case 0x6c:
        push(popMark());
        break; // LIST
      case 0x65: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS
      case 0x61: {
        const v = pop();
        append(top(), [v]);
        break;
      } // APPEND
      case 0x64: {
        const items = popMark();
        const d = new PyDict();
        setItems(d, items);
        push(d);
        break;
      } // DICT
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
        memoGet(u8());
        break; // BINGET
      case 0x6a:
        memoGet(u32());
        break; // LONG_BINGET
      case 0x63: {
        const m = line();
        const n = line();
        push(resolveGlobal(m, n));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const n = pop();
        const m = pop();
        if (typeof m !== 'string' || typeof n !== 'string') fail('STACK_GLOBAL needs two strings');
        push(resolveGlobal(m as string, n as string));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        push(reduce(fn, args));
        break;
      } // REDUCE
      case 0x62: {
        const state = pop();
        build(top(), state);
        break;
      } // BUILD
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at offset ${pos - 1}`);
    }
  }
}

/** Reorders a Fortran-order (column-major) array's bytes into C order. */
function fortranToC(src: Uint8Array, dims: number[], isz: number): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (dims.length < 2 || n === 0) return src;
  const out = new Uint8Array(src.length);
  const idx = new Array<number>(dims.length).fill(0);
  const fstride: number[] = [];
  let s = 1;
  for (const d of dims) {
    fstride.push(s);
    s *= d;
  }
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let k = 0; k < dims.length; k++) f += idx[k] * fstride[k];
    out.set(src.subarray(f * isz, (f + 1) * isz), c * isz);
    for (let k = dims.length - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Python-style description of a value's type, for error messages. */
export function pyTypeName(v: PyValue | undefined): string {
  return describe(v);
}

/** Decodes a bytes or str value as text (latin-1 for bytes). */
export function pyText(v: PyValue | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return latin1(v);
  return undefined;
}
