// Smoke tests (ARCHITECTURE.md "Tests"): recipes generated from the component registry — every loss alone
// and with every class-weight and sampler component, every feature hook (MFW at each stage), every extra
// stage after a plain and a cosine head — train 2 epochs end to end through the CLI on tiny synthetic data
// (exit code, finite loss terms, run.json, metrics, checkpoints; `ltkit eval` gives the final model's
// numbers); every trainable parameter gets a gradient under each recipe's loss; a training call leaves no
// live native tensors behind. A component registered tomorrow is in these cases the moment it exists.
import { runCli, tinyRunSets } from '../cli/test-util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, tidy, memory } from '../engine';
import { resolveConfig, applyOverrides, PRESETS, TrainConfig } from './config';
import { buildTrainData } from '../data/train-data';
import { DataLoader, InMemorySource } from '../data/loader';
import { batchPipelines } from './pipelines';
import { train } from './trainer';
import { buildModel } from './run-model';
import { batchLoss } from './classification';
import { components, parseRecipe, buildPlan } from '../methods';
import type { HookContext, Slot } from '../methods/types';
import { STAGES } from '../methods/types';
import { localContext } from '../core/context';
import { Rng } from '../util/rng';
import { settledMemory } from '../engine/test-support';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-smoke-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

interface Case {
  name: string;
  recipe: string;
  sets?: string[];
}

const bySlot = (slot: Slot) =>
  components()
    .filter((c) => c.slot === slot)
    .map((c) => c.name);
const LOSSES = bySlot('loss');
const RULES = [...bySlot('classWeights'), ...bySlot('sampler')];
const CASES: Case[] = [
  ...LOSSES.flatMap((l) => [l, ...RULES.map((r) => `${l}+${r}`)]).map((r) => ({ name: r, recipe: r })),
  ...STAGES.map((s) => ({ name: `mfw@${s}`, recipe: 'mfw', sets: [`method.mfw.stage=${s}`] })),
  ...bySlot('features')
    .flatMap((f) => [f, `${f}+drw`])
    .map((r) => ({ name: r, recipe: r })),
  { name: 'ldam+drw+mfw', recipe: 'ldam+drw+mfw' },
  ...bySlot('classifier')
    .flatMap((k) => [`ce+${k}`, `ldam+drw+${k}`])
    .map((r) => ({ name: r, recipe: r })),
  { name: 'ce+tau-norm+val', recipe: 'ce+tau-norm', sets: ['data.valPerClass=2'] },
  // Unlabeled-data methods, alone and with a re-balanced loss, on a DU@1× pool of the synthetic set.
  ...bySlot('unlabeled')
    .flatMap((u) => [`ce+${u}`, `ldam+drw+${u}`, `mfw+${u}`])
    .map((r) => ({ name: r, recipe: r, sets: ['data.unlabeled.k=1'] })),
  // Self-supervised pre-training components: a 1-epoch pre-training run, then the recipe from its backbone.
  ...bySlot('pretrain')
    .flatMap((p) => [`${p}+ce`, `${p}+ldam+drw`])
    .map((r) => ({ name: r, recipe: r, sets: ['pretrain.epochs=1'] })),
];

/** Tiny synthetic data, resnet8, 2 epochs × 1 step (so DRW/DRS switch at epoch floor(0.8·2) = 1). */
const BASE = tinyRunSets(OUT);

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
  const stages = run.stages as string[];
  assert.equal(stages[0], 'train');
  const epochs = lines.filter((l) => l.type === 'epoch' && l.stage === 'train');
  assert.deepEqual(
    epochs.map((l) => l.epoch),
    [0, 1],
  );
  assert.deepEqual(
    lines.filter((l) => l.type === 'stage').map((l) => l.stage),
    stages,
    'one stage line per stage',
  );
  for (const l of epochs) {
    assert.ok(Number.isFinite(l.loss) && l.loss > 0, `finite loss: ${l.loss}`);
    for (const v of Object.values(l.lossTerms)) assert.ok(Number.isFinite(v as number));
    assert.ok(Number.isFinite(l.lr) && l.lr > 0);
    assert.equal(typeof l.test.top1, 'number');
  }
  // The current checkpoint is the one after the last stage; its manifest names every file with its checksum.
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'latest.json'), 'utf8'));
  for (const f of ['model.safetensors', 'best.safetensors', 'state.json']) {
    assert.ok(m.files[f], `checkpoint has ${f}`);
    assert.equal(fs.statSync(path.join(dir, 'checkpoints', m.id, f)).size, m.files[f].bytes, f);
  }
  assert.deepEqual(
    fs.readdirSync(path.join(dir, 'checkpoints')).sort(),
    ['latest.json', m.id].sort(),
    'only the current checkpoint remains',
  );
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', m.id, 'state.json'), 'utf8'));
  assert.equal(state.stagesDone, stages.length);
  assert.equal(state.epoch, -1);
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
  // A pre-training component (ssp-*) runs its own pretext run first; those are trained by src/ssp's tests and
  // the streamed-data test (ssp-moco+ce), so here the rest of the recipe must have a smoke case.
  for (const r of presetRecipes) {
    const rest = r.replace(/^ssp-[a-z]+\+/, '');
    assert.ok(smoke.has(rest), `preset recipe '${r}' has no smoke case${rest !== r ? ` (for '${rest}')` : ''}`);
  }
});

test('smoke: every recipe trains 2 steps end to end through the CLI', async (t) => {
  let first = true;
  for (const c of CASES) {
    await t.test(c.name, async () => {
      const name = c.name.replace(/[^a-z0-9-]+/gi, '_');
      const before = settledMemory().numTensors;
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
      const final = JSON.parse(fs.readFileSync(path.join(dir, 'final-metrics.json'), 'utf8'));
      assert.deepEqual(
        final.stages.map((st: { name: string }) => st.name),
        run.stages,
      );
      assert.equal(final.final.top1, final.stages[final.stages.length - 1].test.top1, 'final = the last stage');
      // `ltkit eval` rebuilds the final model (every stage applied) and says so; same numbers as the run.
      const ev = await cli(['eval', '--run', dir, '--json']);
      assert.equal(ev.code, 0, ev.stderr);
      const evr = JSON.parse(ev.stdout);
      assert.match(evr.model, new RegExp(`final model: ${run.stages.map((st: string) => `'${st}'`).join(', then ')}`));
      assert.equal(evr.summary.top1, final.final.top1, 'eval reproduces the final top-1');
      assert.deepEqual(evr.summary.confusion, final.final.confusion, 'eval reproduces the confusion matrix');
      const extra = final.stages[1];
      if (extra) {
        assert.match(r.stdout, new RegExp(`after '${extra.name}': top-1 \\d+\\.\\d+%`), 'the CLI prints each stage');
        if (extra.name === 'tau-norm') {
          assert.equal(extra.result.selectedOn, c.sets?.includes('data.valPerClass=2') ? 'val' : 'test');
          assert.deepEqual(
            extra.result.sweep.map((e: { tau: number }) => e.tau),
            [0, 0.5, 1],
          );
          // The sweep's numbers for the chosen τ are the installed head's on each split: the sweep saw the
          // validation images as validation and the test images as test.
          const chosen = extra.result.sweep.find((e: { tau: number }) => e.tau === extra.result.tau);
          assert.equal(chosen.testTop1, extra.test.top1, 'sweep test top-1 = the final model on test');
          if (extra.result.selectedOn === 'val') assert.equal(chosen.valTop1, extra.val.top1, 'sweep val = on val');
        }
        if (extra.name === 'lws') assert.equal(extra.result.scales.length, 4);
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
  const c0 = cfgFor('ce');
  const data = buildTrainData(c0.data);
  const input = { imageShape: data.train.shape.slice(1) as [number, number, number], mean: data.mean, std: data.std };
  const pipes = batchPipelines(input, true);
  const idx = Int32Array.from({ length: 16 }, (_, i) => i % data.train.targets.length);
  const yArr = Int32Array.from(idx, (i) => data.train.targets[i]);
  const loader = new DataLoader(new InMemorySource(data.train), {
    sampler: { epochIndices: () => idx },
    batchSize: 16,
    transform: pipes.train,
  });
  // Classifier stages and unlabeled methods leave the labeled loss as it is (semi.test.ts checks the latter).
  const cases = CASES.filter(
    (c) => !/crt|lws|tau-norm/.test(c.recipe) && !c.sets?.includes('data.unlabeled.k=1'),
  ).concat(
    // Classifier stages do not change the training loss; check the mixed recipes with their hooks.
    STAGES.map((s) => ({
      name: `manifold-mixup@${s}`,
      recipe: 'manifold-mixup',
      sets: [`method.mixup.stages=["${s}"]`],
    })),
  );
  const before = settledMemory().numTensors;
  for (const c of cases) {
    const cfg = cfgFor(c.recipe, c.sets);
    const plan = buildPlan(parseRecipe(cfg.method.recipe), {
      settings: cfg,
      clsNumList: data.clsNumList,
      numClasses: data.numClasses,
    });
    const model = buildModel(cfg, plan.normedLinear, {
      numClasses: data.numClasses,
      inChannels: input.imageShape[2],
      ctx: localContext({ channelsLast: false }),
    });
    const crit = plan.createCriterion();
    // The weights of the last epoch (DRW/Reweight active).
    crit.setWeight(plan.classWeightsAt(cfg.train.epochs - 1));
    model.train();
    const batch = loader.batchAt(0, 0);
    tidy(() => {
      const rng = new Rng(5);
      const x = batch.x;
      const y = tensor(yArr, [yArr.length], 'int64');
      let ctx: HookContext | null = null;
      let hook;
      if (plan.features) {
        const h = plan.features;
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
    batch.x.dispose();
    batch.y.dispose();
  }
  assert.equal(memory().numTensors, before, 'gradient checks leave no live tensors');
});

test('a training call leaves memory().numTensors unchanged (after a warm-up call)', async () => {
  const c0 = cfgFor('ce');
  const data = buildTrainData(c0.data);
  for (const recipe of [
    'ldam+drw',
    'mfw+drw',
    'remix+drw',
    'ce+crt',
    'ce+lws',
    'ldam+lws',
    'ldam+tau-norm',
    'focal+drs',
    'ce+mean-teacher',
    'ce+vat',
    'ce+fixmatch',
  ]) {
    const sets = /teacher|vat|fixmatch/.test(recipe) ? ['data.unlabeled.k=1'] : [];
    const cfg = (n: string) =>
      resolveConfig({ ...cfgFor(recipe, sets), name: `mem-${recipe.replace(/\+/g, '_')}-${n}` });
    const d = sets.length > 0 ? buildTrainData(cfgFor(recipe, sets).data) : data;
    await train(cfg('warm'), { data: d }); // warm-up: first-use caches, if any
    const before = settledMemory().numTensors;
    const r = await train(cfg('measured'), { data: d });
    assert.equal(r.status, 'completed');
    assert.equal(memory().numTensors, before, `${recipe}: live tensors after train()`);
  }
});
