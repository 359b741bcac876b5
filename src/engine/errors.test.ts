// Tests: bad input reaches JS as an Error/TypeError that names the op; the process never aborts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, memory, op } from './tensor';
import * as ops from './ops.generated';
import { settledMemory } from './test-support';

function throwsNaming(fn: () => unknown, type: typeof Error, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    for (const p of patterns) assert.match((e as Error).message, p);
    return true;
  });
}

test('use after dispose throws a JS Error (ops, data access, metadata, autograd)', () => {
  const t = tensor([1, 2, 3]);
  const u = tensor([1, 2, 3]);
  t.dispose();
  assert.ok(t.isDisposed);
  throwsNaming(() => ops.add(t, u), Error, /aten::add\.Tensor/, /used after dispose/);
  throwsNaming(() => ops.add(u, t), Error, /aten::add\.Tensor/, /'other'/);
  throwsNaming(() => t.toArray(), Error, /after dispose/);
  throwsNaming(() => t.shape, Error, /after dispose/);
  throwsNaming(() => t.backward(), Error, /backward/, /after dispose/);
  throwsNaming(() => ops.cat([u, t]), Error, /aten::cat/, /after dispose/);
  u.dispose();
});

test('matmul with mismatched shapes names the op and the shapes', () => {
  tidy(() => {
    throwsNaming(() => ops.matmul(ops.ones([2, 3]), ops.ones([4, 5])), Error, /aten::matmul/, /2x3.*4x5|shapes/);
    throwsNaming(() => ops.mm(ops.ones([2, 3]), ops.ones([2, 3])), Error, /aten::mm/);
    throwsNaming(() => ops.add(ops.ones([2, 3]), ops.ones([4])), Error, /aten::add\.Tensor/, /size of tensor/);
    throwsNaming(() => ops.view(ops.ones([2, 3]), [4]), Error, /aten::view/, /invalid/);
  });
});

test('wrong dtypes: a float index, a float target, an int where softmax needs float', () => {
  tidy(() => {
    const x = ops.randn([4, 3]);
    throwsNaming(() => ops.indexSelect(x, 0, tensor([0, 1])), Error, /aten::index_select/, /int64/);
    throwsNaming(() => ops.gather(x, 1, tensor([[0], [1], [0], [2]])), Error, /aten::gather/, /int64/);
    throwsNaming(() => ops.nllLoss(x, tensor([0, 1, 2, 0])), Error, /aten::nll_loss_nd|nll_loss/);
    throwsNaming(
      () => ops.matmul(x, ops.ones([3, 2], { dtype: 'float64' })),
      Error,
      /aten::matmul/,
      /dtype|Double|Float/,
    );
  });
});

test('out-of-range indices throw instead of reading out of bounds', () => {
  tidy(() => {
    const x = ops.randn([4, 3]);
    throwsNaming(() => ops.indexSelect(x, 0, tensor([0, 4], 'int64')), Error, /aten::index_select/, /out of range/);
    throwsNaming(() => ops.gather(x, 1, tensor([[0], [3], [0], [1]], 'int64')), Error, /aten::gather/, /out of bounds/);
    throwsNaming(() => ops.select(x, 0, 7), Error, /aten::select\.int/, /out of range/);
    throwsNaming(() => ops.take(x, tensor([12], 'int64')), Error, /aten::take/, /out of range/);
    throwsNaming(
      () => ops.crossEntropyLoss(x, tensor([0, 1, 5, 0], 'int64')),
      Error,
      /aten::cross_entropy_loss/,
      /out of bounds/,
    );
    throwsNaming(() => ops.sum(x, 2), Error, /aten::sum\.dim_IntList/, /out of range/);
  });
});

test('NaN, fractions and non-numbers where an int is expected are TypeErrors naming the argument', () => {
  tidy(() => {
    const x = ops.randn([4, 3]);
    throwsNaming(() => ops.select(x, 0, NaN), TypeError, /aten::select\.int/, /'index'/, /integer/);
    throwsNaming(() => ops.unsqueeze(x, 0.5), TypeError, /aten::unsqueeze/, /'dim'/);
    throwsNaming(() => ops.reshape(x, [3, NaN]), TypeError, /aten::reshape/, /'shape'/);
    throwsNaming(() => ops.zeros([2, Infinity]), TypeError, /aten::zeros/);
    throwsNaming(() => ops.narrow(x, 0, '1' as unknown as number, 2), TypeError, /aten::narrow/, /'start'/);
  });
});

test('a non-tensor where a tensor is expected is a TypeError naming the op', () => {
  tidy(() => {
    const x = ops.randn([2, 2]);
    throwsNaming(
      () => op('aten::add', 'Tensor', x, [1, 2]),
      TypeError,
      /aten::add\.Tensor/,
      /'other'/,
      /expected a Tensor/,
    );
    throwsNaming(() => ops.matmul(x, { a: 1 } as unknown as Tensor), TypeError, /aten::matmul/, /Tensor/);
    throwsNaming(() => ops.cat([x, 3 as unknown as Tensor]), TypeError, /aten::cat/, /expected a Tensor/);
    // the generated overload dispatch rejects arguments that match no overload
    throwsNaming(() => ops.add(x, 'one' as unknown as number), TypeError, /add\(\)/, /no overload/);
    throwsNaming(() => ops.mseLoss(x, null as unknown as Tensor), TypeError, /aten::mse_loss/, /'target'/);
  });
});

test('other bad arguments: unknown dtype, bad device, missing required argument, unknown op', () => {
  tidy(() => {
    throwsNaming(() => ops.zeros([2], { dtype: 'float128' as never }), TypeError, /float128/);
    throwsNaming(() => ops.zeros([2], { device: 'tpu:0' }), Error, /aten::zeros/);
    throwsNaming(() => op('aten::add', 'Tensor', ops.ones([1])), TypeError, /aten::add\.Tensor/, /'other'/, /missing/);
    throwsNaming(() => op('aten::no_such_op', ''), Error, /aten::no_such_op/, /no such operator/);
    throwsNaming(() => ops.multinomial(tensor([-1, 1]), 1), Error, /aten::multinomial/);
  });
});

test('after many errors the process is healthy and nothing leaked', () => {
  const before = settledMemory().numTensors;
  for (let i = 0; i < 20; i++) {
    tidy(() => {
      const x = ops.ones([2, 3]);
      assert.throws(() => ops.matmul(x, x));
      assert.throws(() => ops.indexSelect(x, 0, tensor([5], 'int64')));
    });
  }
  assert.equal(memory().numTensors, before);
  tidy(() => assert.equal(ops.sum(ops.ones([3])).item(), 3));
});
