// AugRng (alias Rng): ltkit's seeded JS random stream, for every choice made outside libtorch —
// data transforms (see data/transforms/index.ts), mixing coefficients and permutations of the
// feature hooks, synthetic data. Keeping these off libtorch's generator means a method that draws
// nothing changes nothing (MFW with s ≡ 0 is exactly plain training).
//
// Transforms draw their per-image parameters (crop offsets, flip coins, jitter factors, blur sigmas) from an
// AugRng — a few numbers per image — and then run batched libtorch ops. Nothing in a transform touches
// libtorch's global generator, so augmentation neither consumes nor depends on the generator that model
// initialization and dropout use: a batch's augmentation is a pure function of (seed, stream words).
//
// Generator: xoshiro128** (Blackman & Vigna), 128-bit state, seeded by hashing the key words with the
// murmur3 finalizer and expanding with splitmix32. `fork(...words)` derives a child stream from the parent's
// *key* (not its current state), so children are independent of how much the parent has drawn and of the
// order in which siblings are used.

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Splits a finite integer (|x| < 2^53) into two 32-bit words so large seeds are not truncated. */
function words(x: number): [number, number] {
  if (!Number.isFinite(x) || !Number.isInteger(x)) throw new RangeError(`AugRng: key words must be integers, got ${x}`);
  const lo = x >>> 0;
  const hi = Math.floor(x / 4294967296) >>> 0;
  return [lo, hi];
}

export class AugRng {
  /** The key words this stream was derived from (seed, then stream words). */
  readonly key: readonly number[];
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** A stream for `seed` and optional stream words, e.g. `new AugRng(seed, epoch, step)`. */
  constructor(seed: number, ...stream: number[]) {
    this.key = [seed, ...stream];
    let h = 0x243f6a88;
    for (const k of this.key) {
      const [lo, hi] = words(k);
      h = fmix32(h ^ fmix32((lo + 0x9e3779b9) >>> 0));
      h = fmix32(h ^ fmix32((hi + 0x7f4a7c15) >>> 0));
    }
    // splitmix32 expansion of the hash into the 128-bit state
    let z = h;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      return fmix32(z);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A child stream keyed by this stream's key plus `stream` words (independent of draws made so far). */
  fork(...stream: number[]): AugRng {
    const [seed, ...rest] = this.key;
    return new AugRng(seed, ...rest, ...stream);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  random(): number {
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Uniform integer in [lo, hi) (hi exclusive, like torch.randint). */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`AugRng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.random() * (hi - lo));
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.random() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  /** Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 via Gamma(a+1)·U^(1/a). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.random(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.random();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b). */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    const y = this.gamma(b);
    return x / (x + y);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

/** The same generator under its general-purpose name. */
export const Rng = AugRng;
export type Rng = AugRng;
