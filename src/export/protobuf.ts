// A minimal protocol-buffers wire-format writer and reader — just what an ONNX file needs (varint and
// length-delimited fields, little-endian fixed32 floats). Encoding rules: protobuf's "Encoding" guide
// (protobuf.dev/programming-guides/encoding): a field is a tag varint (field_number << 3 | wire_type) followed by
// its value; wire type 0 = varint (int32/int64/enum; a negative int64 is its 64-bit two's complement, 10 bytes),
// 2 = length-delimited (string, bytes, nested message: varint length then the bytes), 5 = fixed32 (float).
//
// A message is built as a list of byte chunks and concatenated once (`Message.finish()`), so a large tensor's
// raw bytes are copied once, into the file, however deep the message that holds them.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();

function varintBytes(value: number | bigint): Uint8Array {
  let v: bigint;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`protobuf: ${value} is not a safe integer`);
    if (value >= 0 && value < 0x80) return Uint8Array.of(value);
    v = BigInt(value);
  } else v = value;
  v = BigInt.asUintN(64, v); // negative int64 → two's complement
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** A message being written: fields in the order they are added. */
export class Message {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  get byteLength(): number {
    return this.size;
  }

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.byteLength;
  }
  private tag(field: number, wire: number): void {
    this.push(varintBytes(field * 8 + wire));
  }

  /** int32 / int64 / enum / bool field (wire type 0). */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(varintBytes(value));
    return this;
  }
  /** float field (wire type 5, IEEE 754 single, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }
  /** bytes field (wire type 2); the array is referenced, not copied, until `finish()`. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.push(varintBytes(value.byteLength));
    this.push(value);
    return this;
  }
  /** string field (UTF-8, wire type 2). */
  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }
  /** Embedded message field (wire type 2). */
  message(field: number, m: Message): this {
    this.tag(field, WIRE_LEN);
    this.push(varintBytes(m.size));
    for (const c of m.chunks) this.push(c);
    return this;
  }

  /** The encoded message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.byteLength;
    }
    return out;
  }
}

/** One decoded field: a varint (as bigint), a fixed32/fixed64 (raw bytes) or a length-delimited slice. */
export interface Field {
  field: number;
  wire: number;
  varint?: bigint;
  bytes?: Uint8Array;
}

/** The fields of one encoded message, in order (nested messages stay as byte slices: decode them again). */
export function readFields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const readVarint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.byteLength) throw new Error('protobuf: truncated varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint longer than 10 bytes');
    }
  };
  const slice = (n: number): Uint8Array => {
    if (i + n > buf.byteLength) throw new Error('protobuf: field runs past the end of the message');
    const s = buf.subarray(i, i + n);
    i += n;
    return s;
  };
  while (i < buf.byteLength) {
    const key = readVarint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === WIRE_VARINT) out.push({ field, wire, varint: readVarint() });
    else if (wire === WIRE_LEN) out.push({ field, wire, bytes: slice(Number(readVarint())) });
    else if (wire === WIRE_FIXED32) out.push({ field, wire, bytes: slice(4) });
    else if (wire === WIRE_FIXED64) out.push({ field, wire, bytes: slice(8) });
    else throw new Error(`protobuf: unsupported wire type ${wire} (field ${field})`);
  }
  return out;
}

const utf8Decoder = new TextDecoder();
export function decodeString(b: Uint8Array | undefined): string {
  return b === undefined ? '' : utf8Decoder.decode(b);
}
