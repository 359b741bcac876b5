// Tests: Tensor creation, metadata and data round trips for every dtype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, memory } from './tensor';
import { DType, dtypeCode, dtypeName } from './dtype';
import * as ops from './ops.generated';

test('dtype names and codes round-trip; PyTorch aliases are accepted; unknown names are TypeErrors', () => {
  const all: DType[] = [
    'uint8',
    'int8',
    'int16',
    'int32',
    'int64',
    'float16',
    'float32',
    'float64',
    'bool',
    'bfloat16',
  ];
  for (const d of all) assert.equal(dtypeName(dtypeCode(d)), d);
  assert.equal(dtypeCode('float'), dtypeCode('float32'));
  assert.equal(dtypeCode('long'), dtypeCode('int64'));
  assert.equal(dtypeCode('half'), dtypeCode('float16'));
  assert.throws(
    () => dtypeCode('float8'),
    (e: Error) => e instanceof TypeError && /float8/.test(e.message),
  );
});

// Every dtype: typed array in → tensor → typed array out, bit for bit.
const ROUND_TRIPS: [DType, ArrayLike<number | bigint> & { constructor: unknown }][] = [
  ['float32', new Float32Array([0, -1.5, 3.4028234663852886e38, -Infinity, 1e-45, NaN])],
  ['float64', new Float64Array([0.1, -1e300, 5e-324, Infinity, -0, NaN])],
  ['int64', new BigInt64Array([0n, -1n, 9223372036854775807n, -9223372036854775808n, 2n ** 53n + 1n, 7n])],
  ['int32', new Int32Array([0, -1, 2147483647, -2147483648, 5, 6])],
  ['int16', new Int16Array([0, -1, 32767, -32768, 5, 6])],
  ['int8', new Int8Array([0, -1, 127, -128, 5, 6])],
  ['uint8', new Uint8Array([0, 1, 127, 128, 255, 6])],
  ['bool', new Uint8Array([0, 1, 1, 0, 0, 1])],
  // float16 bits: 0, 1.0, -2.0, 65504 (max), smallest subnormal, +inf
  ['float16', new Uint16Array([0x0000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00])],
  // bfloat16 bits: 0, 1.0, -2.0, 3.39e38 (max), smallest subnormal, -inf
  ['bfloat16', new Uint16Array([0x0000, 0x3f80, 0xc000, 0x7f7f, 0x0001, 0xff80])],
];

for (const [dt, data] of ROUND_TRIPS) {
  test(`round trip ${dt}: typed array → tensor → typed array is bit-exact`, () => {
    const t = tensor(data as never, [2, 3], dt);
    try {
      assert.equal(t.dtype, dt);
      assert.deepEqual(t.shape, [2, 3]);
      assert.equal(t.device, 'cpu');
      const back = t.toArray();
      assert.equal(back.constructor, data.constructor);
      assert.deepEqual(
        new Uint8Array(back.buffer, back.byteOffset, back.byteLength),
        new Uint8Array((data as unknown as ArrayBufferView).buffer),
      );
    } finally {
      t.dispose();
    }
  });
}

test('float16/bfloat16 from numbers round to nearest; values read back through float32', () => {
  tidy(() => {
    const h = tensor([1, 0.1, 65504, 1e-8], [4], 'float16');
    assert.deepEqual(Array.from(h.toArray() as Uint16Array), [0x3c00, 0x2e66, 0x7bff, 0x0000]);
    const b = tensor([1, 0.1, -3], [3], 'bfloat16');
    assert.deepEqual(Array.from(b.toArray() as Uint16Array), [0x3f80, 0x3dcd, 0xc040]);
    assert.deepEqual(ops.toDtype(b, 'float32').toList(), [1, 0.10009765625, -3]);
  });
});

test('tensor(): nested arrays, scalars, booleans, shapes and dtype inference', () => {
  tidy(() => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, 'float32');
    assert.equal(a.ndim, 2);
    assert.equal(a.size, 6);
    assert.deepEqual(a.toList(), [1, 2, 3, 4, 5, 6]);
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 2.5);
    const b = tensor([true, false, true], 'bool');
    assert.equal(b.dtype, 'bool');
    assert.deepEqual(b.toList(), [1, 0, 1]);
    assert.equal(tensor(new Int32Array([1, 2])).dtype, 'int32');
    assert.equal(tensor(new Float64Array([1, 2])).dtype, 'float64');
    const l = tensor([3, 4], 'int64');
    assert.equal(l.dtype, 'int64');
    assert.deepEqual(l.toList(), [3, 4]);
    assert.equal(tensor([7], [1], 'int64').item(), 7);
    const e = tensor([], [0, 3]);
    assert.deepEqual(e.shape, [0, 3]);
    assert.equal(e.toArray().length, 0);
  });
});

test('tensor(): bad input is a JS error, not a crash', () => {
  assert.throws(() => tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2,2\]/);
  assert.throws(() => tensor([[1, 2], [3]] as number[][]), /ragged/);
  assert.throws(
    () => tensor([1.5], [1], 'int64'),
    (e: Error) => e instanceof TypeError && /not an integer/.test(e.message),
  );
  assert.throws(() => tensor([1], [1], 'complex64' as DType), TypeError);
});

test('item() requires one element; toString and inspect describe the tensor', () => {
  tidy(() => {
    const t = tensor([1, 2]);
    assert.throws(() => t.item(), /2 elements/);
    assert.match(String(t), /Tensor\(shape=\[2\], dtype=float32, device=cpu\) \[1,2\]/);
    t.dispose();
    assert.equal(String(t), 'Tensor(disposed)');
  });
});

test('views share storage: an in-place op on a view changes the base', () => {
  tidy(() => {
    const base = tensor([
      [1, 2],
      [3, 4],
    ]);
    const row = ops.select(base, 0, 1);
    ops.mul_(row, 10);
    assert.deepEqual(base.toList(), [1, 2, 30, 40]);
    // toArray of a non-contiguous view is a contiguous copy in logical order
    assert.deepEqual(ops.t(base).toList(), [1, 30, 2, 40]);
  });
});

test('Tensor methods generated for ops chain like PyTorch', () => {
  tidy(() => {
    const x = tensor([
      [1, -2],
      [3, -4],
    ]);
    const y = x.abs().add(1).mul(2).sum();
    assert.equal(y.item(), 2 * (2 + 3 + 4 + 5));
    assert.equal(x.matmul(x).shape.join(), '2,2');
    assert.ok(x.relu() instanceof Tensor);
  });
});

test('memory() counts live native tensors and their bytes', () => {
  const m0 = memory();
  const t = tensor(new Float64Array(100));
  const m1 = memory();
  assert.equal(m1.numTensors, m0.numTensors + 1);
  assert.equal(m1.numBytes, m0.numBytes + 800);
  t.dispose();
  assert.deepEqual(memory(), m0);
});
