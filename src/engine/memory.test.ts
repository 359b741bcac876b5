// Tests: tidy scopes, keep, dispose, and a training loop that must not leak native tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, keep, dispose, memory, noGrad, manualSeed, runtimeInfo } from './tensor';
import * as ops from './ops.generated';
import { settledMemory } from './test-support';

const live = (): number => memory().numTensors;
const settled = (): number => settledMemory().numTensors;

test('tidy disposes intermediates and keeps the returned tensor', () => {
  const before = settled();
  let inner: Tensor[] = [];
  const out = tidy(() => {
    const a = tensor([1, 2, 3]);
    const b = ops.mul(a, 2);
    const c = ops.add(b, 1);
    inner = [a, b];
    return c;
  });
  assert.ok(inner.every((t) => t.isDisposed));
  assert.ok(!out.isDisposed);
  assert.deepEqual(out.toList(), [3, 5, 7]);
  assert.equal(live(), before + 1);
  out.dispose();
  assert.equal(live(), before);
});

test('tidy keeps tensors inside a returned array, object or Map', () => {
  const before = settled();
  const r = tidy(() => {
    const a = tensor([1]);
    const b = tensor([2]);
    const c = tensor([3]);
    tensor([4]); // dropped
    return { list: [a], nested: { b }, map: new Map([['c', c]]), n: 5 };
  });
  assert.equal(live(), before + 3);
  assert.equal(r.list[0].item() + r.nested.b.item() + r.map.get('c')!.item(), 6);
  dispose(r);
  assert.equal(live(), before);
});

test('nested tidy: the inner result moves to the outer scope, which then disposes it', () => {
  const before = settled();
  let fromInner: Tensor | null = null;
  const out = tidy(() => {
    const x = tensor([1, 2]);
    fromInner = tidy(() => ops.mul(ops.add(x, 1), 3)); // the add is disposed here
    assert.equal(live(), before + 2);
    return ops.sum(fromInner);
  });
  assert.ok(fromInner!.isDisposed, 'the outer scope disposed the inner result it did not return');
  assert.equal(out.item(), 15);
  assert.equal(live(), before + 1);
  out.dispose();
});

test('keep() exempts a tensor from every enclosing scope', () => {
  const before = settled();
  let kept: Tensor | null = null;
  tidy(() => {
    tidy(() => {
      kept = keep(tensor([9]));
      tensor([0]);
    });
  });
  assert.ok(!kept!.isDisposed);
  assert.equal(live(), before + 1);
  assert.equal(kept!.item(), 9);
  kept!.dispose();
  assert.equal(live(), before);
});

test('tidy disposes its tensors when fn throws, and rethrows', () => {
  const before = settled();
  assert.throws(
    () =>
      tidy(() => {
        tensor([1, 2]);
        ops.mul(tensor([1]), 2);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(live(), before);
});

test('tidy rejects async functions (and cleans up)', () => {
  const before = settled();
  assert.throws(() => tidy((() => Promise.resolve(tensor([1]))) as () => unknown), /synchronous/);
  assert.equal(live(), before);
});

test('dispose(container) disposes every tensor found; dispose is idempotent', () => {
  const before = settled();
  const a = tensor([1]);
  const b = tensor([2]);
  const c = tensor([3]);
  dispose({ a, rest: [b, { c }], other: 'x' });
  assert.ok(a.isDisposed && b.isDisposed && c.isDisposed);
  a.dispose();
  dispose([a, b]);
  assert.equal(live(), before);
});

test('grad tensors and multi-output ops are tracked by tidy', () => {
  const before = settled();
  tidy(() => {
    const w = tensor([1, 2, 3], { requiresGrad: true });
    ops.sum(ops.mul(w, w)).backward();
    const g = w.grad!;
    assert.deepEqual(g.toList(), [2, 4, 6]);
    const [vals, idx] = ops.maxDim(tensor([[1, 5, 2]]), 1);
    ops.split(tensor([1, 2, 3, 4]), 1);
    assert.equal(vals.item() + idx.item(), 6);
  });
  // w's .grad lives inside w (freed with it); every JS owner was disposed
  assert.equal(live(), before);
});

test('200 tiny training steps (linear + cross entropy + manual SGD in tidy) leave the live-tensor count unchanged', () => {
  manualSeed(0);
  const N = 16;
  const D = 8;
  const C = 4;
  const x = keep(ops.randn([N, D]));
  const y = keep(ops.randint(0, C, [N]));
  const w = keep(ops.mul(ops.randn([D, C]), 0.1)).requiresGrad_();
  const b = keep(ops.zeros([C])).requiresGrad_();
  const lr = 0.5;
  const step = (): number =>
    tidy(() => {
      const logits = ops.add(ops.matmul(x, w), b);
      const loss = ops.crossEntropyLoss(logits, y);
      loss.backward();
      noGrad(() => {
        for (const p of [w, b]) {
          ops.sub_(p, p.grad!, { alpha: lr });
          ops.zero_(p.grad!);
        }
      });
      return loss.item();
    });
  const first = step();
  const before = settledMemory();
  let last = first;
  for (let i = 0; i < 199; i++) last = step();
  const after = memory();
  assert.equal(after.numTensors, before.numTensors, 'live tensors after 199 more steps');
  assert.equal(after.numBytes, before.numBytes, 'live bytes after 199 more steps');
  assert.ok(last < first * 0.5, `the loss went down (${first} → ${last})`);
  dispose([x, y, w, b]);
});

test('a tensor left to the garbage collector is freed by the collection itself, with no event-loop turn', (t) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return t.skip('needs node --expose-gc (scripts/run-tests.js passes it)');
  if (!runtimeInfo().gcFreesTensors) return t.skip('this Node.js has no basic Node-API finalizers (before 20.10)');
  const before = settledMemory().numTensors;
  // 100 tensors made outside any tidy scope and never disposed, unreachable once the function returns.
  ((): void => {
    for (let i = 0; i < 100; i++) ops.zeros([1000]);
  })();
  assert.equal(memory().numTensors, before + 100);
  gc();
  // The native finalizer runs inside the collection (a "basic" Node-API finalizer): a loop that never
  // yields to the event loop does not pile up collected tensors.
  assert.equal(memory().numTensors, before, 'freed during gc(), within this synchronous test');
});
