// Batch pipelines of a data set: uint8 NHWC batch → float32 NCHW, augmented for training.
// Train: random crop with 4-pixel zero padding + horizontal flip + per-channel normalisation
// (the CIFAR/SVHN recipe of SPEC §1.4, applied to FMNIST-LT too); test: normalisation only.
import type { Tensor } from '../engine';
import { contiguous } from '../engine/ops.generated';
import { CHANNELS_LAST } from '../nn/module';
import { compose, Transform } from '../data/transforms/core';
import { toFloat, normalize } from '../data/transforms/color';
import { padCropFlip } from '../data/transforms/geometric';
import { AugRng } from '../data/transforms/rng';
import { randAugment } from '../data/transforms/randaugment';
import type { ViewKind } from '../methods/types';

export interface Pipelines {
  train: (x: Tensor, rng: AugRng) => Tensor;
  test: (x: Tensor) => Tensor;
}

/** What a model's input is: image size and channels, and their normalisation (run.json records it). */
export interface InputSpec {
  imageShape: [number, number, number]; // [H, W, C]
  mean: number[];
  std: number[];
}

/**
 * `channelsLast`: hand batches over in channels-last memory order (same shape and values), for a
 * model converted with `Module.toChannelsLast()`.
 */
export function batchPipelines(d: InputSpec, augment: boolean, opts: { channelsLast?: boolean } = {}): Pipelines {
  const [h, w] = d.imageShape;
  const tail: Transform[] = opts.channelsLast ? [(x) => contiguous(x, { memoryFormat: CHANNELS_LAST })] : [];
  const base: Transform[] = [toFloat(), normalize(d.mean, d.std), ...tail];
  const train = augment
    ? compose([toFloat(), padCropFlip([h, w], 4), normalize(d.mean, d.std), ...tail])
    : compose(base);
  const test = compose(base);
  const fixed = new AugRng(0);
  return { train, test: (x) => test(x, fixed) };
}

/**
 * Views of an unlabeled batch for the `unlabeled` methods: 'weak' is the training augmentation (crop with
 * 4-pixel padding and flip), 'strong' adds FixMatch's RandAugment + Cutout before normalisation. View i draws
 * from `rng.fork(1000 + i)`, so two weak views are augmented independently.
 */
export function unlabeledViews(
  d: InputSpec,
  kinds: ViewKind[],
  opts: { channelsLast?: boolean } = {},
): (x: Tensor, rng: AugRng) => Tensor[] {
  const [h, w] = d.imageShape;
  const tail: Transform[] = opts.channelsLast ? [(x) => contiguous(x, { memoryFormat: CHANNELS_LAST })] : [];
  const weak = compose([toFloat(), padCropFlip([h, w], 4), normalize(d.mean, d.std), ...tail]);
  // FixMatch's RandAugmentMC(2, 10) draws magnitudes 1..9 (np.random.randint(1, 10)): magnitude 9 here.
  const strong = compose([
    toFloat(),
    padCropFlip([h, w], 4),
    randAugment({ magnitude: 9 }),
    normalize(d.mean, d.std),
    ...tail,
  ]);
  return (x, rng) => kinds.map((k, i) => (k === 'strong' ? strong : weak)(x, rng.fork(1000 + i)));
}
