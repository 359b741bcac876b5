// A minimal seeded shuffle sampler (for tests and for callers without src/data/samplers): epoch e visits
// 0..n-1 in the order of a Fisher–Yates shuffle driven by AugRng(seed, e). The full-featured samplers
// (instance, class-balanced, square-root, progressive, class-aware, DRS) live in src/data/samplers.
import { AugRng } from '../transforms/rng';
import { EpochSampler } from './loader';

export class ShuffleSampler implements EpochSampler {
  constructor(
    readonly length: number,
    private readonly seed = 0,
    private readonly shuffle = true,
  ) {}

  epochIndices(epoch: number): Int32Array {
    if (!this.shuffle) return Int32Array.from({ length: this.length }, (_, i) => i);
    return new AugRng(this.seed, 0x5a3e, epoch).permutation(this.length);
  }
}
