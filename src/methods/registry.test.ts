// Tests for the component registry and recipes (methods/registry.ts) and the re-balancing components
// (methods/rebalance.ts, SPEC §3): parsing, slot defaults, slot conflicts, unknown or malformed recipes,
// DRW / DRS switching at floor(0.8·E) through the one deferral function, Reweight from epoch 0, MFW's β
// 'auto' from the imbalance type, and the config schema assembled from the components' options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { tensor, tidy } from '../engine';
import { resolveConfig, TrainConfigInput } from '../train/config';
import { cbWeights, deferredSwitchEpoch, IndexSampler } from '../data/samplers';
import { parseRecipe, buildPlan, components, register, RecipeError, MethodPlan } from './index';
import { mfwStrength } from './mfw';
import type { HookContext } from './types';
import type { Rng } from '../util/rng';

const counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];

function plan(recipe: string, over: TrainConfigInput = {}, clsNumList = counts): MethodPlan {
  const settings = resolveConfig({ ...over, method: { ...(over.method ?? {}), recipe } });
  return buildPlan(parseRecipe(recipe), { settings, clsNumList, numClasses: clsNumList.length });
}

/** The sampler kind an epoch uses (DRS switches between two). */
function samplerAt(p: MethodPlan, epoch: number): string {
  const targets = counts.flatMap((n, c) => new Array<number>(Math.min(n, 20)).fill(c));
  const s = p.createSampler(targets, 0) as IndexSampler & { samplerAt?(e: number): IndexSampler };
  return (s.samplerAt ? s.samplerAt(epoch) : s).name;
}

const slotName = (p: MethodPlan, slot: string) => p.recipe.bySlot.get(slot as never)?.name ?? null;

test('defaults: the config default recipe is ce with no weights, instance sampling, no hook or stage', () => {
  const cfg = resolveConfig({});
  assert.equal(cfg.method.recipe, 'ce');
  const p = plan('ce');
  assert.equal(p.lossName, 'ce');
  assert.equal(p.classWeightsAt(0), null);
  assert.equal(samplerAt(p, 0), 'instance');
  assert.equal(p.features, null);
  assert.deepEqual(p.stages, []);
  assert.equal(p.normedLinear, false);
  assert.deepEqual(
    p.recipe.components.map((c) => c.name),
    ['ce'],
  );
  // A recipe without a loss component uses CE (the loss slot's default).
  for (const text of ['drw', 'mfw', 'resample', 'crt', 'mixup+drs']) assert.equal(plan(text).lossName, 'ce', text);
});

test('parsing fills the slots; case and spaces are ignored', () => {
  const p = plan(' LDAM + DRW ');
  assert.equal(p.lossName, 'ldam');
  assert.equal(slotName(p, 'classWeights'), 'drw');
  assert.equal(p.normedLinear, true, 'LDAM needs the cosine head');
  assert.deepEqual(
    p.recipe.components.map((c) => c.name),
    ['ldam', 'drw'],
  );
  const full = plan('focal+reweight+drs+mfw+crt');
  assert.equal(full.lossName, 'focal');
  assert.equal(slotName(full, 'classWeights'), 'reweight');
  assert.equal(slotName(full, 'sampler'), 'drs');
  assert.equal(full.features?.name, 'mfw');
  assert.deepEqual(
    full.stages.map((s) => s.name),
    ['crt'],
  );
  assert.equal(full.normedLinear, false);
  assert.equal(plan('balanced-softmax').lossName, 'balanced-softmax');
  assert.equal(plan('logit-adjusted+resample').lossName, 'logit-adjusted');
  assert.equal(samplerAt(plan('ce+resample'), 0), 'class-balanced');
  assert.equal(plan('mixup').features?.name, 'mixup');
  assert.equal(plan('manifold-mixup').features?.name, 'manifold-mixup');
  assert.equal(plan('remix+drw').features?.name, 'remix');
  assert.deepEqual(
    plan('ce+tau-norm').stages.map((s) => s.name),
    ['tau-norm'],
  );
  assert.deepEqual(
    plan('ce+lws').stages.map((s) => s.name),
    ['lws'],
  );
  // Every registered component builds on its own.
  for (const c of components()) assert.doesNotThrow(() => plan(c.name), c.name);
});

test('conflicts: two components in one slot are rejected, naming both and the slot', () => {
  for (const [text, a, b, slot] of [
    ['reweight+drw', 'reweight', 'drw', 'classWeights'],
    ['mfw+mixup', 'mfw', 'mixup', 'features'],
    ['ce+focal', 'ce', 'focal', 'loss'],
    ['ldam+drw+resample+drs', 'resample', 'drs', 'sampler'],
    ['ce+crt+lws', 'crt', 'lws', 'classifier'],
    ['remix+manifold-mixup', 'remix', 'manifold-mixup', 'features'],
  ]) {
    assert.throws(
      () => parseRecipe(text),
      (e: Error) => {
        assert.ok(e instanceof RecipeError, `${text}: RecipeError`);
        for (const w of [`'${a}'`, `'${b}'`, `'${slot}'`])
          assert.ok(e.message.includes(w), `${text}: message lacks ${w}: ${e.message}`);
        return true;
      },
    );
  }
});

test('unknown, empty or malformed recipes: refused, listing the allowed names', () => {
  assert.throws(
    () => parseRecipe('ce+foo'),
    (e: Error) => {
      assert.ok(e instanceof RecipeError);
      assert.match(e.message, /unknown component 'foo'/);
      for (const c of components()) assert.ok(e.message.includes(c.name), `lists ${c.name}: ${e.message}`);
      return true;
    },
  );
  assert.throws(() => parseRecipe('ldamdrw'), /unknown component 'ldamdrw'.*allowed: .*ldam.*drw/);
  for (const text of ['', ' + ', '+']) {
    assert.throws(
      () => parseRecipe(text),
      (e: Error) => e instanceof RecipeError && /empty/.test(e.message),
      JSON.stringify(text),
    );
  }
  for (const text of ['ce++drw', 'ce+', '+ldam']) {
    assert.throws(() => parseRecipe(text), /empty component between '\+' signs/, text);
  }
  // The config refuses them too, naming the key.
  assert.throws(() => resolveConfig({ method: { recipe: 'ce++drw' } }), /method\.recipe: 'ce\+\+drw': an empty/);
  assert.throws(
    () => resolveConfig({ method: { recipe: 'mfw', mfw: { stage: 'layer9' } } }),
    /method\.mfw\.stage.*'layer9'.*allowed: input, stem, layer1, layer2, layer3/,
  );
});

test('registry: names are unique, a slot has one default, an option key has one schema', () => {
  const fresh = { slot: 'loss' as const, help: 'x', options: {}, build: () => ({}) };
  assert.throws(() => register({ ...fresh, name: 'ce' }), /'ce' is registered twice/);
  assert.throws(() => register({ ...fresh, name: 'Bad_Name' }), /kebab-case/);
  assert.throws(() => register({ ...fresh, name: 'another-default', isDefault: true }), /already has a default/);
  assert.throws(
    () => register({ ...fresh, name: 'clash', options: { gamma: z.number().default(3) } }),
    /option 'method\.gamma' is already defined by 'focal'/,
  );
  // The config's method section holds every component's options, with their defaults.
  const m = resolveConfig({}).method as Record<string, unknown>;
  for (const key of [
    'gamma',
    'maxMargin',
    's',
    'tau',
    'cbBeta',
    'deferFraction',
    'mfw',
    'mixup',
    'remix',
    'crt',
    'tauNorm',
    'lws',
  ])
    assert.ok(key in m, `method.${key}`);
  assert.throws(() => resolveConfig({ method: { gamma2: 1 } }), /unknown key method\.gamma2/);
});

test('DRW has no weights before floor(0.8·E) and CB weights from then on', () => {
  for (const epochs of [200, 10, 7, 2, 1]) {
    const p = plan('drw', { train: { epochs } });
    const d = Math.floor(0.8 * epochs);
    for (let e = 0; e < epochs; e++) {
      const w = p.classWeightsAt(e);
      if (e < d) assert.equal(w, null, `E=${epochs} epoch ${e}`);
      else assert.deepEqual(w, cbWeights(counts, 0.9999), `E=${epochs} epoch ${e}`);
    }
  }
  assert.equal(deferredSwitchEpoch(200, 0.8), 160, 'the reference switches at epoch 160 of 200');
  // CB weights (effective number): w_c ∝ (1 − β)/(1 − β^{n_c}), normalised to sum to C.
  const w = cbWeights(counts, 0.9999);
  const raw = counts.map((n) => (1 - 0.9999) / (1 - Math.pow(0.9999, n)));
  const sum = raw.reduce((a, b) => a + b, 0);
  w.forEach((v, c) => assert.ok(Math.abs(v - (raw[c] * counts.length) / sum) < 1e-9, `class ${c}`));
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - counts.length) < 1e-9);
  assert.deepEqual(cbWeights(counts, 0), new Array(counts.length).fill(1), 'β = 0 gives uniform weights');
});

test('one deferral function: DRW and DRS switch at the same epoch, 0.29 of 100 epochs is 29', () => {
  assert.equal(0.29 * 100, 28.999999999999996, 'binary rounding the switch must absorb');
  assert.equal(deferredSwitchEpoch(100, 0.29), 29);
  for (const [epochs, f] of [
    [100, 0.29],
    [100, 0.57],
    [80, 0.8],
    [7, 0.5],
    [3, 1],
    [10, 0],
  ]) {
    const sw = deferredSwitchEpoch(epochs, f);
    const drw = plan('drw', { train: { epochs }, method: { recipe: 'drw', deferFraction: f } });
    const drs = plan('drs', { train: { epochs }, method: { recipe: 'drs', deferFraction: f } });
    for (let e = 0; e < epochs; e++) {
      assert.equal(drw.classWeightsAt(e) !== null, e >= sw, `DRW E=${epochs} f=${f} epoch ${e}`);
      assert.equal(samplerAt(drs, e), e >= sw ? 'class-balanced' : 'instance', `DRS E=${epochs} f=${f} epoch ${e}`);
    }
  }
  assert.throws(() => deferredSwitchEpoch(10, 1.5), /fraction/);
});

test('reweight from epoch 0; no class-weight component and the samplers carry no weights', () => {
  for (let e = 0; e < 10; e++) {
    assert.deepEqual(plan('reweight', { train: { epochs: 10 } }).classWeightsAt(e), cbWeights(counts, 0.9999));
    for (const r of ['ce', 'resample', 'drs']) assert.equal(plan(r, { train: { epochs: 10 } }).classWeightsAt(e), null);
  }
  // method.cbBeta reaches the weights.
  assert.deepEqual(
    plan('reweight', { method: { recipe: 'reweight', cbBeta: 0.99 } }).classWeightsAt(0),
    cbWeights(counts, 0.99),
  );
});

test('DRS samples instances before floor(0.8·E) and class-balanced after; resample always', () => {
  const drs = plan('drs', { train: { epochs: 10 } });
  for (let e = 0; e < 10; e++) {
    assert.equal(samplerAt(drs, e), e < 8 ? 'instance' : 'class-balanced', `epoch ${e}`);
    assert.equal(samplerAt(plan('resample', { train: { epochs: 10 } }), e), 'class-balanced');
    for (const r of ['ce', 'reweight', 'drw'])
      assert.equal(samplerAt(plan(r, { train: { epochs: 10 } }), e), 'instance');
  }
  const half = plan('drs', { train: { epochs: 10 }, method: { recipe: 'drs', deferFraction: 0.5 } });
  assert.equal(samplerAt(half, 4), 'instance');
  assert.equal(samplerAt(half, 5), 'class-balanced');
});

test("MFW's β 'auto' is 2.0 for exp and 0.01 for step imbalance; an explicit β wins", () => {
  const stepCounts = [500, 500, 5, 5];
  // A fixed-draw Rng: λ_n = s(N_{y_n}) · 1, partner = the next sample.
  const rng = {
    beta: () => 1,
    permutation: (n: number) => Int32Array.from({ length: n }, (_, i) => (i + 1) % n),
  } as unknown as Rng;
  const effectiveS = (imbType: 'exp' | 'step', beta: number | 'auto') =>
    tidy(() => {
      const p = plan('mfw', { data: { imbType }, method: { recipe: 'mfw', mfw: { alpha: 1, beta } } }, stepCounts);
      const y = [0, 1, 2, 3];
      const ctx: HookContext = {
        targets: tensor(Int32Array.from(y), [4], 'int64'),
        targetsArray: Int32Array.from(y),
        clsNumList: stepCounts,
        rng,
        labelMix: null,
      };
      // z = one-hot rows, so z̃[n][π(n)] = λ_n.
      const z = tensor(
        Float32Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 1 : 0)),
        [4, 4],
      );
      const out = p.features?.apply(z, ctx).toList() as number[];
      return y.map((n) => out[n * 4 + ((n + 1) % 4)]);
    });
  const near = (a: number[], b: number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${a} vs ${b}`));
  near(effectiveS('step', 'auto'), mfwStrength(stepCounts, 0.01));
  near(effectiveS('exp', 'auto'), mfwStrength(stepCounts, 2.0));
  near(effectiveS('step', 0.5), mfwStrength(stepCounts, 0.5));
  assert.equal(plan('mfw').features?.stage({} as Rng), 'layer1', 'default stage: after layer1 (the paper)');
});
