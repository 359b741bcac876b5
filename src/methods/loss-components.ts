// The `loss` slot: one component per loss of src/losses (SPEC §3). LDAM also asks for the cosine head.
// Class counts (margins, priors) come from the training set the plan is built for.
import { z } from 'zod';
import * as losses from '../losses';
import { register, methodOptions } from './registry';
import type { BuildContext, Component } from './types';

const focalOptions = { gamma: z.number().nonnegative().default(1).describe('focal γ (reference form)') };
const ldamOptions = {
  maxMargin: z.number().positive().default(0.5).describe('LDAM: largest margin'),
  s: z.number().positive().default(30).describe('LDAM: logit scale of the cosine head'),
};
const logitAdjustOptions = { tau: z.number().finite().default(1).describe('logit adjustment τ') };

function lossComponent(
  name: string,
  help: string,
  options: z.ZodRawShape,
  args: (ctx: BuildContext) => losses.LossOptions,
  extra: { isDefault?: boolean; cosineHead?: boolean } = {},
): Component {
  return register({
    name,
    slot: 'loss',
    help,
    options,
    isDefault: extra.isDefault,
    build: (ctx) => ({
      loss: {
        name,
        create: () => losses.create(name, args(ctx)),
        normedLinear: extra.cosineHead ?? false,
      },
    }),
  });
}

export const ce = lossComponent('ce', 'cross-entropy (optionally class-weighted)', {}, () => ({}), {
  isDefault: true,
});
export const focal = lossComponent(
  'focal',
  'focal loss, reference form (1 − e^{−ce})^γ · ce (Lin et al. 2017), γ = method.gamma',
  focalOptions,
  (ctx) => ({ gamma: methodOptions(ctx, focalOptions).gamma }),
);
export const ldam = lossComponent(
  'ldam',
  'LDAM margins ∝ n^{-1/4}, max 0.5, scale 30, NormedLinear head (Cao et al. 2019)',
  ldamOptions,
  (ctx) => {
    const o = methodOptions(ctx, ldamOptions);
    return { clsNumList: ctx.clsNumList, maxMargin: o.maxMargin, s: o.s };
  },
  { cosineHead: true },
);
export const balancedSoftmax = lossComponent(
  'balanced-softmax',
  'CE on logits + log prior (Ren et al. 2020)',
  {},
  (ctx) => ({ clsNumList: ctx.clsNumList }),
);
export const logitAdjusted = lossComponent(
  'logit-adjusted',
  'CE on logits + τ·log prior (Menon et al. 2021), τ = method.tau',
  logitAdjustOptions,
  (ctx) => ({ clsNumList: ctx.clsNumList, tau: methodOptions(ctx, logitAdjustOptions).tau }),
);
