// Re-balancing rules (SPEC §3): the `classWeights` slot (reweight, drw) and the `sampler` slot (resample,
// drs). Sources: Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss"
// (NeurIPS 2019) §3.3 and its code kaidic/LDAM-DRW cifar_train.py (`idx = epoch // 160; betas = [0, 0.9999]`
// for DRW; DRS is the same deferral applied to sampling); class-balanced weights from Cui et al. (CVPR 2019):
//   reweight — CB weights from epoch 0;      drw — no weights until the deferral epoch, CB weights after;
//   resample — class-balanced sampling with replacement (per-sample weight = its class's CB weight);
//   drs      — instance sampling until the deferral epoch, then class-balanced sampling.
// The deferral epoch is `deferredSwitchEpoch(epochs, method.deferFraction)`: 160 of 200 by default.
import { z } from 'zod';
import {
  cbWeights,
  deferredSwitchEpoch,
  ClassBalancedSampler,
  DeferredSampler,
  InstanceSampler,
} from '../data/samplers';
import { register, methodOptions } from './registry';
import type { BuildContext } from './types';

/** The options the rules share (one schema object per key, so the config has each key once). */
const cbOptions = {
  cbBeta: z.number().min(0).lt(1).default(0.9999).describe('class-balanced β (effective number)'),
};
const deferredOptions = {
  ...cbOptions,
  deferFraction: z.number().min(0).max(1).default(0.8).describe('DRW/DRS switch at this fraction of the epochs'),
};

function settings(ctx: BuildContext): { beta: number; switchEpoch: number } {
  const m = methodOptions(ctx, deferredOptions);
  return { beta: m.cbBeta, switchEpoch: deferredSwitchEpoch(ctx.settings.train.epochs, m.deferFraction) };
}

export const reweight = register({
  name: 'reweight',
  slot: 'classWeights',
  help: 'class-balanced weights (β = 0.9999) from the first epoch',
  options: cbOptions,
  build(ctx) {
    const w = cbWeights(ctx.clsNumList, settings(ctx).beta);
    return { classWeights: () => w };
  },
});

export const drw = register({
  name: 'drw',
  slot: 'classWeights',
  help: 'deferred re-weighting: CB weights after deferFraction of the epochs',
  options: deferredOptions,
  build(ctx) {
    const { beta, switchEpoch } = settings(ctx);
    const w = cbWeights(ctx.clsNumList, beta);
    return { classWeights: (epoch) => (epoch >= switchEpoch ? w : null) };
  },
});

export const resample = register({
  name: 'resample',
  slot: 'sampler',
  help: 'class-balanced sampling with replacement from the first epoch',
  options: cbOptions,
  build(ctx) {
    const { beta } = settings(ctx);
    return { sampler: (targets, seed) => new ClassBalancedSampler(targets, { seed, beta }) };
  },
});

export const drs = register({
  name: 'drs',
  slot: 'sampler',
  help: 'deferred re-sampling: class-balanced sampling after deferFraction',
  options: deferredOptions,
  build(ctx) {
    const { beta, switchEpoch } = settings(ctx);
    return {
      sampler: (targets, seed) =>
        new DeferredSampler(
          new InstanceSampler(targets.length, seed),
          new ClassBalancedSampler(targets, { seed, beta }),
          switchEpoch,
        ),
    };
  },
});
