// FixMatch RandAugmentMC (randaugment.ts): every pool op against the PIL / torchvision goldens of
// fixtures/transforms/gen_randaugment.py (the reference's own PIL calls at per-image magnitudes and signs), the
// magnitude → parameter mapping, and the batched transform: determinism, shapes, channel counts, cutout, and
// equality with the same draws applied image by image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, tensor, tidy, memory, loadSafetensors, dispose, mul, round, narrow, cat } from '../../engine';
import { settledMemory } from '../../engine/test-support';
import { AugRng } from './rng';
import { toFloat } from './color';
import { Box } from './geometric';
import {
  RAND_AUGMENT_OPS,
  RandAugmentOp,
  randAugment,
  randAugmentParameter,
  applyRandAugmentOp,
  autoContrast,
  adjustSharpness,
  solarize,
  posterize,
  equalize,
  translateX,
  cutoutBoxes,
  drawCutoutBox,
} from './randaugment';

const DIR = path.resolve(__dirname, '..', '..', '..', '..', 'fixtures', 'transforms');

interface OpMeta {
  v: number[];
  sign: number[];
  param: number[];
}
interface Meta {
  fill: number;
  ops: Record<string, Record<string, OpMeta>>;
  'rgb.sharpness_float': number[];
  'gray.sharpness_float': number[];
}

/** Largest |a − b| over two equally long arrays. */
function worstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
const levels = (x: Tensor): Float32Array => tidy(() => round(mul(x, 255)).contiguous().toArray() as Float32Array);
const nchw = (u8: Tensor): Tensor => toFloat()(u8, new AugRng(0));
/** Deterministic [n,c,h,w] float batch of 8-bit levels / 255. */
function batch(n: number, c: number, h: number, w: number, seed = 1): Tensor {
  const r = new AugRng(seed);
  const b = new Uint8Array(n * c * h * w);
  for (let i = 0; i < b.length; i++) b[i] = r.nextU32() & 255;
  return toFloat({ layout: 'nchw' })(tensor(b, [n, c, h, w], 'uint8'), r);
}
const leakFree = (fn: () => void): void => {
  const before = settledMemory().numTensors;
  tidy(fn);
  assert.equal(memory().numTensors, before, 'live tensors changed');
};

// Largest 8-bit difference from PIL per op. 0 where ltkit computes PIL's integer result exactly; the enhance
// ops and autocontrast work in float while PIL rounds (Brightness/Color/Contrast/Sharpness blend, its integer
// L-conversion and rounded mean) or truncates (autocontrast's int(i·scale + offset)) to 8 bits.
const TOLERANCE: Record<RandAugmentOp, number> = {
  AutoContrast: 1,
  Brightness: 1,
  Color: 1,
  Contrast: 1,
  Equalize: 0,
  Identity: 0,
  Posterize: 0,
  Rotate: 0,
  Sharpness: 1,
  ShearX: 0,
  ShearY: 0,
  Solarize: 0,
  TranslateX: 0,
  TranslateY: 0,
};

test('every FixMatch op at per-image magnitudes and signs equals PIL (kekmodel calls), 3- and 1-channel', (t) => {
  const meta = JSON.parse(fs.readFileSync(path.join(DIR, 'randaugment.json'), 'utf8')) as Meta;
  const fx = loadSafetensors(path.join(DIR, 'randaugment.safetensors'));
  try {
    for (const key of ['rgb', 'gray']) {
      tidy(() => {
        const x = nchw(fx[`${key}.images`]);
        const [, , h, w] = x.shape;
        const report: string[] = [];
        for (const [op, m] of Object.entries(meta.ops[key]) as [RandAugmentOp, OpMeta][]) {
          const size = op === 'TranslateY' ? h : w;
          const mapped = m.v.map((v, i) => randAugmentParameter(op, v, m.sign[i], size));
          assert.deepEqual(mapped, m.param, `${key} ${op}: magnitude → parameter mapping`);
          const got = levels(applyRandAugmentOp(x, op, m.v, m.sign, meta.fill / 255));
          const want = levels(nchw(fx[`${key}.${op}`]));
          const d = worstDiff(got, want);
          report.push(`${op} ${d}`);
          assert.ok(d <= TOLERANCE[op], `${key} ${op}: largest 8-bit difference from PIL ${d} > ${TOLERANCE[op]}`);
        }
        t.diagnostic(`${key}: largest 8-bit difference per op: ${report.join(', ')}`);
      });
    }
  } finally {
    dispose(fx);
  }
});

test("autoContrast and adjustSharpness equal torchvision's float-tensor ops", () => {
  const meta = JSON.parse(fs.readFileSync(path.join(DIR, 'randaugment.json'), 'utf8')) as Meta;
  const fx = loadSafetensors(path.join(DIR, 'randaugment.safetensors'));
  try {
    for (const key of ['rgb', 'gray'] as const) {
      tidy(() => {
        const x = nchw(fx[`${key}.images`]);
        const ac = autoContrast(x).toArray() as Float32Array;
        assert.ok(worstDiff(ac, fx[`${key}.autocontrast_float`].toArray() as Float32Array) <= 1e-6, `${key} ac`);
        const sh = adjustSharpness(x, meta[`${key}.sharpness_float`]).toArray() as Float32Array;
        assert.ok(worstDiff(sh, fx[`${key}.sharpness_float`].toArray() as Float32Array) <= 1e-6, `${key} sharp`);
      });
    }
  } finally {
    dispose(fx);
  }
});

test('mapping: kekmodel fixmatch_augment_pool ranges at magnitudes 1 and 10', () => {
  const at = (op: RandAugmentOp, v: number, sign = 1, size = 32): number => randAugmentParameter(op, v, sign, size);
  for (const op of ['Brightness', 'Color', 'Contrast', 'Sharpness'] as const) {
    assert.ok(Math.abs(at(op, 1) - 0.14) < 1e-12 && Math.abs(at(op, 10) - 0.95) < 1e-12, op);
  }
  assert.deepEqual([at('Posterize', 1), at('Posterize', 5), at('Posterize', 10)], [4, 6, 8]);
  assert.deepEqual([at('Rotate', 1), at('Rotate', 10, -1)], [3, -30]);
  assert.deepEqual([at('Solarize', 1), at('Solarize', 10)], [231, 0]);
  assert.ok(Math.abs(at('ShearX', 10, -1) + 0.3) < 1e-12 && Math.abs(at('ShearY', 1) - 0.03) < 1e-12);
  assert.deepEqual([at('TranslateX', 10, 1, 32), at('TranslateY', 10, -1, 28), at('TranslateX', 1, 1, 28)], [9, -8, 0]);
  for (const op of ['AutoContrast', 'Equalize', 'Identity'] as const) assert.equal(at(op, 7), 0);
});

test('point ops at fixed parameters: solarize and posterize on every 8-bit level, equalize on flat images', () => {
  leakFree(() => {
    const lv = Float32Array.from({ length: 256 }, (_, i) => i);
    const x = toFloat({ layout: 'nchw' })(tensor(Uint8Array.from(lv), [1, 1, 16, 16], 'uint8'), new AugRng(0));
    const xs = cat([x, x, x, x, x]);
    const thr = [0, 77, 128, 231, 256];
    const sol = levels(
      solarize(
        xs,
        thr.map((t) => t / 255),
      ),
    );
    const pos = levels(posterize(xs, [1, 3, 4, 6, 8]));
    thr.forEach((t, n) => {
      for (let i = 0; i < 256; i++) {
        assert.equal(sol[n * 256 + i], i >= t ? 255 - i : i, `solarize t=${t} level ${i}`);
        const bits = [1, 3, 4, 6, 8][n];
        assert.equal(pos[n * 256 + i], i & ~(2 ** (8 - bits) - 1), `posterize bits=${bits} level ${i}`);
      }
    });
    const flat = mul(tensor(new Float32Array(2 * 3 * 5 * 5).fill(0.3), [2, 3, 5, 5]), 1);
    const flatA = flat.toArray() as Float32Array;
    // 511 pixels at level 10, one at 200: step = ⌊511/255⌋ = 2 and level 200's LUT entry (511 + 1)/2 = 256 is
    // clipped to 255, as PIL and torchvision do.
    const spike = new Uint8Array(512).fill(10);
    spike[0] = 200;
    const sx = toFloat({ layout: 'nchw' })(tensor(spike, [1, 1, 16, 32], 'uint8'), new AugRng(0));
    assert.deepEqual(
      [...new Set(levels(equalize(sx)))].sort((p, q) => p - q),
      [0, 255],
    );
    assert.deepEqual(equalize(flat).toArray() as Float32Array, flatA);
    assert.deepEqual(autoContrast(flat).toArray() as Float32Array, flatA);
  });
});

test('translateX at a fixed offset: a whole-pixel shift with the fill entering from the side', () => {
  leakFree(() => {
    const x = batch(2, 3, 6, 7);
    const y = translateX(x, [2, -3], 0.25);
    const xa = x.toArray() as Float32Array;
    const ya = y.toArray() as Float32Array;
    for (let n = 0; n < 2; n++) {
      const t = [2, -3][n];
      for (let i = 0; i < 3 * 6; i++) {
        for (let u = 0; u < 7; u++) {
          const src = u + t;
          const want = src >= 0 && src < 7 ? xa[(n * 18 + i) * 7 + src] : 0.25;
          assert.equal(ya[(n * 18 + i) * 7 + u], want);
        }
      }
    }
  });
});

test('randAugment: same key → same output, different keys differ; shape, dtype and range kept (1 and 3 channels)', () => {
  leakFree(() => {
    const ra = randAugment();
    for (const [c, h, w] of [
      [3, 32, 32],
      [1, 28, 28],
      [3, 20, 27],
    ]) {
      const x = batch(16, c, h, w, c);
      const a = ra(x, new AugRng(5, 1));
      const b = ra(x, new AugRng(5, 1));
      const d = ra(x, new AugRng(5, 2));
      assert.deepEqual(a.shape, x.shape);
      assert.equal(a.dtype, 'float32');
      const aa = a.toArray() as Float32Array;
      assert.deepEqual(aa, b.toArray());
      assert.notDeepEqual(aa, d.toArray());
      assert.ok(
        aa.every((v) => v >= 0 && v <= 1),
        'values in [0,1]',
      );
      assert.notDeepEqual(aa, x.toArray(), 'the batch was augmented');
    }
  });
});

test('randAugment batched equals the same draws applied image by image (grouping and scatter-back)', () => {
  leakFree(() => {
    const nOps = 3;
    const magnitude = 7;
    const fill = 0.5;
    for (const [c, h, w] of [
      [3, 32, 32],
      [1, 28, 28],
    ]) {
      const x = batch(24, c, h, w, 9);
      const key = new AugRng(21, c);
      const got = randAugment({ n: nOps, magnitude, p: 0.7 })(x, key).toArray() as Float32Array;
      // Replay the documented draws: step s from fork(0, s) (op, v, apply, sign per image), cutout fork(1).
      const draws = Array.from({ length: nOps }, (_, s) => {
        const r = key.fork(0, s);
        return Array.from({ length: 24 }, () => ({
          op: RAND_AUGMENT_OPS[r.int(0, RAND_AUGMENT_OPS.length)],
          v: r.int(1, magnitude + 1),
          on: r.bernoulli(0.7),
          sign: r.bernoulli(0.5) ? -1 : 1,
        }));
      });
      const cr = key.fork(1);
      const boxes: Box[] = Array.from({ length: 24 }, () => drawCutoutBox(cr, h, w, Math.floor(0.5 * Math.min(h, w))));
      const singles: Tensor[] = [];
      for (let i = 0; i < 24; i++) {
        let y = narrow(x, 0, i, 1);
        for (let s = 0; s < nOps; s++) {
          const d = draws[s][i];
          if (d.on) y = applyRandAugmentOp(y, d.op, [d.v], [d.sign], fill);
        }
        singles.push(cutoutBoxes(y, [boxes[i]], fill));
      }
      assert.deepEqual(got, cat(singles).toArray());
      assert.ok(
        draws.flat().some((d) => d.on && d.v === magnitude),
        'magnitude reached',
      );
    }
  });
});

test('cutout: the drawn square is exactly the fill value; with no ops nothing else changes', () => {
  leakFree(() => {
    for (const [c, h, w] of [
      [3, 32, 32],
      [1, 28, 28],
    ]) {
      const n = 12;
      const x = batch(n, c, h, w, 4);
      const key = new AugRng(8);
      const y = randAugment({ n: 0, fill: 0.5 })(x, key).toArray() as Float32Array;
      const xa = x.toArray() as Float32Array;
      const side = Math.floor(0.5 * Math.min(h, w));
      const r = key.fork(1);
      for (let i = 0; i < n; i++) {
        const b = drawCutoutBox(r, h, w, side);
        assert.ok(b.height >= Math.min(side, h - b.top) && b.height <= side && b.width <= side);
        let painted = 0;
        for (let ch = 0; ch < c; ch++)
          for (let row = 0; row < h; row++)
            for (let col = 0; col < w; col++) {
              const k = ((i * c + ch) * h + row) * w + col;
              const inside = row >= b.top && row < b.top + b.height && col >= b.left && col < b.left + b.width;
              if (inside) painted++;
              assert.equal(y[k], inside ? 0.5 : xa[k]);
            }
        assert.equal(painted, c * b.height * b.width);
      }
      // With the full policy the square (painted last) is still exactly the fill value.
      const z = randAugment()(x, key).toArray() as Float32Array;
      const r2 = key.fork(1);
      for (let i = 0; i < n; i++) {
        const b = drawCutoutBox(r2, h, w, side);
        for (let ch = 0; ch < c; ch++)
          for (let row = b.top; row < b.top + b.height; row++)
            for (let col = b.left; col < b.left + b.width; col++)
              assert.equal(z[((i * c + ch) * h + row) * w + col], 0.5);
      }
    }
  });
});

test('randAugment: options validated; n = 0 with cutout 0 is a copy', () => {
  assert.throws(() => randAugment({ magnitude: 11 }), /magnitude/);
  assert.throws(() => randAugment({ magnitude: 0 }), /magnitude/);
  assert.throws(() => randAugment({ p: 1.5 }), /probability/);
  assert.throws(() => randAugment({ cutout: 2 }), /cutout/);
  assert.throws(() => randAugment({ n: -1 }), /n must/);
  leakFree(() => {
    const x = batch(3, 3, 8, 8);
    const y = randAugment({ n: 0, cutout: 0 })(x, new AugRng(1));
    assert.notEqual(y, x);
    assert.deepEqual(y.toArray(), x.toArray());
    assert.throws(() => randAugment()(batch(2, 2, 8, 8), new AugRng(1)), /channels/);
  });
});
