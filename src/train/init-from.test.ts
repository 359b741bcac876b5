// Tests for `model.initFrom` (init-from.ts): PyTorch-made checkpoints with `module.` and `module.encoder_q.`
// prefixes (fixtures/models/gen_prefixed.py: a DataParallel classifier and a DataParallel MoCo v2 with its
// MLP head, momentum encoder and queue) load the backbone exactly and give PyTorch's features, the head stays
// fresh; sources that match nothing, half the backbone, or other shapes are refused with the model untouched;
// run directories and checkpoint folders resolve; nothing leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { Tensor, dispose, noGrad, tidy } from '../engine/tensor';
import { loadSafetensors, saveSafetensors } from '../engine/safetensors';
import { settledMemory } from '../engine/test-support';
import { assertClose, fixturePath } from '../nn/golden.test-util';
import { ClassifierModel, createModel } from '../models';
import { train } from './trainer';
import { INIT_PREFIXES, formatInitReport, loadBackbone, resolveInitSource, stripInitPrefixes } from './init-from';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-init-from-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

const MODULE_FILE = fixturePath('models', 'prefixed-module.safetensors');
const MOCO_FILE = fixturePath('models', 'prefixed-moco.safetensors');
const golden = loadSafetensors(fixturePath('models', 'prefixed-golden.safetensors'));
for (const t of Object.values(golden)) t.keep();

const tiny = (numClasses: number, inChannels = 3): ClassifierModel =>
  createModel('resnet-tiny', { numClasses, inChannels });

/** Every state-dict value of a model, as plain numbers. */
function snapshot(model: ClassifierModel): Record<string, number[]> {
  return tidy(() => {
    const sd = model.stateDict();
    const out = Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, t.toList()]));
    dispose(sd);
    return out;
  });
}

function backboneKeys(model: ClassifierModel): string[] {
  return Object.keys(model.stateDictShapes()).filter((k) => !k.startsWith(model.headPrefix));
}

/** A safetensors file in TMP made from `record` (keys renamed by `rename`; null drops a key). */
function writeVariant(name: string, record: Record<string, Tensor>, rename: (k: string) => string | null): string {
  const out: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(record)) {
    const n = rename(k);
    if (n !== null) out[n] = t;
  }
  const file = path.join(TMP, name);
  saveSafetensors(file, out);
  return file;
}

function withFile<T>(file: string, fn: (w: Record<string, Tensor>) => T): T {
  const w = loadSafetensors(file);
  try {
    return fn(w);
  } finally {
    dispose(w);
  }
}

/** The backbone of `model` equals the file's tensors under `prefix` exactly; the head equals `head`. */
function assertLoaded(model: ClassifierModel, file: string, prefix: string, before: Record<string, number[]>): void {
  const now = snapshot(model);
  withFile(file, (w) => {
    for (const k of backboneKeys(model)) assert.deepEqual(now[k], w[prefix + k].toList(), `'${k}' equals the file's`);
  });
  for (const k of Object.keys(now).filter((k) => k.startsWith(model.headPrefix))) {
    assert.deepEqual(now[k], before[k], `head '${k}' kept its fresh values`);
  }
}

/** Variants of the 'module.' fixture in TMP (made once). */
const variants = new Map<string, string>();
function variant(name: string, rename: (k: string) => string | null): string {
  let file = variants.get(name);
  if (file === undefined) {
    file = withFile(MODULE_FILE, (w) => writeVariant(name, w, rename));
    variants.set(name, file);
  }
  return file;
}
/** Every key under an unknown 'net.' prefix. */
const netFile = () => variant('net.safetensors', (k) => `net.${k.slice('module.'.length)}`);
/** layer2 and layer3 dropped. */
const halfFile = () => variant('half.safetensors', (k) => (/^module\.layer[23]\./.test(k) ? null : k));

/** The state dict of a resnet-tiny with one input channel, under 'module.'. */
function grayFile(): string {
  const file = path.join(TMP, 'gray.safetensors');
  if (!fs.existsSync(file)) {
    const gray = tiny(10, 1);
    const sd = gray.stateDict();
    saveSafetensors(file, Object.fromEntries(Object.entries(sd).map(([k, t]) => [`module.${k}`, t])));
    dispose(sd);
    gray.dispose();
  }
  return file;
}

function assertUnchanged(model: ClassifierModel, before: Record<string, number[]>): void {
  assert.deepEqual(snapshot(model), before, 'the model is unchanged');
}

test('stripInitPrefixes: module. / encoder_q. / backbone., repeatedly and in any order', () => {
  assert.deepEqual(INIT_PREFIXES, ['module.', 'encoder_q.', 'backbone.']);
  assert.deepEqual(stripInitPrefixes('module.encoder_q.layer1.0.conv1.weight'), {
    key: 'layer1.0.conv1.weight',
    prefix: 'module.encoder_q.',
  });
  assert.deepEqual(stripInitPrefixes('backbone.module.bn1.weight'), {
    key: 'bn1.weight',
    prefix: 'backbone.module.',
  });
  assert.deepEqual(stripInitPrefixes('module.module.conv1.weight').key, 'conv1.weight');
  assert.deepEqual(stripInitPrefixes('conv1.weight'), { key: 'conv1.weight', prefix: '' });
  assert.deepEqual(stripInitPrefixes('module.encoder_k.conv1.weight').key, 'encoder_k.conv1.weight');
  assert.deepEqual(stripInitPrefixes('linear.module.weight').key, 'linear.module.weight', 'only leading prefixes');
});

test("a DataParallel ('module.') classifier from PyTorch: backbone loaded exactly, fresh head kept, PyTorch's features", () => {
  const model = tiny(5); // the file's head has 10 classes: never loaded, so its shape does not matter
  const before = snapshot(model);
  const r = loadBackbone(model, MODULE_FILE);
  assert.equal(r.source, MODULE_FILE);
  assert.equal(r.file, MODULE_FILE);
  assert.deepEqual(r.loaded, backboneKeys(model));
  assert.equal(r.loaded.length, 42);
  assert.deepEqual(r.skipped, ['module.linear.bias', 'module.linear.weight']);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.strippedPrefixes, ['module.']);
  assertLoaded(model, MODULE_FILE, 'module.', before);
  model.eval();
  noGrad(() =>
    tidy(() => assertClose(model.forwardBackbone(golden['x']), golden['module.features'], 1e-4, 'features')),
  );
  const text = formatInitReport(r);
  assert.match(text, /loaded 42 backbone tensors \(prefix 'module\.' stripped\)/);
  assert.match(text, /skipped 2 source keys: module\.linear\.\* \(2\)$/);
  assert.ok(text.split('\n').length <= 4, text);
  model.dispose();
});

test("MoCo v2 ('module.encoder_q.'): query encoder's backbone loaded; MLP head, encoder_k, queue skipped", () => {
  const model = tiny(3);
  const before = snapshot(model);
  const r = loadBackbone(model, MOCO_FILE);
  const keys = backboneKeys(model);
  assert.deepEqual(r.loaded, keys);
  assert.deepEqual(r.strippedPrefixes, ['module.encoder_q.']);
  assert.deepEqual(r.missing, []);
  const fileKeys = withFile(MOCO_FILE, (w) => Object.keys(w));
  const used = new Set(keys.map((k) => `module.encoder_q.${k}`));
  assert.deepEqual([...r.skipped].sort(), fileKeys.filter((k) => !used.has(k)).sort());
  for (const k of ['module.encoder_q.fc.0.weight', 'module.encoder_q.fc.2.bias', 'module.queue', 'module.queue_ptr']) {
    assert.ok(r.skipped.includes(k), `${k} skipped`);
  }
  assert.equal(r.skipped.filter((k) => k.startsWith('module.encoder_k.')).length, 46);
  assert.equal(r.skipped.length, 46 + 4 + 2);
  assertLoaded(model, MOCO_FILE, 'module.encoder_q.', before);
  // Not the momentum encoder (its values differ in the file).
  withFile(MOCO_FILE, (w) =>
    assert.notDeepEqual(snapshot(model)['conv1.weight'], w['module.encoder_k.conv1.weight'].toList()),
  );
  model.eval();
  noGrad(() => tidy(() => assertClose(model.forwardBackbone(golden['x']), golden['moco.features'], 1e-4, 'features')));
  const text = formatInitReport(r);
  assert.match(text, /loaded 42 backbone tensors \(prefix 'module\.encoder_q\.' stripped\)/);
  assert.match(
    text,
    /skipped 52 source keys: module\.encoder_k\.\* \(46\), module\.encoder_q\.fc\.\* \(4\), module\.queue, module\.queue_ptr$/m,
  );
  model.dispose();
});

test("a 'backbone.' prefix and a source without num_batches_tracked load (the counters are optional)", () => {
  const file = withFile(MODULE_FILE, (w) =>
    writeVariant('no-nbt.safetensors', w, (k) =>
      k.endsWith('num_batches_tracked') ? null : `backbone.${k.slice('module.'.length)}`,
    ),
  );
  const model = tiny(4);
  const before = snapshot(model);
  const r = loadBackbone(model, file);
  const nbt = backboneKeys(model).filter((k) => k.endsWith('num_batches_tracked'));
  assert.equal(nbt.length, 7);
  assert.deepEqual(r.missing, nbt);
  assert.equal(r.loaded.length, 42 - 7);
  assert.deepEqual(r.strippedPrefixes, ['backbone.']);
  const now = snapshot(model);
  for (const k of nbt) assert.deepEqual(now[k], before[k], `${k} kept`);
  withFile(MODULE_FILE, (w) =>
    assert.deepEqual(now['layer3.0.bn2.running_var'], w['module.layer3.0.bn2.running_var'].toList()),
  );
  assert.match(formatInitReport(r), /not in the source \(kept as initialised\): 7: bn1\.num_batches_tracked/);
  model.dispose();
});

test("refused when nothing matches (keys under an unknown 'net.' prefix): names the file and the missing keys", () => {
  const file = netFile();
  const model = tiny(5);
  const before = snapshot(model);
  assert.throws(
    () => loadBackbone(model, file),
    (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /^model\.initFrom: /);
      assert.match(e.message, /none of the model's 42 backbone keys is in the file/);
      assert.match(e.message, /missing: conv1\.weight, bn1\.weight, bn1\.bias/);
      assert.match(e.message, /… \(15 more\)/); // 35 required keys, 20 listed
      assert.match(e.message, /the file's keys look like: net\.bn1\.bias/);
      return true;
    },
  );
  assertUnchanged(model, before);
  // Only BatchNorm step counters in common counts as nothing.
  const nbtOnly = variant('nbt-only.safetensors', (k) => (k.endsWith('num_batches_tracked') ? k : `net.${k}`));
  assert.throws(() => loadBackbone(model, nbtOnly), /none of the model's 42 backbone keys is in the file/);
  assertUnchanged(model, before);
  model.dispose();
});

test('refused when only half the backbone matches (layer2/layer3 dropped): missing keys named, model unchanged', () => {
  const file = halfFile();
  const model = tiny(5);
  const before = snapshot(model);
  assert.throws(
    () => loadBackbone(model, file),
    (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /only part of the backbone is in the file: 20 of 35 backbone keys missing: /);
      assert.match(e.message, /layer2\.0\.conv1\.weight/);
      assert.match(e.message, /layer3\.0\.bn2\.running_var/);
      assert.doesNotMatch(e.message, /num_batches_tracked/);
      assert.doesNotMatch(e.message, /more\)/);
      return true;
    },
  );
  assertUnchanged(model, before);
  model.dispose();
});

test('refused on a shape mismatch (other input channels; other widths): key and both shapes named', () => {
  const file = grayFile();
  const model = tiny(10);
  const before = snapshot(model);
  assert.throws(
    () => loadBackbone(model, file),
    (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.match(
        e.message,
        /1 key\(s\) with another shape:\n {4}conv1\.weight: file \[4,1,3,3\] \(as module\.conv1\.weight\) vs model \[4,3,3,3\]/,
      );
      assert.doesNotMatch(e.message, /missing/);
      return true;
    },
  );
  assertUnchanged(model, before);
  // A ResNet-8 at 16/32/64 into the 4/8/16 one: every conv and BN tensor differs (35 keys, 20 listed).
  assert.throws(() => {
    const wide = createModel('resnet8', { numClasses: 10 });
    const wideFile = path.join(TMP, 'wide.safetensors');
    const w = wide.stateDict();
    saveSafetensors(wideFile, w);
    dispose(w);
    wide.dispose();
    loadBackbone(model, wideFile);
  }, /35 key\(s\) with another shape:\n {4}conv1\.weight: file \[16,3,3,3\] vs model \[4,3,3,3\][^]*… \(15 more\)/);
  assertUnchanged(model, before);
  model.dispose();
});

test('refused when two source keys strip to the same backbone key (ambiguous)', () => {
  const file = withFile(MODULE_FILE, (w) => {
    const out = path.join(TMP, 'ambiguous.safetensors');
    saveSafetensors(out, { ...w, 'backbone.conv1.weight': w['module.conv1.weight'] });
    return out;
  });
  const model = tiny(5);
  const before = snapshot(model);
  assert.throws(
    () => loadBackbone(model, file),
    /1 backbone key\(s\) appear more than once .*: conv1\.weight \(backbone\.conv1\.weight, module\.conv1\.weight\)/,
  );
  assertUnchanged(model, before);
  model.dispose();
});

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

test('resolveInitSource: a run directory (by its manifest), a checkpoint folder, a file; errors name model.initFrom', () => {
  const run = path.join(TMP, 'hand-run');
  const ckpt = path.join(run, 'checkpoints', 'e0003');
  fs.mkdirSync(ckpt, { recursive: true });
  const bytes = fs.readFileSync(MODULE_FILE);
  const model = path.join(ckpt, 'model.safetensors');
  fs.writeFileSync(model, bytes);
  fs.mkdirSync(path.join(run, 'checkpoints', 'e0002')); // a stale folder the manifest does not name
  const manifest = {
    format: 1,
    id: 'e0003',
    files: { 'model.safetensors': { bytes: bytes.length, sha256: sha256(bytes) } },
  };
  fs.writeFileSync(path.join(run, 'checkpoints', 'latest.json'), JSON.stringify(manifest));
  assert.equal(resolveInitSource(run), model);
  assert.equal(resolveInitSource(path.join(run, 'checkpoints')), model);
  assert.equal(resolveInitSource(ckpt), model);
  assert.equal(resolveInitSource(MODULE_FILE), MODULE_FILE);
  assert.equal(resolveInitSource(path.relative(process.cwd(), MODULE_FILE)), MODULE_FILE);

  for (const spec of [run, ckpt]) {
    const m = tiny(2);
    const before = snapshot(m);
    const r = loadBackbone(m, spec);
    assert.equal(r.source, spec);
    assert.equal(r.file, model);
    assertLoaded(m, MODULE_FILE, 'module.', before);
    m.dispose();
  }

  const expected =
    /^Error: model\.initFrom: .*expected a run directory .*a checkpoint folder .*or a \.safetensors file/;
  assert.throws(() => resolveInitSource(path.join(TMP, 'nope')), /^Error: model\.initFrom: '.*nope' does not exist/);
  assert.throws(() => resolveInitSource(path.join(TMP, 'nope')), expected);
  assert.throws(() => resolveInitSource(''), /^Error: model\.initFrom: no source given/);
  const empty = path.join(TMP, 'empty-dir');
  fs.mkdirSync(empty);
  assert.throws(() => resolveInitSource(empty), expected);
  const json = path.join(TMP, 'weights.pth');
  fs.writeFileSync(json, 'x');
  assert.throws(() => resolveInitSource(json), /is not a \.safetensors file .*safetensors\.torch\.save_file/);
  const noCkpt = path.join(TMP, 'run-without-checkpoint');
  fs.mkdirSync(noCkpt);
  fs.writeFileSync(path.join(noCkpt, 'run.json'), '{}');
  assert.throws(() => resolveInitSource(noCkpt), /^Error: model\.initFrom: run directory .* has no checkpoint yet/);

  // The manifest names a folder that is gone; the file differs from the manifest (a damaged copy).
  const gone = path.join(TMP, 'run-gone');
  fs.mkdirSync(path.join(gone, 'checkpoints'), { recursive: true });
  fs.writeFileSync(path.join(gone, 'checkpoints', 'latest.json'), JSON.stringify(manifest));
  assert.throws(
    () => resolveInitSource(gone),
    /^Error: model\.initFrom: run directory .*e0003.model\.safetensors.*does not exist/,
  );
  const damaged = path.join(TMP, 'run-damaged');
  fs.cpSync(run, damaged, { recursive: true });
  const f = path.join(damaged, 'checkpoints', 'e0003', 'model.safetensors');
  const buf = fs.readFileSync(f);
  buf[buf.length - 1] ^= 0xff;
  fs.writeFileSync(f, buf);
  const m = tiny(2);
  const before = snapshot(m);
  assert.throws(() => loadBackbone(m, damaged), /^Error: model\.initFrom: .*does not match .*latest\.json/);
  assert.throws(() => loadBackbone(m, path.join(damaged, 'checkpoints', 'e0003')), /does not match/);
  assertUnchanged(m, before);
  m.dispose();
});

test('a trained run directory initialises a model with another number of classes', async () => {
  const res = await train({
    data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 } },
    model: { name: 'resnet8' },
    train: { epochs: 1, batchSize: 8, maxStepsPerEpoch: 1, progress: 'off' },
    outDir: TMP,
    name: 'x',
  });
  const model = createModel('resnet8', { numClasses: 7 });
  const before = snapshot(model);
  const r = loadBackbone(model, res.runDir);
  const file = resolveInitSource(res.runDir);
  assert.match(file, /checkpoints.[A-Za-z0-9_-]+.model\.safetensors$/);
  assert.equal(r.file, file);
  assert.deepEqual(r.skipped, ['linear.bias', 'linear.weight']);
  assert.deepEqual(r.strippedPrefixes, []);
  assert.deepEqual(r.missing, []);
  assert.deepEqual(r.loaded, backboneKeys(model));
  assertLoaded(model, file, '', before);
  assert.deepEqual(model.stateDictShapes()['linear.weight'], [7, 64]);
  model.dispose();
});

test('no live tensors left behind (loads, refusals, reports)', () => {
  const files = [halfFile(), netFile(), grayFile()];
  const before = settledMemory().numTensors;
  const model = tiny(5);
  formatInitReport(loadBackbone(model, MODULE_FILE));
  formatInitReport(loadBackbone(model, MOCO_FILE));
  for (const f of files) assert.throws(() => loadBackbone(model, f), /^Error: model\.initFrom: /);
  model.dispose();
  assert.equal(settledMemory().numTensors, before);
});
