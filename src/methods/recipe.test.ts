// Tests for recipes (methods/recipe.ts) and the re-balancing rules (methods/rules.ts, SPEC §3):
// parsing, defaults, slot conflicts, unknown components, DRW / DRS switching at floor(0.8·E),
// Reweight from epoch 0, MFW's β 'auto' from the imbalance type.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy } from '../engine';
import { resolveConfig } from '../train/config';
import { parseRecipe, COMPONENTS, RecipeError, MethodOptions } from './recipe';
import { classWeightsAt, samplingAt, deferEpoch, cbWeights, RuleOptions } from './rules';
import { mfwStrength } from './mfw';
import type { HookContext } from './types';
import type { Rng } from '../util/rng';

const defaults = (): MethodOptions => resolveConfig({}).method;
const parse = (recipe: string, imb: 'exp' | 'step' = 'exp') => parseRecipe({ ...defaults(), recipe }, imb);

test('defaults: the config default recipe is ce with no rules, hooks or classifier stage', () => {
  const cfg = resolveConfig({});
  assert.equal(cfg.method.recipe, 'ce');
  const r = parseRecipe(cfg.method);
  assert.equal(r.loss, 'ce');
  assert.equal(r.classWeightsRule, 'none');
  assert.equal(r.samplerRule, 'none');
  assert.equal(r.features, null);
  assert.equal(r.classifier, null);
  assert.equal(r.normedLinear, false);
  assert.deepEqual(r.components, ['ce']);
  // A recipe without a loss component uses CE.
  for (const text of ['drw', 'mfw', 'resample', 'crt', 'mixup+drs']) assert.equal(parse(text).loss, 'ce', text);
});

test('parsing fills the slots; case and spaces are ignored', () => {
  const r = parse(' LDAM + DRW ');
  assert.equal(r.loss, 'ldam');
  assert.equal(r.classWeightsRule, 'drw');
  assert.equal(r.normedLinear, true, 'LDAM needs the cosine head');
  assert.deepEqual(r.components, ['ldam', 'drw']);
  const full = parse('focal+reweight+drs+mfw+crt');
  assert.equal(full.loss, 'focal');
  assert.equal(full.classWeightsRule, 'reweight');
  assert.equal(full.samplerRule, 'drs');
  assert.equal(full.features?.name, 'mfw');
  assert.equal(full.classifier, 'crt');
  assert.equal(full.normedLinear, false);
  for (const [text, loss] of [
    ['balanced-softmax', 'balanced-softmax'],
    ['logit-adjusted+resample', 'logit-adjusted'],
  ] as const) {
    assert.equal(parse(text).loss, loss);
  }
  assert.equal(parse('ce+resample').samplerRule, 'resample');
  assert.equal(parse('mixup').features?.name, 'mixup');
  assert.equal(parse('manifold-mixup').features?.name, 'manifold-mixup');
  assert.equal(parse('remix+drw').features?.name, 'remix');
  assert.equal(parse('ce+tau-norm').classifier, 'tau-norm');
  assert.equal(parse('ce+lws').classifier, 'lws');
  // Every registered component parses on its own.
  for (const c of COMPONENTS) assert.doesNotThrow(() => parse(c.name), c.name);
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
      () => parse(text),
      (e: Error) => {
        assert.ok(e instanceof RecipeError, `${text}: RecipeError`);
        for (const w of [`'${a}'`, `'${b}'`, `'${slot}'`])
          assert.ok(e.message.includes(w), `${text}: message lacks ${w}: ${e.message}`);
        return true;
      },
    );
  }
});

test('unknown or empty components: the message lists the allowed names', () => {
  assert.throws(
    () => parse('ce+foo'),
    (e: Error) => {
      assert.ok(e instanceof RecipeError);
      assert.match(e.message, /unknown component 'foo'/);
      for (const c of COMPONENTS) assert.ok(e.message.includes(c.name), `lists ${c.name}: ${e.message}`);
      return true;
    },
  );
  assert.throws(() => parse('ldamdrw'), /unknown component 'ldamdrw'.*allowed: .*ldam.*drw/);
  assert.throws(
    () => parse(''),
    (e: Error) => e instanceof RecipeError && /empty/.test(e.message),
  );
  assert.throws(() => parse(' + '), /empty/);
  assert.throws(
    () => parseRecipe({ ...defaults(), recipe: 'mfw', mfw: { alpha: 1, beta: 2, stage: 'layer9' as never } }),
    /layer9.*allowed: input, stem, layer1, layer2, layer3/,
  );
});

const counts = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];

test('rules: DRW has no weights before floor(0.8·E) and CB weights from then on', () => {
  for (const epochs of [200, 10, 7, 2, 1]) {
    const o: RuleOptions = { epochs, deferFraction: 0.8, beta: 0.9999 };
    const d = Math.floor(0.8 * epochs);
    assert.equal(deferEpoch(epochs, 0.8), d);
    for (let e = 0; e < epochs; e++) {
      const w = classWeightsAt('drw', e, counts, o);
      if (e < d) assert.equal(w, null, `E=${epochs} epoch ${e}`);
      else assert.deepEqual(w, cbWeights(counts, 0.9999), `E=${epochs} epoch ${e}`);
    }
  }
  assert.equal(deferEpoch(200, 0.8), 160, 'the reference switches at epoch 160 of 200');
  // CB weights (effective number): w_c ∝ (1 − β)/(1 − β^{n_c}), normalised to sum to C.
  const w = cbWeights(counts, 0.9999);
  const raw = counts.map((n) => (1 - 0.9999) / (1 - Math.pow(0.9999, n)));
  const sum = raw.reduce((a, b) => a + b, 0);
  w.forEach((v, c) => assert.ok(Math.abs(v - (raw[c] * counts.length) / sum) < 1e-9, `class ${c}`));
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - counts.length) < 1e-9);
  // β = 0 gives uniform weights.
  assert.deepEqual(cbWeights(counts, 0), new Array(counts.length).fill(1));
});

test('rules: reweight from epoch 0; none and samplers carry no weights', () => {
  const o: RuleOptions = { epochs: 10, deferFraction: 0.8, beta: 0.9999 };
  for (let e = 0; e < 10; e++) {
    assert.deepEqual(classWeightsAt('reweight', e, counts, o), cbWeights(counts, 0.9999));
    for (const r of ['none', 'resample', 'drs'] as const) assert.equal(classWeightsAt(r, e, counts, o), null);
  }
});

test('rules: DRS samples instances before floor(0.8·E) and class-balanced after; resample always', () => {
  const o: RuleOptions = { epochs: 10, deferFraction: 0.8, beta: 0.9999 };
  for (let e = 0; e < 10; e++) {
    assert.equal(samplingAt('drs', e, o), e < 8 ? 'instance' : 'class-balanced', `epoch ${e}`);
    assert.equal(samplingAt('resample', e, o), 'class-balanced');
    for (const r of ['none', 'reweight', 'drw'] as const) assert.equal(samplingAt(r, e, o), 'instance');
  }
  const half: RuleOptions = { epochs: 10, deferFraction: 0.5, beta: 0.9999 };
  assert.equal(samplingAt('drs', 4, half), 'instance');
  assert.equal(samplingAt('drs', 5, half), 'class-balanced');
  assert.equal(classWeightsAt('drw', 4, counts, half), null);
  assert.notEqual(classWeightsAt('drw', 5, counts, half), null);
});

test("MFW's β 'auto' is 2.0 for exp and 0.01 for step imbalance; an explicit β wins", () => {
  const stepCounts = [500, 500, 5, 5];
  // A fixed-draw Rng: λ_n = s(N_{y_n}) · 1, partner = the next sample.
  const rng = {
    beta: () => 1,
    permutation: (n: number) => Int32Array.from({ length: n }, (_, i) => (i + 1) % n),
  } as unknown as Rng;
  const effectiveS = (recipeImb: 'exp' | 'step', beta: number | 'auto') =>
    tidy(() => {
      const r = parseRecipe({ ...defaults(), recipe: 'mfw', mfw: { alpha: 1, beta, stage: 'layer1' } }, recipeImb);
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
      const out = r.features?.apply(z, ctx).toList() as number[];
      return y.map((n) => out[n * 4 + ((n + 1) % 4)]);
    });
  const near = (a: number[], b: number[]) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-6, `${a} vs ${b}`));
  near(effectiveS('step', 'auto'), mfwStrength(stepCounts, 0.01));
  near(effectiveS('exp', 'auto'), mfwStrength(stepCounts, 2.0));
  near(effectiveS('step', 0.5), mfwStrength(stepCounts, 0.5));
  assert.equal(parse('mfw').features?.stage({} as Rng), 'layer1', 'default stage: after layer1 (the paper)');
});
