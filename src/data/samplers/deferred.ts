// Deferred re-sampling (DRS), SPEC §3: one sampler before `switchEpoch`, another from it on.
// Source: Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss" (NeurIPS 2019),
// §3.3 deferred re-balancing; DRS = instance sampling until 80% of the epochs (160 of 200), class-balanced
// re-sampling after.

import { IndexSampler, Rng } from './base';

export class DeferredSampler implements IndexSampler {
  readonly name = 'deferred';

  constructor(
    readonly before: IndexSampler,
    readonly after: IndexSampler,
    /** First epoch (0-based) that uses `after`. */
    readonly switchEpoch: number,
  ) {
    if (!(Number.isInteger(switchEpoch) && switchEpoch >= 0))
      throw new RangeError('switchEpoch must be an integer >= 0');
  }

  get length(): number {
    return this.before.length;
  }

  samplerAt(epoch: number): IndexSampler {
    return epoch < this.switchEpoch ? this.before : this.after;
  }

  epochIndices(epoch: number, rng?: Rng): Int32Array {
    return this.samplerAt(epoch).epochIndices(epoch, rng);
  }
}

/**
 * The first epoch (0-based) after a deferral: floor(fraction · totalEpochs), 160 of 200 for the default 0.8
 * (the reference's `epoch // 160`). The one function every deferred switch uses (DRW, DRS, and any later
 * deferred rule). The 1e-9 absorbs binary rounding, so 0.29 of 100 epochs is 29, not 28.
 */
export function deferredSwitchEpoch(totalEpochs: number, fraction = 0.8): number {
  if (!(Number.isInteger(totalEpochs) && totalEpochs >= 0)) {
    throw new RangeError(`deferredSwitchEpoch: totalEpochs must be an integer >= 0, got ${totalEpochs}`);
  }
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`deferral fraction must be in [0, 1], got ${fraction}`);
  return Math.floor(fraction * totalEpochs + 1e-9);
}
