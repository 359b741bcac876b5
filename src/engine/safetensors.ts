// safetensors read/write (format: huggingface/safetensors README): 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian tensor bytes. Interoperable with PyTorch's
// safetensors.torch.save_file / load_file.
import * as fs from 'fs';
import { Tensor, tensor, tidy } from './tensor';
import { DType, elementSize, typedView } from './dtype';
import { writeFileAtomic } from '../util/fs';

const TO_ST: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST: Record<string, DType> = Object.fromEntries(
  Object.entries(TO_ST).map(([k, v]) => [v, k as DType]),
) as Record<string, DType>;

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Parses a safetensors buffer; every error names `source`. */
export function parseSafetensors(buf: Buffer, source = '<buffer>'): SafetensorsFile {
  const bad = (msg: string): never => {
    throw new Error(`safetensors ${source}: ${msg}`);
  };
  if (buf.length < 8) bad('file is shorter than its 8-byte header length');
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8 || n > 100 * 1024 * 1024) bad(`header length ${n} exceeds the file size ${buf.length}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    return bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) bad('header is not a JSON object');
  const header = parsed as Record<string, unknown>;
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const meta = header.__metadata__ ?? {};
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) bad('__metadata__ is not an object');
  for (const [k, v] of Object.entries(meta)) if (typeof v !== 'string') bad(`__metadata__ '${k}' is not a string`);
  const metadata = Object.fromEntries(Object.entries(meta)) as Record<string, string>;
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  // Built with Object.fromEntries so that a tensor named '__proto__' is an own entry, not the prototype.
  const entries: [string, Tensor][] = [];
  try {
    readEntries();
  } catch (e) {
    for (const [, t] of entries) t.dispose(); // a malformed later entry frees the tensors already made
    throw e;
  }
  const tensors = Object.fromEntries(entries) as Record<string, Tensor>;
  return { tensors, metadata };

  function readEntries(): void {
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      if (info === null || typeof info !== 'object' || Array.isArray(info)) bad(`tensor '${name}' is not an object`);
      const { dtype, shape, data_offsets: off } = info as { dtype: unknown; shape: unknown; data_offsets: unknown };
      const dt = typeof dtype === 'string' ? FROM_ST[dtype] : undefined;
      if (!dt) bad(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every(isCount)) bad(`tensor '${name}' has a malformed shape`);
      if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount)) {
        bad(`tensor '${name}' has malformed data_offsets (two non-negative integers expected)`);
      }
      const numel = (shape as number[]).reduce((a, b) => a * b, 1);
      const [b, e] = off as [number, number];
      if (b > e || e > dataLen || e - b !== numel * elementSize(dt as DType)) {
        bad(
          `tensor '${name}': data_offsets [${b}, ${e}] do not match shape [${shape}] ${dtype} within ${dataLen} data bytes`,
        );
      }
      // Copy into an aligned buffer: typed arrays need element alignment.
      const bytes = new ArrayBuffer(e - b);
      new Uint8Array(bytes).set(buf.subarray(dataStart + b, dataStart + e));
      entries.push([name, tensor(typedView(dt as DType, bytes), shape as number[], dt as DType)]);
    }
  }
}

/** Reads a .safetensors file into tensors (on the CPU). */
export function loadSafetensors(file: string): Record<string, Tensor> {
  return loadSafetensorsFile(file).tensors;
}

export function loadSafetensorsFile(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`safetensors ${file}: cannot read (${(e as Error).message})`);
  }
  return parseSafetensors(buf, file);
}

/** Serializes tensors (any device/layout; written contiguous, little-endian) to a buffer. */
export function serializeSafetensors(record: Record<string, Tensor>, metadata?: Record<string, string>): Buffer {
  const names = Object.keys(record).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const t = record[name];
    if (!(t instanceof Tensor)) throw new TypeError(`saveSafetensors: '${name}' is not a Tensor`);
    const dt = t.dtype;
    const arr = tidy(() => t.toArray());
    const bytes = Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
    header[name] = { dtype: TO_ST[dt], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json, 'utf8'), ...chunks]);
}

/** Writes tensors to a .safetensors file atomically (temp file + rename). */
export function saveSafetensors(file: string, record: Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(file, serializeSafetensors(record, metadata));
}
