// The S2 paper's label-mixing comparisons (Procrustean Training, §3.5 and supplementary):
// - mixup (Zhang et al., ICLR 2018): x̃ = λx_i + (1−λ)x_j, ỹ mixes labels with the same λ,
//   λ ~ Beta(α, α) once per batch (as the reference mixup code does).
// - manifold mixup (Verma et al., ICML 2019): the same mix applied to the hidden activation after a
//   stage drawn per batch (input, layer1 or layer2 by default).
// - Remix (Chou et al., ECCV-W 2020): features mixed with λ, labels with λ_y that favours the minor
//   class: λ_y = 0 if n_i/n_j ≥ κ and λ < τ; λ_y = 1 if n_i/n_j ≤ 1/κ and 1 − λ < τ; else λ_y = λ
//   (κ = 3, τ = 0.5 in the Remix paper).
import { z } from 'zod';
import { Tensor, tensor, index, mul, add } from '../engine';
import { register, methodOptions } from './registry';
import { stageOption } from './mfw';
import type { FeatureHook, HookContext, Stage } from './types';

function mixBatch(z: Tensor, lam: number, perm: Int32Array): Tensor {
  const partner = index(z, [tensor(perm, [perm.length], { dtype: 'int64', device: z.device })]);
  return add(mul(z, lam), mul(partner, 1 - lam));
}

function permutedTargets(ctx: HookContext, perm: Int32Array): Tensor {
  return index(ctx.targets, [tensor(perm, [perm.length], { dtype: 'int64', device: ctx.targets.device })]);
}

export function mixupHook(opts: { alpha: number; stages?: Stage[]; name?: string }): FeatureHook {
  const stages = opts.stages ?? ['input'];
  return {
    name: opts.name ?? 'mixup',
    stage: (rng) => stages[stages.length === 1 ? 0 : rng.int(0, stages.length)],
    apply(z, ctx) {
      const lam = opts.alpha > 0 ? ctx.rng.beta(opts.alpha, opts.alpha) : 1;
      const perm = ctx.rng.permutation(ctx.targetsArray.length);
      ctx.labelMix = { a: ctx.targets, b: permutedTargets(ctx, perm), lam };
      return mixBatch(z, lam, perm);
    },
  };
}

export function remixHook(opts: { alpha: number; kappa: number; tau: number }): FeatureHook {
  return {
    name: 'remix',
    stage: () => 'input',
    apply(z, ctx) {
      const lam = opts.alpha > 0 ? ctx.rng.beta(opts.alpha, opts.alpha) : 1;
      const y = ctx.targetsArray;
      const B = y.length;
      const perm = ctx.rng.permutation(B);
      const lamY = new Float32Array(B);
      for (let n = 0; n < B; n++) {
        const ratio = ctx.clsNumList[y[n]] / ctx.clsNumList[y[perm[n]]];
        if (ratio >= opts.kappa && lam < opts.tau) lamY[n] = 0;
        else if (ratio <= 1 / opts.kappa && 1 - lam < opts.tau) lamY[n] = 1;
        else lamY[n] = lam;
      }
      ctx.labelMix = {
        a: ctx.targets,
        b: permutedTargets(ctx, perm),
        lam: lamY,
      };
      return mixBatch(z, lam, perm);
    },
  };
}

const mixupOptions = {
  mixup: z
    .object({
      alpha: z.number().nonnegative().default(1).describe('Beta(α, α) of λ (0: no mixing)'),
      stages: z.array(stageOption).min(1).default(['input', 'layer1', 'layer2']).describe('manifold mixup stages'),
    })
    .strict()
    .default({}),
};
const remixOptions = {
  remix: z
    .object({
      alpha: z.number().nonnegative().default(1),
      kappa: z.number().positive().default(3).describe('count ratio κ'),
      tau: z.number().finite().default(0.5).describe('threshold τ'),
    })
    .strict()
    .default({}),
};

export const mixup = register({
  name: 'mixup',
  slot: 'features',
  help: 'mixup of inputs and labels (Zhang et al. 2018)',
  options: mixupOptions,
  build: (ctx) => ({
    features: mixupHook({ alpha: methodOptions(ctx, mixupOptions).mixup.alpha, stages: ['input'] }),
  }),
});

export const manifoldMixup = register({
  name: 'manifold-mixup',
  slot: 'features',
  help: 'mixup of hidden activations and labels (Verma et al. 2019)',
  options: mixupOptions,
  build(ctx) {
    const o = methodOptions(ctx, mixupOptions).mixup;
    return { features: mixupHook({ alpha: o.alpha, stages: o.stages, name: 'manifold-mixup' }) };
  },
});

export const remix = register({
  name: 'remix',
  slot: 'features',
  help: 'Remix: label coefficient favours the minor class (Chou et al. 2020)',
  options: remixOptions,
  build: (ctx) => ({
    features: remixHook(methodOptions(ctx, remixOptions).remix),
  }),
});
