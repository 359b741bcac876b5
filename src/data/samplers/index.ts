// ltkit index samplers (SPEC §1.4): re-exports and a factory by name.
// Sources: see each module (instance.ts, class-sampling.ts, class-aware.ts, deferred.ts, cb-weights.ts).

import { IndexSampler } from './base';
import { InstanceSampler } from './instance';
import { ClassBalancedSampler, SquareRootSampler, ProgressiveSampler, ClassPowerSampler } from './class-sampling';
import { ClassAwareSampler } from './class-aware';
import { DeferredSampler, deferredSwitchEpoch } from './deferred';

export * from './base';
export * from './cb-weights';
export * from './instance';
export * from './class-sampling';
export * from './class-aware';
export * from './deferred';

export type SamplerKind = 'instance' | 'class-balanced' | 'sqrt' | 'progressive' | 'class-aware' | 'drs';

export interface CreateSamplerOptions {
  kind: SamplerKind;
  targets: ArrayLike<number>;
  numClasses?: number;
  seed?: number;
  /** progressive: T; drs: used for the switch epoch (default 0.8 · totalEpochs). */
  totalEpochs?: number;
  /** drs: explicit switch epoch. */
  switchEpoch?: number;
  /** class-balanced / drs: CB β (default 0.9999). */
  beta?: number;
  /** class-balanced / drs weights: 'cb' (default) | 'inverse' | per-class array. */
  weights?: 'cb' | 'inverse' | ArrayLike<number>;
  /** class-aware: images per class visit (default 4). */
  numSamplesCls?: number;
  /** sqrt generalization: any q (Kang et al. Eq. 1). */
  q?: number;
}

export function createSampler(o: CreateSamplerOptions): IndexSampler {
  const base = { numClasses: o.numClasses, seed: o.seed ?? 0 };
  switch (o.kind) {
    case 'instance':
      return new InstanceSampler(o.targets.length, base.seed);
    case 'class-balanced':
      return new ClassBalancedSampler(o.targets, { ...base, weights: o.weights, beta: o.beta });
    case 'sqrt':
      return o.q === undefined ? new SquareRootSampler(o.targets, base) : new ClassPowerSampler(o.targets, o.q, base);
    case 'progressive':
      if (o.totalEpochs === undefined) throw new Error('progressive sampler needs totalEpochs');
      return new ProgressiveSampler(o.targets, { ...base, totalEpochs: o.totalEpochs });
    case 'class-aware':
      return new ClassAwareSampler(o.targets, { ...base, numSamplesCls: o.numSamplesCls });
    case 'drs': {
      const sw = o.switchEpoch ?? (o.totalEpochs !== undefined ? deferredSwitchEpoch(o.totalEpochs) : undefined);
      if (sw === undefined) throw new Error('drs sampler needs switchEpoch or totalEpochs');
      return new DeferredSampler(
        new InstanceSampler(o.targets.length, base.seed),
        new ClassBalancedSampler(o.targets, { ...base, weights: o.weights, beta: o.beta }),
        sw,
      );
    }
    default:
      throw new Error(`unknown sampler kind ${String((o as { kind: unknown }).kind)}`);
  }
}
