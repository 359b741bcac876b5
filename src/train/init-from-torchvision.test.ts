// Pretrained torchvision-layout backbones (issue 13, item 4): ResNet-18 / ResNet-50 state dicts with exactly
// torchvision's keys, shapes and dtypes load into ltkit's resnet18 / resnet50 —
//   - whole (fc included) with Module.loadStateDict, strict: every key matches, and the logits and pooled
//     features equal PyTorch's eval-mode ones on the same input;
//   - backbone only with `model.initFrom` (loadBackbone): every non-fc key loaded, fc.* reported as skipped,
//     the fresh head kept — the fine-tuning path;
// and files of another layout are reported or refused: a DataParallel `module.` prefix (stripped by initFrom,
// refused with a hint by the strict full load), a legacy checkpoint without num_batches_tracked, a missing
// stage, an unknown prefix, another architecture.
//
// The torchvision files are 45 MB and 102 MB, too large to commit. fixtures/models/gen_torchvision.py (run once
// by a developer with /usr/bin/python3 + python3-torch/torchvision) overwrote every parameter and buffer of
// torchvision.models.resnet18() / resnet50() with a deterministic formula (a 32-bit integer hash and IEEE
// float64 + − × ÷, one cast to float32: bit-identical in NumPy and JavaScript) and committed only
// torchvision.json (the keys in state_dict order with shapes, dtypes, the formula's per-tensor parameters and
// checksums) and torchvision-golden.safetensors (PyTorch's eval-mode logits and features). This test rebuilds
// the state dicts from the formula, checks them against the checksums bit for bit, writes them with ltkit's
// safetensors writer into a temporary folder and compares; no Python is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, dispose, noGrad, tensor, tidy } from '../engine/tensor';
import { loadSafetensors, saveSafetensors } from '../engine/safetensors';
import { settledMemory } from '../engine/test-support';
import { fixturePath, readJsonFixture, relErr } from '../nn/golden.test-util';
import { ClassifierModel, createModel } from '../models';
import { formatInitReport, loadBackbone } from './init-from';

/** Relative tolerance against PyTorch (max |Δ| / max |reference|), as for the other ResNet goldens. */
const TOL = 1e-4;

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-torchvision-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

// ------------------------------------------------------------------ the formula (gen_torchvision.py)

/** [bits, sum, first, last]: uint32 sum mod 2^32 of the float32 bit patterns, float64 sum, end elements. */
type Check = [number, number, number, number];
type Row =
  | [key: string, shape: number[], dtype: 'float32', offset: number, scale: number, check: Check]
  | [key: string, shape: number[], dtype: 'int64', value: number];
interface Info {
  torch: string;
  torchvision: string;
  formula: { kMul: number; seedMul: number; m1: number; m2: number };
  input: { seed: number; k: number; shape: number[]; offset: number; scale: number; check: Check };
  archs: Record<string, { seed: number; tensors: Row[] }>;
}
const INFO = readJsonFixture<Info>('models', 'torchvision.json');
const F = INFO.formula;

/** The k-th tensor of stream `seed`: float32(offset + scale·(2u − 1)), u = fmix32(i + (k+1)·kMul + seed·seedMul) / 2^32. */
function formula(seed: number, k: number, shape: number[], offset: number, scale: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const base = (Math.imul(k + 1, F.kMul) + Math.imul(seed, F.seedMul)) >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let h = (i + base) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, F.m1);
    h ^= h >>> 13;
    h = Math.imul(h, F.m2);
    h ^= h >>> 16;
    const u = (h >>> 0) / 4294967296;
    out[i] = offset + scale * (2 * u - 1); // float64 arithmetic, one rounding to float32 on the store
  }
  return out;
}

function checkOf(a: Float32Array): Check {
  const bits = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let b = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    b += bits[i];
    if (b >= 2 ** 52) b %= 2 ** 32;
    s += a[i];
  }
  return [b % 2 ** 32, s, a[0], a[a.length - 1]];
}

/** The formula's values must be PyTorch's bit for bit (the bit sum shows any one-ulp difference). */
function assertCheck(what: string, a: Float32Array, want: Check): void {
  const got = checkOf(a);
  assert.equal(got[2], want[2], `${what}: first element`);
  assert.equal(got[3], want[3], `${what}: last element`);
  assert.ok(
    Math.abs(got[1] - want[1]) <= 1e-9 * (1 + Math.abs(want[1])) + 1e-12 * a.length,
    `${what}: sum ${got[1]} vs ${want[1]}`,
  );
  assert.equal(got[0], want[0], `${what}: float32 bit sum (some element differs from PyTorch's)`);
}

/** Rebuilds A's torchvision state dict (checked against the checksums) and writes it with ltkit's writer. */
function writeTorchvision(arch: string, file: string): void {
  const { seed, tensors: rows } = INFO.archs[arch];
  const sd: Record<string, Tensor> = {};
  try {
    rows.forEach((row, k) => {
      if (row[2] === 'int64') {
        sd[row[0]] = tensor(new BigInt64Array(row[1].reduce((a, b) => a * b, 1)).fill(BigInt(row[3])), row[1]);
      } else {
        const [key, shape, , offset, scale, check] = row;
        const a = formula(seed, k, shape, offset, scale);
        assertCheck(`${arch} ${key}`, a, check);
        sd[key] = tensor(a, shape);
      }
    });
    saveSafetensors(file, sd);
  } finally {
    dispose(sd);
  }
}

const tvFile = (arch: string) => {
  const file = path.join(TMP, `torchvision-${arch}.safetensors`);
  if (!fs.existsSync(file)) writeTorchvision(arch, file);
  return file;
};
let goldenCache: Record<string, Tensor> | null = null;
function golden(): Record<string, Tensor> {
  if (goldenCache === null) {
    goldenCache = loadSafetensors(fixturePath('models', 'torchvision-golden.safetensors'));
    const { seed, k, shape, offset, scale, check } = INFO.input;
    const x = formula(seed, k, shape, offset, scale);
    assertCheck('input x', x, check);
    goldenCache['x'] = tensor(x, shape);
    for (const t of Object.values(goldenCache)) t.keep();
  }
  return goldenCache;
}

/** max |a − b| over all elements. */
function maxAbsDiff(a: Tensor, b: Tensor): number {
  const va = a.toList();
  const vb = b.toList();
  let m = 0;
  for (let i = 0; i < va.length; i++) m = Math.max(m, Math.abs(va[i] - vb[i]));
  return m;
}

function withFile<T>(file: string, fn: (w: Record<string, Tensor>) => T): T {
  const w = loadSafetensors(file);
  try {
    return fn(w);
  } finally {
    dispose(w);
  }
}

/** A variant of a torchvision file in TMP: keys renamed by `rename` (null drops the key). */
function variant(arch: string, name: string, rename: (k: string) => string | null): string {
  const file = path.join(TMP, `${arch}-${name}.safetensors`);
  if (!fs.existsSync(file)) {
    withFile(tvFile(arch), (w) => {
      const out: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(w)) {
        const n = rename(k);
        if (n !== null) out[n] = t;
      }
      saveSafetensors(file, out);
    });
  }
  return file;
}

/** A few values that show whether anything was copied into the model (a full snapshot of 11M is slow). */
function probe(model: ClassifierModel): Record<string, number[]> {
  const keys = ['conv1.weight', 'bn1.running_var', 'layer1.0.bn1.num_batches_tracked', 'layer4.0.conv1.weight'];
  return tidy(() => {
    const sd = model.stateDict();
    const out = Object.fromEntries(keys.map((k) => [k, sd[k].toList().slice(0, 8)]));
    dispose(sd);
    return out;
  });
}

/** Logits and features of `model` (eval mode) on the golden input, compared with PyTorch's. */
function compareWithPyTorch(model: ClassifierModel, arch: string, what: 'logits' | 'features' | 'both'): void {
  model.eval();
  noGrad(() =>
    tidy(() => {
      const { logits, features } = model.forwardFeatures(golden()['x']);
      const checks: ['logits' | 'features', Tensor][] = [];
      if (what !== 'features') checks.push(['logits', logits]);
      if (what !== 'logits') checks.push(['features', features]);
      for (const [name, t] of checks) {
        const ref = golden()[`${arch}.${name}`];
        assert.deepEqual(t.shape, ref.shape, `${arch} ${name} shape`);
        const rel = relErr(t, ref);
        console.log(
          `# ${arch} ${name} vs PyTorch: max |Δ| ${maxAbsDiff(t, ref).toExponential(2)}, ` +
            `relative ${rel.toExponential(2)} (max |ref| ${Math.max(...ref.abs().toList()).toFixed(3)})`,
        );
        assert.ok(rel <= TOL, `${arch} ${name}: relative error ${rel.toExponential(3)} > ${TOL}`);
      }
    }),
  );
}

for (const [arch, featureDim, numKeys] of [
  ['resnet50', 2048, 320],
  ['resnet18', 512, 122],
] as const) {
  test(`${arch}: the whole torchvision state dict (fc included) loads strictly and gives PyTorch's logits`, () => {
    const model = createModel(arch, { numClasses: 1000 });
    const rows = INFO.archs[arch].tensors;
    // torchvision's state_dict order (recorded by the generator) is ltkit's.
    assert.deepEqual(
      Object.keys(model.stateDictShapes()),
      rows.map((r) => r[0]),
    );
    withFile(tvFile(arch), (w) => {
      assert.equal(Object.keys(w).length, numKeys);
      // The file written here has torchvision's keys, shapes and dtypes.
      assert.deepEqual(
        Object.fromEntries(Object.entries(w).map(([k, t]) => [k, [t.shape, t.dtype]])),
        Object.fromEntries(rows.map((r) => [r[0], [r[1], r[2]]])),
      );
      const r = model.loadStateDict(w);
      assert.deepEqual(r, { missing: [], unexpected: [] });
      assert.deepEqual(w['fc.weight'].shape, [1000, featureDim]);
    });
    compareWithPyTorch(model, arch, 'both');
    model.dispose();
  });
}

test('the comparison with PyTorch is sensitive: one weight changed in the file changes the logits', () => {
  const file = path.join(TMP, 'resnet18-perturbed.safetensors');
  withFile(tvFile('resnet18'), (w) => {
    const k = 'layer4.0.conv1.weight';
    const flat = w[k].toArray() as Float32Array;
    flat[1234] += 1.0;
    const out = { ...w, [k]: tensor(flat, w[k].shape) };
    saveSafetensors(file, out);
    out[k].dispose();
  });
  const model = createModel('resnet18', { numClasses: 1000 });
  withFile(file, (w) => assert.deepEqual(model.loadStateDict(w), { missing: [], unexpected: [] }));
  assert.throws(() => compareWithPyTorch(model, 'resnet18', 'logits'), /resnet18 logits: relative error/);
  model.dispose();
});

test("resnet50 via model.initFrom: every backbone key loaded, fc.* skipped and reported, PyTorch's features", () => {
  const model = createModel('resnet50', { numClasses: 7 }); // a fresh 7-class head for fine-tuning
  const headBefore = tidy(() => model.head.stateDict()['weight'].toList());
  const r = loadBackbone(model, tvFile('resnet50'));
  const backbone = Object.keys(model.stateDictShapes()).filter((k) => !k.startsWith('fc.'));
  assert.equal(backbone.length, 318);
  assert.deepEqual(r.loaded, backbone);
  assert.deepEqual(r.skipped.sort(), ['fc.bias', 'fc.weight']);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.strippedPrefixes, []);
  assert.deepEqual(
    tidy(() => model.head.stateDict()['weight'].toList()),
    headBefore,
    'the fresh head is kept',
  );
  compareWithPyTorch(model, 'resnet50', 'features');
  const text = formatInitReport(r);
  console.log(text.replace(/^/gm, '# '));
  assert.match(text, /loaded 318 backbone tensors; the head keeps its fresh init/);
  assert.match(text, /skipped 2 source keys: fc\.\* \(2\)$/m);
  assert.doesNotMatch(text, /not in the source/);
  model.dispose();
});

test("a DataParallel ('module.') torchvision file: initFrom strips the prefix; the strict full load refuses with a hint", () => {
  const file = variant('resnet18', 'module', (k) => `module.${k}`);
  const model = createModel('resnet18', { numClasses: 5 });
  const before = probe(model);
  withFile(file, (w) =>
    assert.throws(
      () => model.loadStateDict(w),
      (e: Error) =>
        /missing keys \(122\): conv1\.weight/.test(e.message) &&
        /unexpected keys \(122\): module\.bn1\.bias/.test(e.message) &&
        /hint: keys start with 'module\.'/.test(e.message),
    ),
  );
  assert.deepEqual(probe(model), before, 'the refused load changed nothing');
  const r = loadBackbone(model, file);
  assert.equal(r.loaded.length, 120);
  assert.deepEqual(r.strippedPrefixes, ['module.']);
  assert.deepEqual(r.skipped.sort(), ['module.fc.bias', 'module.fc.weight']);
  assert.match(formatInitReport(r), /loaded 120 backbone tensors \(prefix 'module\.' stripped\)/);
  compareWithPyTorch(model, 'resnet18', 'features');
  model.dispose();
});

test('a legacy torchvision checkpoint without num_batches_tracked: initFrom loads it and lists the counters', () => {
  // torchvision's download.pytorch.org files predate the counters; torch.load() of them lacks the keys.
  const file = variant('resnet18', 'no-nbt', (k) => (k.endsWith('.num_batches_tracked') ? null : k));
  const model = createModel('resnet18', { numClasses: 5 });
  const r = loadBackbone(model, file);
  assert.equal(r.missing.length, 20);
  assert.ok(r.missing.every((k) => k.endsWith('.num_batches_tracked')));
  assert.equal(r.loaded.length, 100);
  assert.match(formatInitReport(r), /not in the source \(kept as initialised\): 20: bn1\.num_batches_tracked/);
  compareWithPyTorch(model, 'resnet18', 'features');
  // The strict full load names them; strict: false accepts the file (PyTorch's BatchNorm does the same).
  withFile(file, (w) => {
    const full = createModel('resnet18', { numClasses: 1000 });
    assert.throws(() => full.loadStateDict(w), /missing keys \(20\): bn1\.num_batches_tracked/);
    assert.equal(full.loadStateDict(w, { strict: false }).missing.length, 20);
    compareWithPyTorch(full, 'resnet18', 'logits');
    full.dispose();
  });
  model.dispose();
});

test('files of another layout are refused by initFrom with the key report, the model untouched', () => {
  const model = createModel('resnet18', { numClasses: 5 });
  const before = probe(model);
  // A stage missing (e.g. a truncated export).
  const noLayer4 = variant('resnet18', 'no-layer4', (k) => (k.startsWith('layer4.') ? null : k));
  assert.throws(
    () => loadBackbone(model, noLayer4),
    (e: Error) =>
      e.message.includes(noLayer4) &&
      /nothing was loaded/.test(e.message) &&
      /only part of the backbone is in the file: 25 of 100 backbone keys missing: layer4\.0\.conv1\.weight/.test(
        e.message,
      ),
  );
  // An unknown wrapper (here timm-like 'model.'): nothing matches.
  const wrapped = variant('resnet18', 'wrapped', (k) => `model.${k}`);
  assert.throws(
    () => loadBackbone(model, wrapped),
    /none of the model's 120 backbone keys is in the file .*the file's keys look like: model\./s,
  );
  // Another architecture: a ResNet-18 file into a ResNet-50.
  const r50 = createModel('resnet50', { numClasses: 5 });
  assert.throws(
    () => loadBackbone(r50, tvFile('resnet18')),
    (e: Error) =>
      /cannot initialise the ResNetImageNet backbone/.test(e.message) &&
      /backbone keys missing: layer1\.0\.conv3\.weight/.test(e.message) &&
      /layer1\.0\.conv1\.weight: file \[64,64,3,3\] vs model \[64,64,1,1\]/.test(e.message),
  );
  r50.dispose();
  assert.deepEqual(probe(model), before, 'nothing was copied');
  model.dispose();
});

test('no tensors leak from loading torchvision files', () => {
  golden();
  tvFile('resnet18');
  tvFile('resnet50');
  const m0 = settledMemory().numTensors;
  const model = createModel('resnet18', { numClasses: 3 });
  loadBackbone(model, tvFile('resnet18'));
  withFile(tvFile('resnet18'), (w) => {
    const full = createModel('resnet18', { numClasses: 1000 });
    full.loadStateDict(w);
    full.dispose();
  });
  assert.throws(() => loadBackbone(model, tvFile('resnet50')));
  model.dispose();
  assert.equal(settledMemory().numTensors, m0);
});
