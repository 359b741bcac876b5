// Class-aware sampling (SPEC §1.4; used by cRT). Source: Shen et al., "Relay Backpropagation" (ECCV 2016);
// reference implementation YyzHarry/imbalanced-semi-self dataset/ClassAwareSampler.py (from Kang et al.'s
// classifier-balancing code): a RandomCycleIter over the classes and one per class; each step takes the next
// class and yields `numSamplesCls` (default 4) consecutive images of it; each cycle re-shuffles when it
// wraps (and at its first use). Epoch length = max_c n_c · C.
// Differences: the reference's iterators keep their position across epochs and use Python's `random`;
// ltkit restarts the cycles every epoch from the epoch RNG (pure function of seed and epoch). Empty classes
// are skipped (the reference would fail on them).

import { IndexSampler, Rng, classLists, epochRng } from './base';

export interface ClassAwareOptions {
  numClasses?: number;
  /** Images taken per class visit (k); default 4. */
  numSamplesCls?: number;
  /** Indices per epoch; default max_c n_c · C (C = non-empty classes). */
  numSamples?: number;
  seed?: number;
}

/** Cycles through a list, reshuffling (legacy Fisher–Yates) at the start of every pass. */
class RandomCycle {
  private readonly data: Int32Array;
  private i: number;
  constructor(
    data: ArrayLike<number>,
    private readonly rng: Rng,
  ) {
    this.data = Int32Array.from(data);
    this.i = this.data.length - 1;
  }
  next(): number {
    this.i++;
    if (this.i === this.data.length) {
      this.i = 0;
      const a = this.data;
      for (let k = a.length - 1; k >= 1; k--) {
        const j = this.rng.interval(k);
        const t = a[k];
        a[k] = a[j];
        a[j] = t;
      }
    }
    return this.data[this.i];
  }
}

export class ClassAwareSampler implements IndexSampler {
  readonly name = 'class-aware';
  readonly length: number;
  readonly numSamplesCls: number;
  private readonly lists: Int32Array[];
  private readonly classes: number[];
  private readonly seed: number;

  constructor(targets: ArrayLike<number>, opts: ClassAwareOptions = {}) {
    this.lists = classLists(targets, opts.numClasses);
    this.classes = [];
    let maxN = 0;
    this.lists.forEach((l, c) => {
      if (l.length > 0) this.classes.push(c);
      maxN = Math.max(maxN, l.length);
    });
    this.numSamplesCls = opts.numSamplesCls ?? 4;
    if (!(Number.isInteger(this.numSamplesCls) && this.numSamplesCls >= 1))
      throw new RangeError('numSamplesCls must be >= 1');
    this.length = opts.numSamples ?? maxN * this.classes.length;
    this.seed = opts.seed ?? 0;
  }

  epochIndices(epoch: number, rng?: Rng): Int32Array {
    const r = rng ?? epochRng(this.seed, epoch);
    const out = new Int32Array(this.length);
    if (this.classes.length === 0) return out.subarray(0, 0);
    const classCycle = new RandomCycle(this.classes, r);
    const dataCycles = new Map<number, RandomCycle>();
    let i = 0;
    while (i < this.length) {
      const c = classCycle.next();
      let cyc = dataCycles.get(c);
      if (!cyc) {
        cyc = new RandomCycle(this.lists[c], r);
        dataCycles.set(c, cyc);
      }
      // The reference materializes all k items of a visit before yielding them; same order here.
      for (let j = 0; j < this.numSamplesCls && i < this.length; j++) out[i++] = cyc.next();
    }
    return out;
  }
}
