// Tests: backward, gradient accumulation, retainGrad, autograd.grad with createGraph, noGrad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, grad, noGrad, enableGrad, isGradEnabled } from './tensor';
import * as ops from './ops.generated';

const close = (a: number[], b: number[], eps = 1e-5): void => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= eps * (1 + Math.abs(b[i])), `[${i}] ${v} vs ${b[i]}`));
};

test('backward fills .grad of leaves; leaves and non-leaves report isLeaf/gradFn', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    assert.ok(x.requiresGrad && x.isLeaf && x.gradFn === null && x.grad === null);
    const y = ops.mul(x, x); // x²
    assert.ok(!y.isLeaf);
    assert.match(y.gradFn!, /MulBackward/);
    ops.sum(y).backward();
    assert.deepEqual(x.grad!.toList(), [2, 4, 6]);
  });
});

test('gradients accumulate over backward calls until zeroed or reset', () => {
  tidy(() => {
    const w = tensor([0.5, -1], { requiresGrad: true });
    const f = () => ops.sum(ops.mul(w, tensor([3, 4])));
    f().backward();
    f().backward();
    assert.deepEqual(w.grad!.toList(), [6, 8]);
    ops.zero_(w.grad!);
    f().backward();
    assert.deepEqual(w.grad!.toList(), [3, 4]);
    w.grad = null;
    assert.equal(w.grad, null);
    f().backward();
    assert.deepEqual(w.grad!.toList(), [3, 4]);
  });
});

test('backward with an explicit gradient and retainGraph', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = ops.mul(x, x); // saves x for backward: 2x
    y.backward(tensor([1, 10]), { retainGraph: true });
    assert.deepEqual(x.grad!.toList(), [2, 40]);
    y.backward(tensor([1, 1]));
    assert.deepEqual(x.grad!.toList(), [4, 44]);
    // the graph is freed now: a third backward through it fails with a JS error
    assert.throws(() => y.backward(tensor([1, 1])), /backward/);
  });
});

test('retainGrad keeps the gradient of a non-leaf', () => {
  tidy(() => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    const h = ops.mul(x, 2).retainGrad();
    const y = ops.sum(ops.square(h)); // dy/dh = 2h = 4x
    const noRetain = ops.add(x, 1);
    ops.add(y, ops.sum(noRetain)).backward();
    assert.deepEqual(h.grad!.toList(), [4, 8, 12]);
    assert.deepEqual(x.grad!.toList(), [9, 17, 25]); // 2 * 4x + 1
    assert.equal(noRetain.grad, null);
  });
});

test('grad(): first and second derivatives with createGraph; allowUnused gives null', () => {
  tidy(() => {
    const x = tensor([0.5, -1, 2], { requiresGrad: true });
    const y = ops.sum(ops.pow(x, 3)); // y = Σx³
    const [dy] = grad(y, x, { createGraph: true }); // 3x²
    close(dy!.toList(), [0.75, 3, 12]);
    assert.ok(dy!.requiresGrad, 'createGraph makes the gradient differentiable');
    const [d2] = grad(ops.sum(dy!), x); // 6x
    close(d2!.toList(), [3, -6, 12]);
    assert.equal(x.grad, null, 'grad() does not accumulate into .grad');

    const z = tensor([1], { requiresGrad: true });
    const out = ops.sum(ops.mul(x, 2));
    const [gx, gz] = grad(out, [x, z], { allowUnused: true });
    close(gx!.toList(), [2, 2, 2]);
    assert.equal(gz, null);
    assert.throws(() => grad(ops.sum(ops.mul(x, 2)), [x, z]), /autograd\.grad/);
  });
});

test('grad() with gradOutputs on a vector output (vector-Jacobian product)', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = ops.mul(x, x);
    const [g] = grad(y, x, { gradOutputs: [tensor([1, 0.5])] });
    close(g!.toList(), [2, 2]);
  });
});

test('noGrad records no graph; it nests, restores on throw, and enableGrad re-enables', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.ok(isGradEnabled());
    const y = noGrad(() => ops.mul(x, 2));
    assert.ok(!y.requiresGrad && y.gradFn === null);
    noGrad(() => {
      noGrad(() => assert.ok(!isGradEnabled()));
      assert.ok(!isGradEnabled());
      const z = enableGrad(() => ops.mul(x, 2));
      assert.ok(z.requiresGrad);
    });
    assert.ok(isGradEnabled());
    assert.throws(() =>
      noGrad(() => {
        throw new Error('inside');
      }),
    );
    assert.ok(isGradEnabled(), 'restored after a throw');
    // in-place updates of leaves are allowed under noGrad (the SGD pattern) and not otherwise
    noGrad(() => ops.sub_(x, tensor([0.5, 0.5])));
    assert.deepEqual(x.toList(), [0.5, 1.5]);
    assert.throws(() => ops.sub_(x, tensor([1, 1])), /leaf Variable that requires grad/);
  });
});

test('detach cuts the graph; requiresGrad_ / requiresGradOp_ set the flag (the skipped golden op)', () => {
  tidy(() => {
    const x = tensor([1, 2], { requiresGrad: true });
    const d = ops.detach(ops.mul(x, 2));
    assert.ok(!d.requiresGrad && d.isLeaf);
    const a = tensor([3]);
    assert.equal(ops.requiresGradOp_(a), a);
    assert.ok(a.requiresGrad);
    ops.requiresGradOp_(a, { requiresGrad: false });
    assert.ok(!a.requiresGrad);
    assert.equal(a.requiresGrad_(), a);
    assert.ok(a.requiresGrad);
    a.requiresGrad = false;
    assert.ok(!a.requiresGrad);
    // integer tensors cannot require gradients
    assert.throws(() => (tensor([1], 'int64').requiresGrad = true), /requiresGrad/);
  });
});

test('gradient of a linear layer + cross entropy matches the closed form softmax(z) - onehot(y)', () => {
  tidy(() => {
    const z = tensor([[1, 2, 0.5]], { requiresGrad: true });
    ops.crossEntropyLoss(z, tensor([1], 'int64')).backward();
    const p = ops.softmax(ops.detach(z), 1).toList();
    close(z.grad!.toList(), [p[0], p[1] - 1, p[2]]);
  });
});
