// Tests for src/losses: PyTorch goldens (fixtures/losses/losses.json, from gen_losses.py beside it) for loss
// values and d loss / d logits, the SPEC §3 equivalences, DRW weight switching, the registry, and leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, tensor, tidy, memory } from '../engine/tensor';
import * as losses from './index';
import { DType } from '../engine/dtype';
import { settledMemory } from '../engine/test-support';

interface Case {
  name: string;
  loss: string;
  inputs: 'logits' | 'cosine';
  options: losses.LossOptions;
  value: number;
  grad: number[][];
}
interface Golden {
  clsNumList: number[];
  cbWeights: Record<string, number[]>;
  targets: number[];
  logits: number[][];
  cosine: number[][];
  cases: Case[];
}

function repoRoot(): string {
  let dir = __dirname;
  while (!(fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'fixtures')))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found from ' + __dirname);
    dir = up;
  }
  return dir;
}
const fx = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'fixtures', 'losses', 'losses.json'), 'utf8')) as Golden;

const close = (a: number, b: number, tol: number) => Math.abs(a - b) <= tol * (1 + Math.abs(b));

function assertAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!close(actual[i], expected[i], tol)) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
    }
  }
}

const targets = () => tensor(fx.targets, [fx.targets.length], 'int64');

/** Loss value and d loss / d logits for a criterion on the fixture inputs. */
function valueAndGrad(crit: losses.Criterion, x: number[][], dtype: DType = 'float64') {
  return tidy(() => {
    const logits = tensor(x, undefined, { dtype, requiresGrad: true });
    const loss = crit(logits, targets());
    assert.deepEqual(loss.shape, [], 'loss is a scalar');
    loss.backward();
    return { value: loss.item(), grad: Array.from((logits.grad as Tensor).toList()) };
  });
}

for (const c of fx.cases) {
  test(`golden ${c.name}: value and logit gradient match PyTorch (float64, tol 1e-5)`, () => {
    const crit = losses.create(c.loss, c.options);
    const r = valueAndGrad(crit, c.inputs === 'logits' ? fx.logits : fx.cosine);
    assertAllClose([r.value], [c.value], 1e-5, 'loss');
    assertAllClose(r.grad, c.grad.flat(), 1e-5, 'grad');
    crit.dispose();
  });
}

test('goldens hold in float32 too (tol 1e-4)', () => {
  for (const c of fx.cases) {
    const crit = losses.create(c.loss, c.options);
    const r = valueAndGrad(crit, c.inputs === 'logits' ? fx.logits : fx.cosine, 'float32');
    assertAllClose([r.value], [c.value], 1e-4, `${c.name} loss`);
    assertAllClose(r.grad, c.grad.flat(), 1e-4, `${c.name} grad`);
    crit.dispose();
  }
});

test('every registered loss has a golden case', () => {
  const covered = new Set(fx.cases.map((c) => c.loss));
  for (const { name } of losses.list()) assert.ok(covered.has(name), `no golden for '${name}'`);
});

test('cbWeights matches the reference for β ∈ {0, 0.9, 0.999, 0.9999} on CIFAR-10-LT ρ=100', () => {
  for (const [beta, expected] of Object.entries(fx.cbWeights)) {
    const w = losses.cbWeights(fx.clsNumList, Number(beta));
    assertAllClose(w, expected, 1e-12, `β=${beta}`);
    assert.ok(
      close(
        w.reduce((a, b) => a + b, 0),
        fx.clsNumList.length,
        1e-12,
      ),
      'sums to C',
    );
  }
  assert.deepEqual(losses.cbWeights(fx.clsNumList, 0), new Array(10).fill(1));
  // default β is 0.9999 (SPEC §3)
  assert.deepEqual(losses.cbWeights(fx.clsNumList), losses.cbWeights(fx.clsNumList, 0.9999));
});

// ------------------------------------------------------------------ equivalences

const lossOf = (crit: losses.Criterion, x = fx.logits) => valueAndGrad(crit, x);
function assertSame(a: ReturnType<typeof lossOf>, b: ReturnType<typeof lossOf>, what: string, tol = 1e-12) {
  assertAllClose([a.value], [b.value], tol, `${what} value`);
  assertAllClose(a.grad, b.grad, tol, `${what} grad`);
}

test('focal γ=0 == CE (unweighted; the reference focal takes a plain mean, so weighted CE differs)', () => {
  const ce = lossOf(losses.create('ce'));
  assertSame(lossOf(losses.create('focal', { gamma: 0 })), ce, 'focal γ=0');
  const w = losses.cbWeights(fx.clsNumList);
  const wf = lossOf(losses.create('focal', { gamma: 0, weight: w }));
  const wce = lossOf(losses.create('ce', { weight: w }));
  assert.ok(Math.abs(wf.value - wce.value) > 1e-3, 'weighted focal γ=0 is mean(w_y ℓ), not Σw_yℓ/Σw_y');
});

test('focal defaults to γ=1 (cifar_train.py --loss_type Focal)', () => {
  assertSame(lossOf(losses.create('focal')), lossOf(losses.create('focal', { gamma: 1 })), 'default γ');
  assert.equal(losses.create('focal').options.gamma, 1);
});

test('CB β=0 == uniform: weighted CE with cbWeights(β=0) and with all-ones weights == CE', () => {
  const ce = lossOf(losses.create('ce'));
  assertSame(lossOf(losses.create('ce', { weight: losses.cbWeights(fx.clsNumList, 0) })), ce, 'β=0');
  assertSame(lossOf(losses.create('ce', { weight: new Array(10).fill(1) })), ce, 'ones', 1e-14);
  // and for the other weighted losses
  const opts = { clsNumList: fx.clsNumList };
  for (const name of ['ldam', 'balanced-softmax', 'logit-adjusted']) {
    const plain = lossOf(losses.create(name, opts), fx.cosine);
    const ones = lossOf(losses.create(name, { ...opts, weight: new Array(10).fill(1) }), fx.cosine);
    assertSame(ones, plain, name);
  }
});

test('logit-adjusted τ=1 == balanced softmax; τ=0 == CE', () => {
  const opts = { clsNumList: fx.clsNumList };
  assertSame(lossOf(losses.create('logit-adjusted', opts)), lossOf(losses.create('balanced-softmax', opts)), 'τ=1');
  assertSame(lossOf(losses.create('logit-adjusted', { ...opts, tau: 0 })), lossOf(losses.create('ce')), 'τ=0');
});

test('LDAM with maxMargin 0 == CE on s·x; margins ∝ n^{-1/4} with max 0.5 on the rarest class', () => {
  const x = fx.cosine;
  const scaled = x.map((row) => row.map((v) => 30 * v));
  const ldam0 = lossOf(losses.create('ldam', { clsNumList: fx.clsNumList, maxMargin: 0 }), x);
  const ce = lossOf(losses.create('ce'), scaled);
  assertAllClose([ldam0.value], [ce.value], 1e-12, 'value');
  assertAllClose(
    ldam0.grad,
    ce.grad.map((g) => 30 * g),
    1e-12,
    'grad (chain rule through s)',
  );
  const m = losses.ldamMargins(fx.clsNumList);
  assert.equal(Math.max(...m), m[9]);
  assert.ok(close(m[9], 0.5, 1e-15));
  assert.ok(close(m[0] / m[9], Math.pow(50 / 5000, 0.25), 1e-12));
});

// ------------------------------------------------------------------ DRW: changing the weight

test('setWeight switches weights between calls (DRW) and back to unweighted', () => {
  const w = losses.cbWeights(fx.clsNumList);
  for (const name of ['ce', 'focal', 'ldam', 'balanced-softmax', 'logit-adjusted']) {
    const opts = name === 'ce' || name === 'focal' ? {} : { clsNumList: fx.clsNumList };
    const crit = losses.create(name, opts);
    const x = name === 'ldam' ? fx.cosine : fx.logits;
    const before = lossOf(crit, x);
    crit.setWeight(w);
    assert.deepEqual(crit.weight, w);
    assert.deepEqual(crit.options.weight, w);
    assertSame(lossOf(crit, x), lossOf(losses.create(name, { ...opts, weight: w }), x), `${name} weighted`);
    crit.setWeight(tensor(w, [10], 'float32')); // a Tensor works too (copied)
    assertSame(lossOf(crit, x), lossOf(losses.create(name, { ...opts, weight: w }), x), `${name} tensor w`, 1e-6);
    crit.setWeight(null);
    assert.equal(crit.weight, null);
    assertSame(lossOf(crit, x), before, `${name} unweighted again`);
    crit.dispose();
  }
});

// ------------------------------------------------------------------ registry and validation

test('registry: create(name)(logits, targets) for every registered loss', () => {
  const names = losses.list().map((e) => e.name);
  assert.deepEqual(names, ['ce', 'focal', 'ldam', 'balanced-softmax', 'logit-adjusted']);
  for (const e of losses.list()) {
    assert.ok(e.help.length > 10 && !e.help.includes('\n'), `${e.name}: one-line help`);
    const crit = losses.create(e.name, { clsNumList: e.options.includes('clsNumList') ? fx.clsNumList : undefined });
    assert.equal(crit.name, e.name);
    assert.equal(typeof crit.forward, 'function');
    const r = lossOf(crit);
    assert.ok(Number.isFinite(r.value) && r.value > 0, `${e.name}: finite positive loss`);
    assert.ok(r.grad.every(Number.isFinite), `${e.name}: finite grad`);
    JSON.stringify(crit.options); // resolved options are serializable
  }
});

test('registry errors name the loss and the allowed options', () => {
  assert.throws(() => losses.create('ldma'), /unknown loss 'ldma'.*'ce'.*'ldam' \{clsNumList \(required\)/);
  assert.throws(() => losses.create('ldam'), /loss 'ldam' needs option 'clsNumList'.*maxMargin/);
  assert.throws(() => losses.create('balanced-softmax', {}), /'balanced-softmax' needs option 'clsNumList'/);
  assert.throws(() => losses.create('ce', { gamma: 2 }), /loss 'ce' has no option 'gamma'; its options: weight/);
  assert.throws(
    () => losses.register({ name: 'ce', help: 'x', options: [], required: [], build: () => losses.create('ce') }),
    /already registered/,
  );
  assert.ok(losses.has('focal') && !losses.has('nope'));
});

test('input validation', () => {
  const x = () => tensor(fx.logits, undefined, 'float32');
  assert.throws(() => losses.create('ldam', { clsNumList: [10, 0, 5] }), /clsNumList\[1\] = 0/);
  assert.throws(() => losses.create('focal', { gamma: -1 }), /gamma must be >= 0/);
  assert.throws(() => losses.create('ce', { weight: [1, -1] }), /weight\[1\]/);
  assert.throws(() => losses.create('ldam', { clsNumList: [1, 2, 3] })(x(), targets()), /10 classes.*built for 3/);
  assert.throws(() => losses.create('ldam', { clsNumList: fx.clsNumList, weight: [1, 2] }), /2 entries/);
  assert.throws(() => losses.create('ce', { weight: [1, 2, 3] })(x(), targets()), /10 classes.*built for 3/);
  assert.throws(() => losses.create('ce')(x(), tensor([0, 1], [2], 'int64')), /targets must be \[16\]/);
  assert.throws(() => losses.create('ce')(x(), tensor(fx.targets, [16], 'float32')), /integer class indices/);
  // int32 targets are accepted and give the int64 result
  const a = losses
    .create('ce')(x(), tensor(fx.targets, [16], 'int32'))
    .item();
  const b = losses.create('ce')(x(), targets()).item();
  assert.equal(a, b);
});

test('no tensors leak across steps (per-class tensors cached once per device/dtype)', () => {
  const crit = losses.create('ldam', { clsNumList: fx.clsNumList, weight: losses.cbWeights(fx.clsNumList) });
  lossOf(crit, fx.cosine); // warm the cache: margins + weight, float64
  const before = settledMemory().numTensors;
  for (let i = 0; i < 3; i++) lossOf(crit, fx.cosine);
  assert.equal(memory().numTensors, before);
  crit.dispose();
  assert.equal(memory().numTensors, before - 2);
  lossOf(crit, fx.cosine); // usable after dispose: caches rebuilt
  crit.dispose();
});
