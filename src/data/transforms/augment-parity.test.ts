// ltkit's CIFAR training augmentation against torchvision's (fixtures/transforms/gen_augment.py):
// RandomCrop(32, padding=4) + RandomHorizontalFlip + ToTensor + Normalize, as kaidic/LDAM-DRW trains.
//   1. With the same crop offsets and flips, the trainer's pipeline gives torchvision's pixels.
//   2. Over 40,000 images, the offsets ltkit's transform actually applies are uniform on the same support
//      as torchvision's RandomCrop.get_params (0..8 for top and left) and the flip rate is 1/2, as in the
//      reference's own histogram.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { tensor, tidy, loadSafetensors, dispose } from '../../engine';
import { AugRng } from '../../util/rng';
import { batchPipelines } from '../../train/pipelines';
import { catalogEntry } from '../catalog';
import { padCropFlip } from './geometric';
import { toFloat } from './color';

const DIR = path.resolve(__dirname, '..', '..', '..', '..', 'fixtures', 'transforms');

/**
 * An AugRng for the pipeline (compose forks one stream per transform) whose streams replay given crop offsets
 * (padCropFlip's fork 0: top, left per image) and flips (its fork 1).
 */
function replay(params: number[][]): AugRng {
  const forks: Record<number, () => AugRng> = {
    0: () => {
      const ints = params.flatMap(([top, left]) => [top, left]);
      let k = 0;
      return { int: () => ints[k++] } as unknown as AugRng;
    },
    1: () => {
      let k = 0;
      return { bernoulli: () => params[k++][2] === 1 } as unknown as AugRng;
    },
  };
  const transformStream = { fork: (w: number) => forks[w]() };
  return { fork: () => transformStream } as unknown as AugRng;
}

test("the trainer's augmentation gives torchvision's pixels for the same offsets and flips", (t) => {
  const fx = loadSafetensors(path.join(DIR, 'augment.safetensors'));
  try {
    const params = (fx.params.toList() as number[]).reduce<number[][]>(
      (rows, v, i) => (i % 3 === 0 ? [...rows, [v]] : (rows[rows.length - 1].push(v), rows)),
      [],
    );
    const cifar = catalogEntry('cifar10-lt');
    const pipes = batchPipelines({ imageShape: [32, 32, 3], mean: [...cifar.mean], std: [...cifar.std] }, true);
    tidy(() => {
      const x = tensor(Uint8Array.from(fx.images.toList() as number[]), [6, 32, 32, 3], 'uint8');
      const got = pipes.train(x, replay(params)).contiguous().toArray() as Float32Array;
      const want = fx.out.toArray() as Float32Array;
      assert.equal(got.length, want.length);
      let worst = 0;
      got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - want[i]))));
      assert.ok(worst < 1e-5, `largest difference ${worst} (padding fill, crop window, flip, normalisation)`);
      t.diagnostic(`largest pixel difference from torchvision: ${worst.toExponential(2)}`);
    });
  } finally {
    dispose(fx);
  }
});

test('crop offsets and flips: uniform on torchvision’s support (0..8), flip rate 1/2, over 40,000 images', (tc) => {
  const ref = JSON.parse(fs.readFileSync(path.join(DIR, 'augment.json'), 'utf8'));
  const n = 4000;
  // Channel 0 holds row + 1, channel 1 column + 1 (0 is the padding), so each output reveals its window.
  const img = new Uint8Array(n * 32 * 32 * 2);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < 32; r++) for (let c = 0; c < 32; c++) img.set([r + 1, c + 1], ((i * 32 + r) * 32 + c) * 2);
  const tops = new Array(9).fill(0);
  const lefts = new Array(9).fill(0);
  let flips = 0;
  const t = padCropFlip(32, 4);
  for (let batch = 0; batch < ref.draws / n; batch++) {
    const out = tidy(() => {
      const x = toFloat()(tensor(img, [n, 32, 32, 2], 'uint8'), new AugRng(0));
      return t(x, new AugRng(123, batch)).mul(255).round().contiguous().toArray() as Float32Array;
    });
    for (let i = 0; i < n; i++) {
      // The centre (16, 16) always shows the image: source row = top + 12, column = left + 12 (left + 11 flipped).
      const at = (ch: number, r: number, c: number) => out[((i * 2 + ch) * 32 + r) * 32 + c];
      const flipped = at(1, 16, 17) < at(1, 16, 16);
      const top = at(0, 16, 16) - 1 - 12;
      const left = at(1, 16, 16) - 1 - (flipped ? 11 : 12);
      assert.ok(top >= 0 && top <= 8 && left >= 0 && left <= 8, `offset (${top}, ${left}) outside 0..8`);
      tops[top]++;
      lefts[left]++;
      if (flipped) flips++;
    }
  }
  // χ² against uniform, 8 degrees of freedom: 26.1 is the 0.999 quantile. torchvision's histogram passes too.
  const chi2 = (h: number[]) => h.reduce((a, o) => a + (o - ref.draws / 9) ** 2 / (ref.draws / 9), 0);
  for (const [what, h] of [
    ['ltkit tops', tops],
    ['ltkit lefts', lefts],
    ['torchvision tops', ref.tops],
    ['torchvision lefts', ref.lefts],
  ] as [string, number[]][]) {
    assert.equal(h.length, 9);
    assert.ok(
      h.every((c) => c > 0),
      `${what}: every offset 0..8 occurs`,
    );
    assert.ok(chi2(h) < 26.1, `${what}: χ² ${chi2(h).toFixed(1)} (uniform expected): ${h}`);
  }
  tc.diagnostic(
    `χ² ltkit tops ${chi2(tops).toFixed(1)}, lefts ${chi2(lefts).toFixed(1)}, flips ${flips}; ` +
      `torchvision tops ${chi2(ref.tops).toFixed(1)}, lefts ${chi2(ref.lefts).toFixed(1)}, flips ${ref.flips}`,
  );
  // Flip rate: within 4 standard deviations of 1/2 (σ = 100 for 40,000 coins), like torchvision's.
  for (const f of [flips, ref.flips]) assert.ok(Math.abs(f - ref.draws / 2) < 400, `flips ${f} of ${ref.draws}`);
});
