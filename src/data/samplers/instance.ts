// Instance-balanced sampling: every image once per epoch in a seeded random order (SPEC §1.4; the default
// `shuffle=True` DataLoader of the reference code). Kang et al., "Decoupling Representation and Classifier
// for Long-Tailed Recognition" (ICLR 2020), §3 "instance-balanced sampling" (q = 1).

import { IndexSampler, Rng, epochRng } from './base';

export class InstanceSampler implements IndexSampler {
  readonly name = 'instance';
  readonly length: number;

  constructor(
    sizeOrTargets: number | ArrayLike<number>,
    private readonly seed = 0,
  ) {
    this.length = typeof sizeOrTargets === 'number' ? sizeOrTargets : sizeOrTargets.length;
  }

  epochIndices(epoch: number, rng?: Rng): Int32Array {
    const r = rng ?? epochRng(this.seed, epoch);
    const a = new Int32Array(this.length);
    for (let i = 0; i < a.length; i++) a[i] = i;
    for (let i = a.length - 1; i >= 1; i--) {
      const j = r.interval(i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
