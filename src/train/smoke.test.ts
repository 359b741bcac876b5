// Smoke tests (ARCHITECTURE.md "Tests"): every loss × rule, MFW at each stage, the mixup family and the
// classifier stages run 2 steps end to end through the CLI on tiny synthetic data (exit code, finite
// losses, run.json, checkpoints); every trainable parameter gets a gradient under each recipe's loss;
// a training call leaves no live native tensors behind.
import { runCli } from '../cli/test-util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, tidy, memory } from '../engine';
import { resolveConfig, applyOverrides, PRESETS, TrainConfig } from './config';
import { buildTrainData } from './datasets';
import { batchPipelines } from './pipelines';
import { buildCriterion, buildModel, batchLoss, gatherImages, train } from './trainer';
import { parseRecipe } from '../methods/recipe';
import { classWeightsAt } from '../methods/rules';
import type { HookContext } from '../methods/types';
import { STAGES } from '../methods/types';
import { AugRng } from '../data/transforms/rng';
import { Rng } from '../util/rng';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-smoke-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const LOSSES = ['ce', 'focal', 'ldam', 'balanced-softmax', 'logit-adjusted'];
const RULES = ['none', 'reweight', 'drw', 'resample', 'drs'];

interface Case {
  name: string;
  recipe: string;
  sets?: string[];
}

const CASES: Case[] = [
  ...LOSSES.flatMap((l) =>
    RULES.map((r) => ({ name: r === 'none' ? l : `${l}+${r}`, recipe: r === 'none' ? l : `${l}+${r}` })),
  ),
  ...STAGES.map((s) => ({ name: `mfw@${s}`, recipe: 'mfw', sets: [`method.mfw.stage=${s}`] })),
  { name: 'mfw', recipe: 'mfw' },
  { name: 'mfw+drw', recipe: 'mfw+drw' },
  { name: 'ldam+drw+mfw', recipe: 'ldam+drw+mfw' },
  { name: 'mixup', recipe: 'mixup' },
  { name: 'manifold-mixup', recipe: 'manifold-mixup' },
  { name: 'remix', recipe: 'remix' },
  { name: 'remix+drw', recipe: 'remix+drw' },
  { name: 'ce+crt', recipe: 'ce+crt' },
  { name: 'ce+tau-norm', recipe: 'ce+tau-norm' },
  { name: 'ce+tau-norm+val', recipe: 'ce+tau-norm', sets: ['data.valPerClass=2'] },
  { name: 'ldam+drw+tau-norm', recipe: 'ldam+drw+tau-norm' },
  { name: 'ce+lws', recipe: 'ce+lws' },
  { name: 'ldam+lws', recipe: 'ldam+lws' },
  { name: 'ldam+drw+crt', recipe: 'ldam+drw+crt' },
];

/** Tiny synthetic data, resnet8, 2 epochs × 1 step (so DRW/DRS switch at epoch floor(0.8·2) = 1). */
const BASE = [
  'data.dataset=synthetic',
  'data.synthetic.size=8',
  'data.synthetic.numClasses=4',
  'data.synthetic.imgMax=24',
  'data.synthetic.testPerClass=4',
  'model.name=resnet8',
  'train.batchSize=8',
  'train.epochs=2',
  'train.maxStepsPerEpoch=1',
  'train.progress=off',
  'schedule.warmupEpochs=1',
  'method.crt.epochs=1',
  'method.lws.epochs=1',
  'method.tauNorm.taus=[0,0.5,1]',
  `outDir=${OUT}`,
];

/** Runs the CLI in-process with stdout/stderr captured. */
const cli = (argv: string[]) => runCli(argv);

const setArgs = (sets: string[]) => sets.flatMap((s) => ['--set', s]);

function checkRun(dir: string, c: Case): void {
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(run.status, 'completed');
  assert.equal(run.epochsDone, 2);
  assert.equal(run.config.method.recipe, c.recipe, 'run.json holds the resolved config');
  assert.equal(run.config.train.epochs, 2);
  assert.equal(run.config.model.name, 'resnet8');
  assert.equal(run.recipe.text, c.recipe);
  assert.deepEqual(run.recipe.components, c.recipe.split('+'));
  assert.ok(run.recipe.slots && typeof run.recipe.slots.loss === 'string');
  assert.equal(typeof run.versions.ltkit, 'string');
  assert.equal(typeof run.versions.libtorch, 'string');
  assert.equal(run.versions.node, process.version);
  assert.ok('gitSha' in run.versions);
  assert.equal(typeof run.data.subsetHash, 'string');
  assert.ok(run.data.subsetHash.length > 0);
  assert.deepEqual(run.data.clsNumList.length, 4);
  assert.ok(run.final && typeof run.final.top1 === 'number', 'final headline in run.json');

  const lines = fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const epochs = lines.filter((l) => l.type === 'epoch');
  assert.deepEqual(
    epochs.map((l) => l.epoch),
    [0, 1],
  );
  for (const l of epochs) {
    assert.ok(Number.isFinite(l.loss) && l.loss > 0, `finite loss: ${l.loss}`);
    for (const v of Object.values(l.lossTerms)) assert.ok(Number.isFinite(v as number));
    assert.ok(Number.isFinite(l.lr) && l.lr > 0);
    assert.equal(typeof l.test.top1, 'number');
  }
  for (const f of [
    'last.safetensors',
    'last.optim.safetensors',
    'last.optim.json',
    'last.state.json',
    'best.safetensors',
  ]) {
    assert.ok(fs.statSync(path.join(dir, 'checkpoints', f)).size > 0, `checkpoints/${f}`);
  }
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'last.state.json'), 'utf8')).epoch, 1);
  assert.ok(fs.existsSync(path.join(dir, 'subset-indices.json')));
  assert.ok(fs.existsSync(path.join(dir, 'final-metrics.json')));
}

test('every preset recipe is among the smoke cases', () => {
  const smoke = new Set(CASES.map((c) => c.recipe));
  const presetRecipes = new Set(
    Object.values(PRESETS)
      .map((p) => (p.method as { recipe?: string } | undefined)?.recipe)
      .filter((r): r is string => r !== undefined),
  );
  for (const r of presetRecipes) assert.ok(smoke.has(r), `preset recipe '${r}' has no smoke case`);
});

test('smoke: every recipe trains 2 steps end to end through the CLI', async (t) => {
  let first = true;
  for (const c of CASES) {
    await t.test(c.name, async () => {
      const name = c.name.replace(/[^a-z0-9-]+/gi, '_');
      const before = memory().numTensors;
      const r = await cli([
        'train',
        ...setArgs([...BASE, `method.recipe=${c.recipe}`, ...(c.sets ?? [])]),
        '--name',
        name,
      ]);
      assert.equal(r.code, 0, `exit code ${r.code}; stderr: ${r.stderr}`);
      assert.match(r.stdout, /completed, 2 epochs/);
      if (!first) assert.equal(memory().numTensors, before, 'a training run leaves no live native tensors');
      first = false;
      const dir = path.join(OUT, name);
      checkRun(dir, c);
      const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
      const cls = c.recipe.split('+').find((x) => ['crt', 'tau-norm', 'lws'].includes(x));
      if (cls) {
        const st = JSON.parse(fs.readFileSync(path.join(dir, 'classifier-stage.json'), 'utf8'));
        assert.equal(st.stage, cls);
        assert.equal(typeof st.test.top1, 'number');
        assert.match(r.stdout, new RegExp(`after ${cls}: top-1 \\d+\\.\\d+%`), 'the CLI prints the stage result');
        assert.ok(run.classifierStage && typeof run.classifierStage.top1 === 'number');
        if (cls === 'crt') assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'crt.safetensors')));
        if (cls === 'tau-norm') {
          assert.equal(st.selectedOn, c.sets?.includes('data.valPerClass=2') ? 'val' : 'test');
          assert.deepEqual(
            st.sweep.map((e: { tau: number }) => e.tau),
            [0, 0.5, 1],
          );
        }
        if (cls === 'lws') assert.equal(st.scales.length, 4);
      }
      if (c.sets?.some((s) => s.startsWith('method.mfw.stage='))) {
        assert.equal(run.config.method.mfw.stage, c.sets[0].split('=')[1]);
      }
    });
  }
});

test('smoke: a preset name with overrides trains through the CLI', async () => {
  const r = await cli([
    'train',
    '--config',
    'cifar10-lt-exp100-ldam+drw',
    ...setArgs([...BASE, 'data.rho=10']),
    '--name',
    'preset-run',
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.equal(result.status, 'completed');
  const run = JSON.parse(fs.readFileSync(path.join(OUT, 'preset-run', 'run.json'), 'utf8'));
  assert.equal(run.config.method.recipe, 'ldam+drw');
  assert.equal(run.config.data.rho, 10);
  assert.equal(run.recipe.slots.classWeights, 'drw');
});

function cfgFor(recipe: string, sets: string[] = []): TrainConfig {
  const raw = applyOverrides({}, [...BASE, `method.recipe=${recipe}`, ...sets]);
  return resolveConfig(raw);
}

test('every trainable parameter gets a finite, non-zero gradient under each recipe', () => {
  const data = buildTrainData(cfgFor('ce'));
  const pipes = batchPipelines(data, true);
  const idx = Int32Array.from({ length: 16 }, (_, i) => i % data.train.targets.length);
  const yArr = Int32Array.from(idx, (i) => data.train.targets[i]);
  const cases = CASES.filter((c) => !/crt|lws|tau-norm/.test(c.recipe)).concat(
    // Classifier stages do not change the training loss; check the mixed recipes with their hooks.
    STAGES.map((s) => ({
      name: `manifold-mixup@${s}`,
      recipe: 'manifold-mixup',
      sets: [`method.mixup.stages=["${s}"]`],
    })),
  );
  const before = memory().numTensors;
  for (const c of cases) {
    const cfg = cfgFor(c.recipe, c.sets);
    const recipe = parseRecipe(cfg.method, cfg.data.imbType);
    const model = buildModel(cfg, recipe, data);
    const crit = buildCriterion(recipe, cfg, data.clsNumList);
    // The weights of the last epoch (DRW/Reweight active).
    crit.setWeight(
      classWeightsAt(recipe.classWeightsRule, cfg.train.epochs - 1, data.clsNumList, {
        epochs: cfg.train.epochs,
        deferFraction: cfg.method.deferFraction,
        beta: cfg.method.cbBeta,
      }),
    );
    model.train();
    tidy(() => {
      const rng = new Rng(5);
      const x = pipes.train(gatherImages(data.train, idx), new AugRng(0, 0));
      const y = tensor(yArr, [yArr.length], 'int64');
      let ctx: HookContext | null = null;
      let hook;
      if (recipe.features) {
        const h = recipe.features;
        const cx: HookContext = { targets: y, targetsArray: yArr, clsNumList: data.clsNumList, rng, labelMix: null };
        ctx = cx;
        hook = { stage: h.stage(rng), fn: (z: Tensor) => h.apply(z, cx) };
      }
      const { logits } = model.forwardFeatures(x, { hook });
      const loss = batchLoss(crit, logits, y, ctx);
      assert.ok(Number.isFinite(loss.item()), `${c.name}: finite loss`);
      loss.backward();
      const params = model.namedParameters().filter(([, p]) => p.requiresGrad);
      assert.ok(params.length > 10, `${c.name}: has parameters`);
      for (const [n, p] of params) {
        const g = p.grad;
        assert.ok(g !== null, `${c.name}: no gradient for '${n}'`);
        const v = g.toArray() as Float32Array;
        assert.ok(
          v.every((e) => Number.isFinite(e)),
          `${c.name}: non-finite gradient in '${n}'`,
        );
        assert.ok(
          v.some((e) => e !== 0),
          `${c.name}: all-zero gradient for '${n}'`,
        );
      }
    });
    model.dispose();
    crit.dispose();
  }
  assert.equal(memory().numTensors, before, 'gradient checks leave no live tensors');
});

test('a training call leaves memory().numTensors unchanged (after a warm-up call)', async () => {
  const data = buildTrainData(cfgFor('ce'));
  for (const recipe of [
    'ldam+drw',
    'mfw+drw',
    'remix+drw',
    'ce+crt',
    'ce+lws',
    'ldam+lws',
    'ldam+tau-norm',
    'focal+drs',
  ]) {
    const cfg = (n: string) => resolveConfig({ ...cfgFor(recipe), name: `mem-${recipe.replace(/\+/g, '_')}-${n}` });
    await train(cfg('warm'), { data }); // warm-up: first-use caches, if any
    const before = memory().numTensors;
    const r = await train(cfg('measured'), { data });
    assert.equal(r.status, 'completed');
    assert.equal(memory().numTensors, before, `${recipe}: live tensors after train()`);
  }
});
