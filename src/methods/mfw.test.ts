// Tests for the feature-slot methods (SPEC §4): MFW's s(N) against Eq. 12 computed independently,
// s ≡ 0 == plain training bit for bit, gradients into both mixing partners, labels untouched; the
// mixup family's label mixing and Remix's λ_y rules; batchLoss with per-sample λ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, memory, manualSeed, dispose } from '../engine';
import * as models from '../models';
import * as losses from '../losses';
import { SGD } from '../optim';
import { Rng } from '../util/rng';
import { mfwStrength, mfwHook } from './mfw';
import { mixupHook, remixHook } from './mixup';
import type { HookContext, Stage } from './types';
import { STAGES } from './types';
import { batchLoss } from '../train/classification';
import { settledMemory } from '../engine/test-support';

const CIFAR10_LT_100 = [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50];
const CIFAR10_STEP_100 = [5000, 5000, 5000, 5000, 5000, 50, 50, 50, 50, 50];

/** Eq. 12 written independently: s(N_c) = 0.5·σ((N_c − μ)/(β·γ)), μ geometric mean, γ population std. */
function eq12(counts: number[], beta: number): number[] {
  const C = counts.length;
  let prod = 1;
  for (const n of counts) prod *= Math.pow(n, 1 / C); // geometric mean as a product of C-th roots
  const mu = prod;
  let mean = 0;
  for (const n of counts) mean += n;
  mean /= C;
  let v = 0;
  for (const n of counts) v += (n - mean) * (n - mean);
  const gamma = Math.sqrt(v / C); // population (not sample) std
  return counts.map((n) => 0.5 / (1 + Math.exp(-(n - mu) / (beta * gamma))));
}

const near = (a: number, b: number, tol: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, msg ?? `expected ${b}, got ${a} (tol ${tol})`);

/** A stand-in Rng with fixed draws (the hooks only call beta, permutation and int). */
function fixedRng(o: { beta?: number; perm?: number[]; int?: number }): Rng {
  return {
    beta: () => o.beta ?? 0.5,
    permutation: (n: number) => {
      assert.equal(n, o.perm?.length, 'permutation size');
      return Int32Array.from(o.perm as number[]);
    },
    int: () => o.int ?? 0,
    random: () => 0.5,
  } as unknown as Rng;
}

function ctxFor(y: number[], clsNumList: number[], rng: Rng): HookContext {
  const targetsArray = Int32Array.from(y);
  return { targets: tensor(targetsArray, [y.length], 'int64'), targetsArray, clsNumList, rng, labelMix: null };
}

/** Deterministic pseudo-random float data (JS side, independent of libtorch's generator). */
function data(n: number, seed: number): Float32Array {
  const r = new Rng(seed, 3);
  return Float32Array.from({ length: n }, () => r.normal());
}

test('s(N) matches Eq. 12 (geometric mean, population std) for β = 2.0 and β = 0.01', () => {
  for (const [counts, beta] of [
    [CIFAR10_LT_100, 2.0],
    [CIFAR10_LT_100, 0.01],
    [CIFAR10_STEP_100, 0.01],
    [CIFAR10_STEP_100, 2.0],
    [[500, 400, 10, 7, 3], 2.0],
  ] as [number[], number][]) {
    const got = mfwStrength(counts, beta);
    const want = eq12(counts, beta);
    assert.equal(got.length, counts.length);
    got.forEach((s, c) => near(s, want[c], 1e-12, `class ${c} (β=${beta}, counts ${counts}): ${s} vs ${want[c]}`));
  }
  // Hand-checked anchors for CIFAR-10-LT ρ=100, β=2: μ = (5000·…·50)^(1/10) ≈ 499.574, γ ≈ 1537.043.
  const s = mfwStrength(CIFAR10_LT_100, 2.0);
  near(s[0], 0.5 / (1 + Math.exp(-(5000 - 499.574) / (2 * 1537.043))), 1e-6, 'head class');
  near(s[0], 0.40607, 1e-5, 'head class s ≈ 0.40607');
  assert.ok(s[0] > 0.4 && s[9] < 0.25, `head gets the strongest weakening, tail the weakest: ${s}`);
  // Step imbalance with β = 0.01: the major half saturates at 0.5, the minor half at 0.
  const st = mfwStrength(CIFAR10_STEP_100, 0.01);
  for (let c = 0; c < 5; c++) near(st[c], 0.5, 1e-7);
  for (let c = 5; c < 10; c++) near(st[c], 0, 1e-7);
  // Balanced counts: γ = 0 → σ(0) = 0.5 → s = 0.25 for every class (no NaN).
  assert.deepEqual(mfwStrength([10, 10, 10], 2.0), [0.25, 0.25, 0.25]);
});

test('s(N) is monotone increasing in N and lies in [0, 0.5]', () => {
  for (const beta of [2.0, 0.01, 0.5]) {
    const counts = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
    const s = mfwStrength(counts, beta);
    for (let i = 0; i < s.length; i++) {
      assert.ok(s[i] >= 0 && s[i] <= 0.5, `s=${s[i]} out of [0, 0.5]`);
      if (i > 0) assert.ok(s[i] >= s[i - 1], `not monotone at ${counts[i]}: ${s[i - 1]} > ${s[i]} (β=${beta})`);
    }
    // Strictly increasing where the sigmoid is not saturated (β = 2).
    if (beta === 2.0) for (let i = 1; i < s.length; i++) assert.ok(s[i] > s[i - 1]);
  }
  // Unordered input: the order of the result follows the input classes.
  const shuffled = [50, 5000, 645, 1077];
  const s = mfwStrength(shuffled, 2.0);
  assert.ok(s[1] > s[3] && s[3] > s[2] && s[2] > s[0]);
  assert.throws(() => mfwStrength([], 2), /empty/);
  assert.throws(() => mfwStrength([5, 0], 2), /> 0/);
  assert.throws(() => mfwStrength([5, 1], 0), /beta/);
});

/** Trains `steps` SGD steps of resnet8 from seed 7; returns the final state dict as number arrays. */
function trainSteps(
  hookFor: ((rng: Rng, y: Int32Array) => { stage: Stage; fn: (z: Tensor) => Tensor }) | null,
  steps = 3,
) {
  manualSeed(7);
  const model = models.create('resnet8', { numClasses: 4, inChannels: 3 });
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  const crit = losses.create('ce', {});
  const rng = new Rng(11);
  model.train();
  for (let s = 0; s < steps; s++) {
    tidy(() => {
      const B = 8;
      const y = Int32Array.from({ length: B }, (_, i) => (i + s) % 4);
      const x = tensor(data(B * 3 * 8 * 8, 100 + s), [B, 3, 8, 8]);
      const hook = hookFor ? hookFor(rng, y) : undefined;
      const { logits } = model.forwardFeatures(x, { hook });
      const loss = crit(logits, tensor(y, [B], 'int64'));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  const state = model.stateDict();
  const out = Object.fromEntries(Object.entries(state).map(([k, t]) => [k, t.toArray()]));
  dispose(state);
  model.dispose();
  opt.dispose();
  crit.dispose();
  return out;
}

test('MFW with s ≡ 0 is exactly plain training (bit for bit), at every stage', () => {
  const plain = trainSteps(null);
  const counts = [40, 12, 5, 2];
  for (const stage of STAGES) {
    const hook = mfwHook({ alpha: 1, beta: 2, stage, strength: [0, 0, 0, 0] });
    const ctxs: HookContext[] = [];
    const got = trainSteps((rng, y) => {
      const ctx = ctxFor(Array.from(y), counts, rng);
      ctxs.push(ctx);
      return { stage: hook.stage(rng), fn: (z) => hook.apply(z, ctx) };
    });
    assert.equal(ctxs.length, 3, 'the hook ran every step');
    for (const k of Object.keys(plain)) {
      assert.deepEqual(got[k], plain[k], `stage ${stage}: '${k}' differs from plain training`);
    }
    for (const c of ctxs) assert.equal(c.labelMix, null);
  }
  // Sanity: a non-zero strength does change the weights (the hook is really on the path).
  const hook = mfwHook({ alpha: 1, beta: 2, stage: 'layer1', strength: [0.5, 0.5, 0.5, 0.5] });
  const mixed = trainSteps((rng, y) => {
    const ctx = ctxFor(Array.from(y), counts, rng);
    return { stage: hook.stage(rng), fn: (z) => hook.apply(z, ctx) };
  });
  assert.notDeepEqual(mixed['conv1.weight'], plain['conv1.weight']);
});

test('MFW: z̃_n = (1 − λ_n)·z_n + λ_n·z_π(n), gradients reach both partners, labels untouched', () => {
  const before = settledMemory().numTensors;
  tidy(() => {
    const B = 6;
    const shape = [B, 2, 3, 3];
    const per = 2 * 3 * 3;
    const zData = data(B * per, 5);
    const y = [0, 1, 2, 0, 1, 2];
    const counts = [100, 30, 5];
    const strength = [0.5, 0.3, 0.1];
    // Replay the hook's draws (permutation first, then one Beta draw per sample) from the same seed.
    const replay = new Rng(21, 2);
    const perm = replay.permutation(B);
    const lam = y.map((c) => strength[c] * replay.beta(2, 2));

    const z = tensor(zData, shape, { requiresGrad: true });
    const targets = tensor(Int32Array.from(y), [B], 'int64');
    const ctx: HookContext = {
      targets,
      targetsArray: Int32Array.from(y),
      clsNumList: counts,
      rng: new Rng(21, 2),
      labelMix: null,
    };
    const hook = mfwHook({ alpha: 2, beta: 2, stage: 'layer1', strength });
    assert.equal(hook.stage(new Rng(0)), 'layer1');
    const out = hook.apply(z, ctx);
    assert.deepEqual(out.shape, shape);
    // Labels are untouched: no label mixing recorded, the targets tensor is the same object and values.
    assert.equal(ctx.labelMix, null);
    assert.equal(ctx.targets, targets);
    assert.deepEqual(ctx.targets.toList(), y);
    // Forward values follow the formula with the replayed λ and π.
    const o = out.toArray() as Float32Array;
    for (let n = 0; n < B; n++) {
      for (let k = 0; k < per; k++) {
        const want = (1 - Math.fround(lam[n])) * zData[n * per + k] + Math.fround(lam[n]) * zData[perm[n] * per + k];
        near(o[n * per + k], want, 1e-5, `z̃[${n}][${k}]`);
      }
    }
    // Backward of a loss that depends only on sample n's output.
    const n = Array.from({ length: B }, (_, i) => i).find((i) => perm[i] !== i && lam[i] > 0);
    assert.ok(n !== undefined, 'some sample has a partner other than itself');
    out.select(0, n).sum().backward();
    const g = (z.grad as Tensor).toArray() as Float32Array;
    for (let m = 0; m < B; m++) {
      const row = Array.from(g.subarray(m * per, (m + 1) * per));
      const want = m === n ? 1 - Math.fround(lam[n]) : m === perm[n] ? Math.fround(lam[n]) : 0;
      for (const v of row) near(v, want, 1e-6, `grad row ${m} (n=${n}, π(n)=${perm[n]}, λ=${lam[n]})`);
    }
    assert.ok(
      g.subarray(n * per, (n + 1) * per).some((v) => v !== 0),
      'row n gets gradient',
    );
    assert.ok(
      g.subarray(perm[n] * per, (perm[n] + 1) * per).some((v) => v !== 0),
      'row π(n) gets gradient',
    );
  });
  assert.equal(memory().numTensors, before, 'the hook leaves no live tensors behind a tidy scope');
});

test('MFW uses s(N_y) from the class counts when no strength override is given', () => {
  tidy(() => {
    const counts = [1000, 100, 10];
    const s = mfwStrength(counts, 2.0);
    const y = [0, 1, 2, 0];
    const perm = [1, 2, 3, 0];
    const z = tensor(Float32Array.from([1, 2, 3, 4]), [4, 1]);
    const ctx = ctxFor(y, counts, fixedRng({ beta: 1, perm }));
    const out = mfwHook({ alpha: 1, beta: 2.0, stage: 'stem' }).apply(z, ctx).toArray() as Float32Array;
    const zv = [1, 2, 3, 4];
    for (let n = 0; n < 4; n++) {
      const l = Math.fround(s[y[n]]);
      near(out[n], (1 - l) * zv[n] + l * zv[perm[n]], 1e-6, `sample ${n}`);
    }
    assert.equal(ctx.labelMix, null);
  });
});

test('mixup and manifold mixup record label mixing with the batch permutation', () => {
  tidy(() => {
    const y = [0, 1, 2, 3];
    const perm = [2, 3, 0, 1];
    const z = tensor(Float32Array.from([1, 2, 3, 4]), [4, 1]);
    const ctx = ctxFor(y, [10, 5, 3, 1], fixedRng({ beta: 0.7, perm }));
    const h = mixupHook({ alpha: 1 });
    assert.equal(h.name, 'mixup');
    assert.equal(h.stage(fixedRng({})), 'input');
    const out = h.apply(z, ctx).toArray() as Float32Array;
    assert.ok(ctx.labelMix !== null, 'labelMix set');
    assert.equal(ctx.labelMix.lam, 0.7);
    assert.deepEqual(ctx.labelMix.a.toList(), y);
    assert.deepEqual(
      ctx.labelMix.b.toList(),
      perm.map((p) => y[p]),
    );
    for (let n = 0; n < 4; n++) near(out[n], 0.7 * (n + 1) + 0.3 * (perm[n] + 1), 1e-6);

    const mm = mixupHook({ alpha: 1, stages: ['input', 'layer1', 'layer2'], name: 'manifold-mixup' });
    assert.equal(mm.name, 'manifold-mixup');
    assert.equal(mm.stage(fixedRng({ int: 2 })), 'layer2');
    const seen = new Set<Stage>();
    const r = new Rng(3);
    for (let i = 0; i < 60; i++) seen.add(mm.stage(r));
    assert.deepEqual([...seen].sort(), ['input', 'layer1', 'layer2']);
    const ctx2 = ctxFor(y, [10, 5, 3, 1], fixedRng({ beta: 0.25, perm }));
    mm.apply(z, ctx2);
    assert.equal(ctx2.labelMix?.lam, 0.25);
    // α = 0: no mixing (λ = 1), the batch passes through.
    const ctx3 = ctxFor(y, [10, 5, 3, 1], fixedRng({ beta: 0.25, perm }));
    assert.deepEqual(mixupHook({ alpha: 0 }).apply(z, ctx3).toList(), [1, 2, 3, 4]);
    assert.equal(ctx3.labelMix?.lam, 1);
  });
});

test('Remix: λ_y = 0 / 1 / λ by the count ratio κ and threshold τ', () => {
  // Counts chosen so the ratios are clear: class 0 major (900), 1 medium (300), 2 minor (30).
  const counts = [900, 300, 30, 100];
  const kappa = 3;
  const tau = 0.5;
  // Independent statement of the Remix rule (Chou et al. 2020, Eq. in §3).
  const rule = (ni: number, nj: number, lam: number) =>
    ni / nj >= kappa && lam < tau ? 0 : ni / nj <= 1 / kappa && 1 - lam < tau ? 1 : lam;
  const y = [0, 2, 1, 0, 2, 3, 1, 3];
  const perm = [1, 0, 3, 2, 6, 7, 4, 5]; // pairs (0,2) (2,0) (1,0) (0,1) (2,1) (3,3) (1,2) (3,3)
  for (const lam of [0.2, 0.8, 0.5, 0.45, 0.55]) {
    tidy(() => {
      const z = tensor(Float32Array.from(y.map((_, i) => i)), [8, 1]);
      const ctx = ctxFor(y, counts, fixedRng({ beta: lam, perm }));
      const h = remixHook({ alpha: 1, kappa, tau });
      assert.equal(h.stage(fixedRng({})), 'input');
      const out = h.apply(z, ctx).toArray() as Float32Array;
      const mix = ctx.labelMix;
      assert.ok(mix !== null && mix.lam instanceof Float32Array, 'per-sample λ_y');
      const lamY = mix.lam as Float32Array;
      for (let n = 0; n < 8; n++) {
        const want = rule(counts[y[n]], counts[y[perm[n]]], lam);
        near(lamY[n], want, 1e-7, `λ=${lam}, pair (${y[n]}, ${y[perm[n]]}): λ_y ${lamY[n]} vs ${want}`);
        // Features are mixed with the plain λ, whatever λ_y is.
        near(out[n], lam * n + (1 - lam) * perm[n], 1e-5);
      }
      assert.deepEqual(mix.a.toList(), y);
      assert.deepEqual(
        mix.b.toList(),
        perm.map((p) => y[p]),
      );
    });
  }
  // Spelled out for λ = 0.2 (< τ): the major sample mixed with a minor partner takes the minor label.
  tidy(() => {
    const ctx = ctxFor([0, 2], counts, fixedRng({ beta: 0.2, perm: [1, 0] }));
    remixHook({ alpha: 1, kappa, tau }).apply(tensor(Float32Array.from([0, 1]), [2, 1]), ctx);
    assert.deepEqual(Array.from(ctx.labelMix?.lam as Float32Array), [0, Math.fround(0.2)]);
    const ctx2 = ctxFor([0, 2], counts, fixedRng({ beta: 0.8, perm: [1, 0] }));
    remixHook({ alpha: 1, kappa, tau }).apply(tensor(Float32Array.from([0, 1]), [2, 1]), ctx2);
    assert.deepEqual(Array.from(ctx2.labelMix?.lam as Float32Array), [Math.fround(0.8), 1]);
  });
});

test('batchLoss: per-sample λ gives mean_n[λ_n ℓ(a_n) + (1 − λ_n) ℓ(b_n)]; scalar λ and no mix', () => {
  const before = settledMemory().numTensors;
  const crit = losses.create('ce', {});
  tidy(() => {
    const B = 7;
    const C = 4;
    const L = data(B * C, 9);
    const a = [0, 1, 2, 3, 0, 1, 2];
    const b = [3, 2, 1, 0, 1, 1, 0];
    const lamY = Float32Array.from([0, 1, 0.3, 0.3, 0.75, 0, 0.3]);
    const logits = tensor(L, [B, C]);
    const ta = tensor(Int32Array.from(a), [B], 'int64');
    const tb = tensor(Int32Array.from(b), [B], 'int64');
    // Hand-computed cross-entropy per sample: −log softmax(logits_n)[t].
    const ce = (n: number, t: number) => {
      const row = Array.from(L.subarray(n * C, (n + 1) * C));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
      return lse - row[t];
    };
    const ctx = (lam: number | Float32Array): HookContext => ({
      targets: ta,
      targetsArray: Int32Array.from(a),
      clsNumList: [1, 1, 1, 1],
      rng: new Rng(0),
      labelMix: { a: ta, b: tb, lam },
    });
    let want = 0;
    for (let n = 0; n < B; n++) want += lamY[n] * ce(n, a[n]) + (1 - lamY[n]) * ce(n, b[n]);
    want /= B;
    near(batchLoss(crit, logits, ta, ctx(lamY)).item(), want, 1e-5);
    // Scalar λ.
    let ws = 0;
    for (let n = 0; n < B; n++) ws += 0.6 * ce(n, a[n]) + 0.4 * ce(n, b[n]);
    near(batchLoss(crit, logits, ta, ctx(0.6)).item(), ws / B, 1e-5);
    // No hook context, or a hook that left labels alone (MFW): plain criterion.
    let w0 = 0;
    for (let n = 0; n < B; n++) w0 += ce(n, a[n]);
    near(batchLoss(crit, logits, ta, null).item(), w0 / B, 1e-5);
    near(batchLoss(crit, logits, ta, { ...ctx(0.6), labelMix: null }).item(), w0 / B, 1e-5);
    // All λ_y = 1 is the plain loss on a; all 0 the plain loss on b.
    near(batchLoss(crit, logits, ta, ctx(new Float32Array(B).fill(1))).item(), w0 / B, 1e-5);
    let w1 = 0;
    for (let n = 0; n < B; n++) w1 += ce(n, b[n]);
    near(batchLoss(crit, logits, ta, ctx(new Float32Array(B))).item(), w1 / B, 1e-5);
  });
  crit.dispose();
  assert.equal(memory().numTensors, before);
});
