// Golden tests: every op of the allow-list (src/engine/op-list.ts) against PyTorch 1.13, forward
// and gradients, from fixtures/ops/{cases.json, ops.safetensors} written by fixtures/ops/gen_ops.py.
// Each case calls the generated wrapper by its TS name with the recorded positional arguments
// and options; random ops are compared exactly after the same manualSeed (libtorch's CPU
// generator is PyTorch's). The coverage test fails when an OP_LIST entry or overload has no case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as ops from './ops.generated';
import { OP_LIST } from './op-list';
import { Tensor, tidy, grad, manualSeed, memory, dispose } from './tensor';
import { loadSafetensors } from './safetensors';
import { isFloating } from './dtype';
import { settledMemory } from './test-support';

const FIX = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'ops');

type Arg =
  number | string | boolean | null | Arg[] | { t: string } | { dtype: string } | { undef: true } | { f: string };
interface OpCase {
  id: string;
  op: string;
  aten: string;
  overload: string;
  args: Arg[];
  opts?: Record<string, Arg>;
  outputs: ({ t: string } | { v: unknown })[];
  grad?: string[];
  gradWeights?: (string | null)[];
  grads?: Record<string, string | null>;
  seed?: number;
  tol?: { rtol: number; atol: number };
  inplace?: boolean;
  compare?: 'values' | 'meta';
  mutated?: Record<string, string>;
  note?: string;
}
interface CaseFile {
  torch: string;
  skip: Record<string, string>;
  cases: OpCase[];
}

const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'cases.json'), 'utf8')) as CaseFile;
const golden = loadSafetensors(path.join(FIX, 'ops.safetensors'));
for (const t of Object.values(golden)) t.keep();

function ref(name: string): Tensor {
  const t = golden[name];
  if (!t) throw new Error(`fixture tensor '${name}' missing from ops.safetensors`);
  return t;
}

/** Compares a result with a golden tensor: dtype, shape, then values (NaN == NaN, inf exact). */
function assertTensorClose(
  actual: unknown,
  expected: Tensor,
  what: string,
  tol: { rtol: number; atol: number },
  metaOnly = false,
): void {
  assert.ok(actual instanceof Tensor, `${what}: expected a Tensor, got ${String(actual)}`);
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  if (metaOnly) return;
  const dt = expected.dtype;
  if (!isFloating(dt)) {
    assert.deepEqual(actual.toArray(), expected.toArray(), `${what}: values (exact)`);
    return;
  }
  const [a, e] = tidy(() => {
    const half = dt === 'float16' || dt === 'bfloat16';
    const av = half ? ops.toDtype(actual, 'float32').toArray() : actual.toArray();
    const ev = half ? ops.toDtype(expected, 'float32').toArray() : expected.toArray();
    return [av as Float32Array | Float64Array, ev as Float32Array | Float64Array];
  });
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < e.length; i++) {
    const x = a[i];
    const y = e[i];
    if (Number.isNaN(y) || !Number.isFinite(y)) {
      if (!Object.is(x, y) && !(Number.isNaN(x) && Number.isNaN(y))) {
        assert.fail(`${what}: element ${i} is ${x}, expected ${y}`);
      }
      continue;
    }
    const err = Math.abs(x - y) - (tol.atol + tol.rtol * Math.abs(y));
    if (!(err <= 0) && (worst < 0 || !(err <= worstErr))) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${a[worst]}, expected ${e[worst]} (rtol ${tol.rtol}, atol ${tol.atol}; ` +
        `shape [${expected.shape}])`,
    );
  }
}

function defaultTol(c: OpCase): { rtol: number; atol: number } {
  return c.tol ?? { rtol: 1e-5, atol: 1e-6 };
}

/** Runs one case inside a tidy scope; returns nothing (asserts). */
function runCase(c: OpCase): void {
  const gradSet = new Set(c.grad ?? []);
  const leaves = new Map<string, Tensor>();
  const decode = (a: Arg): unknown => {
    if (a === null || typeof a !== 'object') return a;
    if (Array.isArray(a)) return a.map(decode);
    if ('t' in a) {
      // A fresh copy per case (ops may mutate their inputs); a leaf when it is differentiated.
      const t = ops.clone(ref(a.t));
      if (gradSet.has(a.t)) t.requiresGrad = true;
      leaves.set(a.t, t);
      return t;
    }
    if ('dtype' in a) return a.dtype;
    if ('undef' in a) return undefined;
    if ('f' in a) return a.f === 'nan' ? NaN : a.f === 'inf' ? Infinity : -Infinity;
    throw new Error(`${c.id}: bad argument ${JSON.stringify(a)}`);
  };
  const args = c.args.map(decode);
  const opts = c.opts ? Object.fromEntries(Object.entries(c.opts).map(([k, v]) => [k, decode(v)])) : undefined;
  if (c.inplace) args[0] = ops.clone(args[0] as Tensor); // keeps the leaf in the graph
  const fn = (ops as unknown as Record<string, (...a: unknown[]) => unknown>)[c.op];
  assert.equal(typeof fn, 'function', `ops.${c.op} is not a generated wrapper`);
  if (c.seed !== undefined) manualSeed(c.seed);
  let out = opts === undefined ? fn(...args) : fn(...args, opts);
  if (c.inplace) {
    assert.equal(out, args[0], `${c.id}: an in-place op returns its first argument`);
    out = args[0];
  }
  const flat: unknown[] = Array.isArray(out) ? out : [out];
  assert.equal(flat.length, c.outputs.length, `${c.id}: number of outputs`);
  const tol = defaultTol(c);
  c.outputs.forEach((e, i) => {
    if ('t' in e) assertTensorClose(flat[i], ref(e.t), `${c.id} output ${i}`, tol, c.compare === 'meta');
    else assert.deepEqual(flat[i], e.v, `${c.id} output ${i}`);
  });
  for (const [inName, expName] of Object.entries(c.mutated ?? {})) {
    assertTensorClose(leaves.get(inName), ref(expName), `${c.id} mutated ${inName}`, tol);
  }
  if (c.grads && c.gradWeights) {
    let loss: Tensor | null = null;
    c.gradWeights.forEach((w, i) => {
      if (w === null) return;
      const term = ops.sum(ops.mul(flat[i] as Tensor, ref(w)));
      loss = loss === null ? term : ops.add(loss, term);
    });
    assert.ok(loss !== null, `${c.id}: no differentiable output`);
    const names = c.grad ?? [];
    const gs = grad(
      loss,
      names.map((n) => leaves.get(n)!),
      { allowUnused: true },
    );
    const gtol = { rtol: Math.max(tol.rtol, 1e-5), atol: Math.max(tol.atol, 1e-5) };
    names.forEach((n, i) => {
      const expName = c.grads![n];
      if (expName === null) {
        const g = gs[i];
        assert.ok(g === null || ops.equal(g, ops.zerosLike(g)), `${c.id}: gradient of ${n} should be unused`);
      } else {
        assert.ok(gs[i] !== null, `${c.id}: no gradient for ${n}`);
        assertTensorClose(gs[i], ref(expName), `${c.id} grad ${n}`, gtol);
      }
    });
  }
}

test('fixtures were generated by PyTorch 1.13', () => {
  assert.match(fx.torch, /^1\.13/);
  assert.ok(fx.cases.length > 300, `${fx.cases.length} cases`);
});

test('every OP_LIST entry and overload has a golden case (or a listed reason to skip)', () => {
  const missing: string[] = [];
  for (const [tsName, aten, ...overloads] of OP_LIST) {
    if (fx.skip[tsName]) {
      assert.ok(fx.skip[tsName].length > 10, `skip reason for ${tsName}`);
      continue;
    }
    for (const ov of overloads) {
      if (!fx.cases.some((c) => c.op === tsName && c.aten === aten && c.overload === ov)) {
        missing.push(`${tsName} (aten::${aten}${ov ? '.' + ov : ''})`);
      }
    }
  }
  assert.deepEqual(missing, [], `no case for: ${missing.join(', ')}; add them to fixtures/ops/gen_ops.py`);
  const skipped = Object.keys(fx.skip);
  assert.ok(skipped.length <= 3, `skip list must stay short: ${skipped.join(', ')}`);
});

test('every golden case names a current OP_LIST entry (no stale fixtures)', () => {
  const known = new Set(OP_LIST.flatMap(([ts, aten, ...ovs]) => ovs.map((o) => `${ts}|${aten}|${o}`)));
  const stale = fx.cases.filter((c) => !known.has(`${c.op}|${c.aten}|${c.overload}`)).map((c) => c.id);
  assert.deepEqual(stale, [], 'cases for ops or overloads no longer in op-list.ts: regenerate the fixtures');
});

const RANDOM = new Set([
  'bernoulli',
  'bernoulli_',
  'multinomial',
  'randperm',
  'rand',
  'randn',
  'randint',
  'randLike',
  'randnLike',
  'normal',
  'normal_',
  'standardGamma',
  'uniform_',
  'exponential_',
  'dropout',
]);

for (const c of fx.cases) {
  const kind = c.seed !== undefined && RANDOM.has(c.op) ? ' [random: exact after manualSeed]' : '';
  const g = c.grads ? ' + grad' : '';
  test(`op ${c.id} → ops.${c.op}${g}${kind}`, () => {
    tidy(() => runCase(c));
  });
}

test('the golden run leaks no tensors', () => {
  const before = settledMemory().numTensors;
  for (const c of fx.cases.slice(0, 60)) tidy(() => runCase(c));
  assert.equal(memory().numTensors, before);
});

test('random ops: the same seed gives the same draws, another seed different ones', () => {
  tidy(() => {
    manualSeed(7);
    const a = ops.randn([64]);
    manualSeed(7);
    const b = ops.randn([64]);
    manualSeed(8);
    const c = ops.randn([64]);
    assert.ok(ops.equal(a, b));
    assert.ok(!ops.equal(a, c));
  });
});

process.on('exit', () => dispose(golden));
