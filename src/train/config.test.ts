// Tests for the training configuration (train/config.ts): defaults = the reference schedule (SPEC §5),
// errors that name the dotted key and the allowed values, `--set` parsing, config files, presets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveConfig, applyOverrides, readConfigFile, ConfigError, PRESETS, DATASETS } from './config';
import { runtimeInfo } from '../engine';
import { learningRate } from '../optim/schedules';
import { parseRecipe } from '../methods';

/** A resolved config's method section with its component options (typed per component at run time). */
const method = (c: { method: unknown }) => c.method as Record<string, any>;

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-config-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

/** Asserts `fn` throws a ConfigError whose message contains every fragment. */
function configError(fn: () => unknown, ...fragments: (string | RegExp)[]): string {
  let msg = '';
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof ConfigError, `ConfigError expected, got ${e.constructor.name}: ${e.message}`);
    msg = e.message;
    return true;
  });
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(msg.includes(f), `message lacks '${f}': ${msg}`);
    else assert.match(msg, f);
  }
  return msg;
}

test("defaults are the reference CIFAR schedule (SPEC §5) and the papers' method settings", () => {
  const c = resolveConfig({});
  assert.equal(c.optim.lr, 0.1);
  assert.equal(c.optim.momentum, 0.9);
  assert.equal(c.optim.weightDecay, 2e-4);
  assert.equal(c.train.batchSize, 128);
  assert.equal(c.train.epochs, 200);
  assert.equal(c.schedule.type, 'cifar');
  assert.equal(c.schedule.warmupEpochs, 5);
  assert.equal(c.method.recipe, 'ce');
  assert.equal(c.method.cbBeta, 0.9999);
  assert.equal(c.method.deferFraction, 0.8);
  assert.equal(c.method.gamma, 1);
  assert.equal(c.method.maxMargin, 0.5);
  assert.equal(c.method.s, 30);
  assert.equal(method(c).mfw.stage, 'layer1');
  assert.equal(method(c).mfw.beta, 'auto');
  assert.deepEqual(c.method.remix, { alpha: 1, kappa: 3, tau: 0.5 });
  assert.equal(c.data.rho, 100);
  assert.equal(c.data.imbType, 'exp');
  assert.equal(c.data.valPerClass, 0);
  assert.equal(resolveConfig(undefined).train.epochs, 200, 'undefined input = all defaults');
});

test('the cifar schedule: warm-up, ×0.01 after 80% and ×0.0001 after 90% of the epochs', () => {
  const c = resolveConfig({});
  const lr = (e: number) => learningRate(c, e, 0, 10);
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);
  close(lr(0), 0.02);
  close(lr(4), 0.1);
  close(lr(5), 0.1);
  close(lr(159), 0.1);
  close(lr(160), 0.001);
  close(lr(179), 0.001);
  close(lr(180), 0.00001);
  close(lr(199), 0.00001);
  const short = resolveConfig({ train: { epochs: 10 }, schedule: { warmupEpochs: 1 } });
  close(learningRate(short, 7, 0, 10), 0.1);
  close(learningRate(short, 8, 0, 10), 0.001);
  close(learningRate(short, 9, 0, 10), 0.00001);
});

test('bad values name the dotted key and the allowed values', () => {
  configError(() => resolveConfig(applyOverrides({}, ['data.dataset=foo'])), 'data.dataset', "'foo'", ...DATASETS);
  configError(() => resolveConfig(applyOverrides({}, ['train.epochs=-1'])), 'train.epochs', /greater than 0/);
  configError(() => resolveConfig(applyOverrides({}, ['train.epochs=2.5'])), 'train.epochs', /integer/);
  configError(
    () => resolveConfig(applyOverrides({}, ['method.mfw.stage=layer9'])),
    'method.mfw.stage',
    'input, stem, layer1, layer2, layer3',
  );
  configError(() => resolveConfig(applyOverrides({}, ['train.progress=loud'])), 'train.progress', 'auto, on, off');
  configError(() => resolveConfig(applyOverrides({}, ['data.imbType=linear'])), 'data.imbType', 'exp, step');
  configError(() => resolveConfig(applyOverrides({}, ['method.cbBeta=1'])), 'method.cbBeta');
  configError(() => resolveConfig(applyOverrides({}, ['optim.nesterov=yes'])), 'optim.nesterov', /boolean/);
  configError(() => resolveConfig({ data: 3 }), 'data', /object/);
  // Several problems: one line each.
  const msg = configError(
    () => resolveConfig(applyOverrides({}, ['train.epochs=0', 'data.rho=0.5'])),
    'train.epochs',
    'data.rho',
  );
  assert.equal(msg.split('\n').length, 2);
  // The source label prefixes each line (config file name, preset, run.json).
  configError(() => resolveConfig({ seed: -1 }, 'my.yaml'), /^my\.yaml: seed:/);
});

test('unknown keys are errors naming the dotted key and the allowed keys there', () => {
  configError(
    () => resolveConfig(applyOverrides({}, ['train.epoch=3'])),
    'unknown key train.epoch',
    'epochs',
    'batchSize',
  );
  configError(() => resolveConfig({ epochs: 3 }), 'unknown key epochs', 'train', 'data', 'method');
  configError(() => resolveConfig({ data: { synthetic: { sz: 3 } } }), 'data.synthetic.sz', 'numClasses', 'size');
  configError(() => resolveConfig({ method: { mfw: { alhpa: 2 } } }), 'method.mfw.alhpa', 'alpha', 'beta', 'stage');
  configError(() => resolveConfig({ train: { a: 1, b: 2 } }), 'unknown keys train.a, train.b');
});

test('--set parsing: numbers, booleans, null, JSON arrays/objects, strings, nesting', () => {
  const cfg = applyOverrides({ train: { epochs: 3 } }, [
    'train.epochs=30',
    'optim.lr=0.05',
    'optim.nesterov=true',
    'train.augment=false',
    'method.recipe=ldam+drw',
    'method.mixup.stages=["input","layer2"]',
    'method.tauNorm={"taus":[0,1]}',
    'data.root=/data/c=10',
    'threads=null',
    'optim.weightDecay=1e-4',
    'name=run-1',
  ]);
  assert.deepEqual(cfg, {
    train: { epochs: 30, augment: false },
    optim: { lr: 0.05, nesterov: true, weightDecay: 1e-4 },
    method: { recipe: 'ldam+drw', mixup: { stages: ['input', 'layer2'] }, tauNorm: { taus: [0, 1] } },
    data: { root: '/data/c=10' },
    threads: null,
    name: 'run-1',
  });
  const r = resolveConfig({ ...cfg, threads: undefined });
  assert.equal(r.train.epochs, 30);
  assert.deepEqual(method(r).mixup.stages, ['input', 'layer2']);
  assert.equal(r.train.batchSize, 128, 'untouched keys keep their defaults');
  configError(() => applyOverrides({}, ['train.epochs']), 'expected key=value');
  configError(() => applyOverrides({}, ['=3']), 'expected key=value');
  configError(() => applyOverrides({}, ['method.mixup.stages=[input]']), 'not valid JSON');
  configError(() => applyOverrides({ train: 5 }, ['train.epochs=3']), 'train is not a section');
  // Later overrides win.
  assert.deepEqual(applyOverrides({}, ['seed=1', 'seed=2']), { seed: 2 });
});

test('config files: JSON and YAML; the top level must be a mapping', () => {
  const json = path.join(TMP, 'a.json');
  fs.writeFileSync(json, JSON.stringify({ train: { epochs: 7 }, method: { recipe: 'mfw+drw' } }));
  assert.equal(resolveConfig(readConfigFile(json)).train.epochs, 7);
  const yaml = path.join(TMP, 'b.yaml');
  fs.writeFileSync(yaml, 'data:\n  dataset: synthetic\n  rho: 10\nmethod:\n  recipe: ldam+drw\n  mfw: {alpha: 2}\n');
  const c = resolveConfig(readConfigFile(yaml));
  assert.equal(c.data.dataset, 'synthetic');
  assert.equal(c.data.rho, 10);
  assert.equal(method(c).mfw.alpha, 2);
  const list = path.join(TMP, 'c.yaml');
  fs.writeFileSync(list, '- 1\n- 2\n');
  configError(() => readConfigFile(list), 'c.yaml', 'mapping');
  const bad = path.join(TMP, 'd.json');
  fs.writeFileSync(bad, '{"train": ');
  configError(() => readConfigFile(bad), 'd.json');
  const msg = configError(
    () => readConfigFile(path.join(TMP, 'missing.yaml')),
    'missing.yaml',
    'does not exist',
    'ltkit list presets',
  );
  assert.ok(msg.length < 400, `the message stays readable (${msg.length} chars)`);
});

test('presets resolve, carry their dataset/ρ/imbalance/recipe, and their recipes parse', () => {
  const names = Object.keys(PRESETS);
  // 3 data sets × 4 ρ × 2 profiles × 22 recipes, fmnist-lt, and S1's semi-supervised grid: 3 data sets ×
  // 3 ρ × 4 ρU, plus 3 relevance presets; the large-scale setups: 5 (data set, model) pairs × 10 recipes (CE,
  // CE balanced, cRT, LDAM-DRW, each with and without SSP; LWS, τ-norm).
  assert.equal(names.length, 3 * 4 * 2 * 22 + 1 + 3 * 3 * 4 + 3 + 5 * 10);
  const ssp = resolveConfig(readConfigFile('imagenet-lt-resnet10-ssp-moco+ce+crt'));
  assert.deepEqual([ssp.method.recipe, ssp.pretrain.epochs, ssp.pretrain.moco.queue], ['ssp-moco+ce+crt', 200, 65536]);
  const semi = resolveConfig(readConfigFile('cifar10-lt-exp100-du5-rhou200'));
  assert.deepEqual(
    [
      semi.data.rho,
      semi.data.unlabeled?.k,
      semi.data.unlabeled?.rhoU,
      semi.data.unlabeled?.relevance,
      semi.train.batchSize,
    ],
    [100, 5, 200, 1, 256],
  );
  const rel = resolveConfig(readConfigFile('fmnist-lt-exp100-du5-r0.5'));
  assert.deepEqual(
    [rel.data.unlabeled?.relevance, rel.data.unlabeled?.outOfTask, rel.model.name],
    [0.5, 'mnist', 'resnet8'],
  );
  for (const n of names) {
    const c = resolveConfig(readConfigFile(n), n);
    parseRecipe(c.method.recipe);
  }
  const c = resolveConfig(readConfigFile('cifar10-lt-exp100-ldam+drw'));
  assert.equal(c.data.dataset, 'cifar10-lt');
  assert.equal(c.data.rho, 100);
  assert.equal(c.data.imbType, 'exp');
  assert.equal(c.method.recipe, 'ldam+drw');
  assert.equal(c.train.epochs, 200);
  const s = resolveConfig(readConfigFile('svhn-lt-step50-mfw+drw'));
  assert.deepEqual([s.data.dataset, s.data.rho, s.data.imbType, s.method.recipe], ['svhn-lt', 50, 'step', 'mfw+drw']);
  const f = resolveConfig(readConfigFile('fmnist-lt'));
  assert.equal(f.data.dataset, 'fmnist-lt');
  assert.equal(f.model.name, 'resnet8');
  // readConfigFile returns a copy: overriding it leaves the preset alone.
  const raw = readConfigFile('fmnist-lt');
  applyOverrides(raw, ['train.epochs=1', 'data.rho=10']);
  assert.equal(resolveConfig(readConfigFile('fmnist-lt')).train.epochs, 12);
  assert.equal(resolveConfig(readConfigFile('fmnist-lt')).data.rho, 100);
});

test('the trainer refuses a device it cannot train on, naming the key', async () => {
  const { train } = await import('./trainer');
  await assert.rejects(
    train({ device: 'gpu', data: { dataset: 'synthetic' } }),
    /device: 'gpu' \(allowed: cpu, cuda, cuda:N\)/,
  );
  if (!runtimeInfo().cuda) {
    await assert.rejects(
      train({ device: 'cuda:0', data: { dataset: 'synthetic' } }),
      /device: 'cuda:0', but this libtorch .* has no CUDA/,
    );
  }
});

test('a cosine schedule whose warm-up covers every epoch is refused at config time, naming the key', () => {
  assert.throws(
    () => resolveConfig({ schedule: { type: 'cosine' }, train: { epochs: 2 } }),
    /schedule\.warmupEpochs: 5 warm-up epochs leave none of train\.epochs \(2\)/,
  );
  assert.equal(resolveConfig({ schedule: { type: 'cosine', warmupEpochs: 0 }, train: { epochs: 2 } }).train.epochs, 2);
});
