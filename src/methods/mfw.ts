// Major Feature Weakening (MFW): Ye, Zhan & Chao, "Procrustean Training for Imbalanced Deep
// Learning", ICCV 2021 — Algorithm 1 and Eq. (12). S2 has no public code; this follows the paper.
//
// For each sample n of a batch: λ_n ~ Beta(α, α), λ_n ← s(N_{y_n})·λ_n,
//   z̃_n = (1 − λ_n)·g(x_n) + λ_n·g(x_{π(n)}),  ỹ_n = y_n   (π a random permutation of the batch),
// and the network continues from z̃. Gradients reach both g(x_n) and g(x_{π(n)}) through the mix.
// Eq. (12): s(N_c) = 0.5·σ((N_c − μ)/(β·γ)), μ the geometric mean and γ the standard deviation of
// the class counts (population std: the paper's footnote 6 calls it z-score normalisation);
// β = 2.0 for long-tailed and 0.01 for step imbalance. The paper applies MFW "after the second
// group" (stem = group 1), i.e. after layer1 of the CIFAR ResNet; its Table 5 peaks there.
// λ and π are drawn from ltkit's JS Rng, not libtorch's generator, so s ≡ 0 is exactly plain training.
import { z } from 'zod';
import { Tensor, tensor, index, mul, add, rsub } from '../engine';
import { register, methodOptions } from './registry';
import type { FeatureHook, HookContext, Stage } from './types';
import { STAGES } from './types';

/** s(N_c) for every class (Eq. 12). */
export function mfwStrength(clsNumList: number[], beta: number): number[] {
  if (clsNumList.length === 0) throw new Error('mfwStrength: clsNumList is empty');
  if (clsNumList.some((n) => !(n > 0))) throw new Error('mfwStrength: every class count must be > 0');
  if (!(beta > 0)) throw new Error(`mfwStrength: beta must be > 0, got ${beta}`);
  const C = clsNumList.length;
  const mu = Math.exp(clsNumList.reduce((a, n) => a + Math.log(n), 0) / C);
  const mean = clsNumList.reduce((a, n) => a + n, 0) / C;
  const gamma = Math.sqrt(clsNumList.reduce((a, n) => a + (n - mean) ** 2, 0) / C);
  // Balanced counts have γ = 0: every class sits at the mean, σ(0) = 0.5.
  return clsNumList.map((n) => 0.5 * sigmoid(gamma === 0 ? 0 : (n - mu) / (beta * gamma)));
}

function sigmoid(a: number): number {
  return 1 / (1 + Math.exp(-a));
}

export interface MfwOptions {
  /** Beta(α, α) coefficient (tuned on a held-out split in the paper; its illustration uses 2). */
  alpha: number;
  /** Softness β of s(·): 2.0 for long-tailed, 0.01 for step imbalance. */
  beta: number;
  /** Where to weaken features (default layer1 = the paper's "after the second group"). */
  stage: Stage;
  /** Override s(N_c) per class (tests, ablations). */
  strength?: number[];
}

export function mfwHook(opts: MfwOptions): FeatureHook {
  let cachedFor: number[] | null = null;
  let s: number[] = [];
  return {
    name: 'mfw',
    stage: () => opts.stage,
    apply(z: Tensor, ctx: HookContext): Tensor {
      if (cachedFor !== ctx.clsNumList) {
        s = opts.strength ?? mfwStrength(ctx.clsNumList, opts.beta);
        cachedFor = ctx.clsNumList;
      }
      const y = ctx.targetsArray;
      const B = y.length;
      const perm = ctx.rng.permutation(B);
      const lam = new Float32Array(B);
      for (let n = 0; n < B; n++) lam[n] = s[y[n]] * ctx.rng.beta(opts.alpha, opts.alpha);
      const shape = [B, ...new Array(z.shape.length - 1).fill(1)];
      const l = tensor(lam, shape, { device: z.device });
      const partner = index(z, [tensor(perm, [B], { dtype: 'int64', device: z.device })]);
      return add(mul(rsub(l, 1), z), mul(l, partner)); // (1 − λ)·z + λ·z[π]
    },
  };
}

/** A model stage as a config value (MFW, manifold mixup). */
export const stageOption = z.enum(STAGES as [Stage, ...Stage[]]);

const mfwOptions = {
  mfw: z
    .object({
      alpha: z.number().positive().default(1).describe('Beta(α, α) of the mixing coefficient'),
      beta: z
        .union([z.literal('auto'), z.number().positive()])
        .default('auto')
        .describe('softness of s(N); auto = 2.0 for exp, 0.01 for step imbalance'),
      stage: stageOption.default('layer1').describe("where to weaken features (layer1 = the paper's choice)"),
    })
    .strict()
    .default({}),
};

export const mfw = register({
  name: 'mfw',
  slot: 'features',
  help: 'Major Feature Weakening (Ye et al. ICCV 2021), after method.mfw.stage',
  options: mfwOptions,
  build(ctx) {
    const o = methodOptions(ctx, mfwOptions).mfw;
    const beta = o.beta === 'auto' ? (ctx.settings.data.imbType === 'step' ? 0.01 : 2.0) : o.beta;
    return { features: mfwHook({ alpha: o.alpha, beta, stage: o.stage }) };
  },
});
