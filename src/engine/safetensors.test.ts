// Tests: safetensors interoperability with PyTorch in both directions, from committed fixtures
// written by fixtures/ops/gen_ops.py (a file with every dtype + __metadata__, and its values).
//  - Python → TS: the Python-written file loads with exact values and metadata.
//  - TS → Python: the TS writer, given the same record, produces a header with the same dtype /
//    shape / data_offsets entries and the same data bytes as the Python file, laid out so that
//    PyTorch's safetensors (and a 10-line Python reader) accept it; the TS reader reads it back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, tidy, memory, dispose } from './tensor';
import { DType, AnyTypedArray } from './dtype';
import {
  loadSafetensors,
  loadSafetensorsFile,
  parseSafetensors,
  saveSafetensors,
  serializeSafetensors,
} from './safetensors';
import * as ops from './ops.generated';
import { settledMemory } from './test-support';

const FIX = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'ops');
const PY_FILE = path.join(FIX, 'safetensors_ref.safetensors');
interface RefJson {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: DType; shape: number[]; values: (string | number)[] }>;
}
const REF = JSON.parse(fs.readFileSync(path.join(FIX, 'safetensors_ref.json'), 'utf8')) as RefJson;

/** The expected data of a reference tensor as the typed array the TS reader returns. */
function expectedArray(dtype: DType, values: (string | number)[]): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values, (v) => Number(v));
    case 'float64':
      return Float64Array.from(values, (v) => Number(v));
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32':
      return Int32Array.from(values, Number);
    case 'float16':
    case 'bfloat16':
      return Uint16Array.from(values, Number);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values, Number);
    default:
      throw new Error(`no reference dtype ${dtype}`);
  }
}

interface Header {
  len: number;
  json: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  data: Buffer;
}
/** What a minimal Python reader does: u64 LE length, JSON header, raw bytes. */
function readHeader(buf: Buffer): Header {
  const len = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + len).toString('utf8')) as Header['json'];
  return { len, json, data: buf.subarray(8 + len) };
}

/** The checks safetensors' Rust/Python loader applies to a header (validate()). */
function assertValidLayout(h: Header, what: string): void {
  assert.equal((8 + h.len) % 8, 0, `${what}: header padded to 8 bytes`);
  const ST_SIZE: Record<string, number> = {
    F32: 4,
    F64: 8,
    F16: 2,
    BF16: 2,
    I64: 8,
    I32: 4,
    I16: 2,
    I8: 1,
    U8: 1,
    BOOL: 1,
  };
  const entries = Object.entries(h.json)
    .filter(([k]) => k !== '__metadata__')
    .map(([k, v]) => [k, v as { dtype: string; shape: number[]; data_offsets: [number, number] }] as const)
    .sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let end = 0;
  for (const [name, e] of entries) {
    assert.ok(e.dtype in ST_SIZE, `${what}: ${name} dtype ${e.dtype}`);
    assert.equal(e.data_offsets[0], end, `${what}: ${name} starts where the previous tensor ended (no holes)`);
    const n = e.shape.reduce((a, b) => a * b, 1) * ST_SIZE[e.dtype];
    assert.equal(e.data_offsets[1] - e.data_offsets[0], n, `${what}: ${name} byte length`);
    end = e.data_offsets[1];
  }
  assert.equal(end, h.data.length, `${what}: the data section is exactly covered`);
  const meta = h.json.__metadata__;
  if (meta !== undefined)
    for (const v of Object.values(meta)) assert.equal(typeof v, 'string', `${what}: metadata values are strings`);
}

function assertSameTensorData(t: Tensor, dtype: DType, shape: number[], expected: AnyTypedArray, what: string): void {
  assert.equal(t.dtype, dtype, `${what}: dtype`);
  assert.deepEqual(t.shape, shape, `${what}: shape`);
  const a = t.toArray();
  assert.equal(a.constructor, expected.constructor, `${what}: array type`);
  assert.deepEqual(
    Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength),
    `${what}: bytes`,
  );
}

test('Python-written safetensors (every dtype + __metadata__) loads with exact values', () => {
  const before = settledMemory().numTensors;
  const f = loadSafetensorsFile(PY_FILE);
  try {
    assert.deepEqual(f.metadata, REF.metadata);
    assert.deepEqual(Object.keys(f.tensors).sort(), Object.keys(REF.tensors).sort());
    for (const [name, r] of Object.entries(REF.tensors)) {
      assertSameTensorData(f.tensors[name], r.dtype, r.shape, expectedArray(r.dtype, r.values), name);
    }
    // spot checks in plain numbers
    assert.deepEqual(f.tensors.f32.toList().slice(0, 3), [0, -1.5, 3.25]);
    assert.equal((f.tensors.i64.toArray() as BigInt64Array)[3], -(2n ** 53n) + 1n);
    assert.deepEqual(
      tidy(() => ops.toDtype(f.tensors.bf16, 'float32').toList().slice(0, 3)),
      [0, 1, -2.5],
    );
    assert.deepEqual(
      tidy(() => ops.toDtype(f.tensors.f16, 'float32').toList().slice(0, 4)),
      [0, 1, -2.5, 65504],
    );
    assert.equal(f.tensors.scalar.item(), 2.5);
  } finally {
    dispose(f.tensors);
  }
  assert.equal(memory().numTensors, before);
});

test('the Python reference file itself has a valid layout (sanity of the fixture)', () => {
  assertValidLayout(readHeader(fs.readFileSync(PY_FILE)), 'python file');
});

test('TS-written safetensors has the same entries and bytes as the Python file for the same record', () => {
  tidy(() => {
    const record: Record<string, Tensor> = {};
    for (const [name, r] of Object.entries(REF.tensors))
      record[name] = tensor(expectedArray(r.dtype, r.values), r.shape, r.dtype);
    const ts = serializeSafetensors(record, REF.metadata);
    const py = fs.readFileSync(PY_FILE);
    const hts = readHeader(ts);
    const hpy = readHeader(py);
    assertValidLayout(hts, 'TS file');
    assert.deepEqual(hts.json, hpy.json, 'header entries (dtype, shape, data_offsets) and __metadata__');
    assert.ok(hts.data.equals(hpy.data), 'data section bytes');
    // and the TS reader reads its own file back identically
    const back = parseSafetensors(ts, 'ts-written');
    assert.deepEqual(back.metadata, REF.metadata);
    for (const [name, r] of Object.entries(REF.tensors)) {
      assertSameTensorData(back.tensors[name], r.dtype, r.shape, expectedArray(r.dtype, r.values), `reread ${name}`);
    }
  });
});

test('saveSafetensors writes atomically; non-contiguous and int16/int8 tensors round-trip', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-st-'));
  try {
    tidy(() => {
      const base = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      const rec = {
        'layer.weight': ops.t(base), // non-contiguous view: written in logical order
        i16: tensor(new Int16Array([-32768, 7, 32767])),
        i8: tensor(new Int8Array([-128, 0, 127])),
      };
      const file = path.join(dir, 'sub', 'w.safetensors');
      saveSafetensors(file, rec);
      assert.deepEqual(fs.readdirSync(path.dirname(file)), ['w.safetensors'], 'no temp file left behind');
      const back = loadSafetensors(file);
      assert.deepEqual(back['layer.weight'].shape, [3, 2]);
      assert.deepEqual(back['layer.weight'].toList(), [1, 4, 2, 5, 3, 6]);
      assert.deepEqual(back.i16.toList(), [-32768, 7, 32767]);
      assert.equal(back.i8.dtype, 'int8');
      const h = readHeader(fs.readFileSync(file));
      assertValidLayout(h, 'saved file');
      assert.equal(h.json.__metadata__, undefined, 'no empty __metadata__');
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt safetensors are errors naming the source', () => {
  const good = fs.readFileSync(PY_FILE);
  assert.throws(() => parseSafetensors(Buffer.alloc(4), 'tiny.st'), /tiny\.st.*shorter/);
  const huge = Buffer.from(good);
  huge.writeBigUInt64LE(BigInt(good.length), 0);
  assert.throws(() => parseSafetensors(huge, 'len.st'), /len\.st.*header length/);
  const badJson = Buffer.from(good);
  badJson.write('!', 9);
  assert.throws(() => parseSafetensors(badJson, 'json.st'), /json\.st.*not valid JSON/);
  assert.throws(() => parseSafetensors(good.subarray(0, good.length - 4), 'cut.st'), /cut\.st.*data_offsets/);
  assert.throws(() => loadSafetensors('/nonexistent/x.safetensors'), /x\.safetensors.*cannot read/);
  assert.throws(() => serializeSafetensors({ a: 3 as unknown as Tensor }), TypeError);
});

/** A safetensors buffer with `header` (any JSON value) and `data` bytes. */
function withHeader(header: unknown, data = Buffer.alloc(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

test('malformed headers are refused, naming the file and the entry; no tensor leaks', () => {
  const before = settledMemory().numTensors;
  const f4 = Buffer.alloc(8);
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  for (const [header, why] of [
    [42, /not a JSON object/],
    [null, /not a JSON object/],
    [[1, 2], /not a JSON object/],
    [{ a: null }, /tensor 'a' is not an object/],
    [{ a: { ...ok, data_offsets: ['0', '8'] } }, /tensor 'a' has malformed data_offsets/],
    [{ a: { ...ok, data_offsets: [0] } }, /malformed data_offsets/],
    [{ a: { ...ok, data_offsets: [-8, 0] } }, /malformed data_offsets/],
    [{ a: { ...ok, shape: ['2'] } }, /tensor 'a' has a malformed shape/],
    [{ a: { ...ok, shape: [-2] } }, /malformed shape/],
    [{ a: { ...ok, dtype: 7 } }, /unsupported dtype 7/],
    [{ a: { ...ok, data_offsets: [8, 0] } }, /data_offsets \[8, 0\]/],
    [{ __metadata__: 'x', a: ok }, /__metadata__ is not an object/],
    [{ __metadata__: { k: 1 }, a: ok }, /__metadata__ 'k' is not a string/],
    // A later bad entry after a good one: the good one's tensor is freed.
    [{ a: ok, b: { ...ok, data_offsets: [0, 4] } }, /tensor 'b'/],
  ] as [unknown, RegExp][]) {
    assert.throws(
      () => parseSafetensors(withHeader(header, f4), 'bad.st'),
      (e: Error) => /^safetensors bad\.st: /.test(e.message) && why.test(e.message),
      JSON.stringify(header),
    );
  }
  // A tensor named __proto__ is an entry like any other, not the record's prototype.
  const r = parseSafetensors(withHeader({ __proto__x: ok, ['__proto__']: ok }, f4), 'proto.st');
  assert.equal(Object.getPrototypeOf(r.tensors), Object.prototype);
  assert.deepEqual(Object.keys(r.tensors).sort(), ['__proto__', '__proto__x']);
  assert.ok(r.tensors['__proto__'] instanceof Tensor);
  dispose(Object.values(r.tensors));
  assert.equal(memory().numTensors, before);
});
