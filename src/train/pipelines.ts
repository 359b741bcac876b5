// Batch pipelines of a data set: uint8 NHWC batch → float32 NCHW, augmented for training.
// Train: random crop with 4-pixel zero padding + horizontal flip + per-channel normalisation
// (the CIFAR/SVHN recipe of SPEC §1.4, applied to FMNIST-LT too); test: normalisation only.
// Streamed file data (ImageNet-LT, iNat, Places-LT, own images): `streamPipelines`.
import type { Tensor } from '../engine';
import { contiguous } from '../engine/ops.generated';
import { CHANNELS_LAST } from '../nn/module';
import { compose, Transform } from '../data/transforms/core';
import { toFloat, normalize, colorJitter } from '../data/transforms/color';
import { padCropFlip, randomResizedCrop, randomFlip, centerCrop } from '../data/transforms/geometric';
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

/**
 * The ImageNet-LT / iNat pipelines of SPEC §1.4 for streamed file data, as batched tensor ops on what the
 * decoder (src/data/stream/decode.ts) hands over:
 *   - train: the decoder gives each image as its central W×W square after scaling the shorter side to W
 *     (W = data.workSize, default 256 for crop 224); then RandomResizedCrop(crop, scale 0.08–1, ratio 3/4–4/3,
 *     bilinear) per image, horizontal flip p 0.5, ColorJitter(0.4, 0.4, 0.4, 0) when on, Normalize.
 *     How this differs from torchvision's RandomResizedCrop on the original image: (1) the crop box is drawn
 *     in the W×W square, so the area fraction is of that square, not of the whole image, and the parts of the
 *     longer side outside the central square are never seen (for a 4:3 photo, 1/8 of the width on each side);
 *     (2) the crop is resampled from the W-pixel working image, not the original pixels, so a small crop
 *     (scale 0.08 → ~72 px of a 256 square) is upsampled from fewer pixels than torchvision would use on a large
 *     original. Crop statistics (scale/ratio distribution relative to the visible square) are torchvision's.
 *     Without augmentation (train.augment false): CenterCrop(crop) of the working square.
 *   - test: the decoder already did Resize(R) + CenterCrop(crop) exactly as torchvision (R = data.testResize,
 *     default 256); Normalize only.
 */
export function streamPipelines(
  f: { crop: number; mean: number[]; std: number[]; colorJitter: boolean },
  augment: boolean,
  opts: { channelsLast?: boolean } = {},
): Pipelines {
  const tail: Transform[] = opts.channelsLast ? [(x) => contiguous(x, { memoryFormat: CHANNELS_LAST })] : [];
  const norm = normalize(f.mean, f.std);
  const trainSteps: Transform[] = augment
    ? [
        toFloat(),
        randomResizedCrop(f.crop),
        randomFlip(0.5),
        ...(f.colorJitter ? [colorJitter(0.4, 0.4, 0.4, 0)] : []),
        norm,
        ...tail,
      ]
    : [toFloat(), centerCrop(f.crop), norm, ...tail];
  const train = compose(trainSteps);
  const test = compose([toFloat(), norm, ...tail]);
  const fixed = new AugRng(0);
  return { train, test: (x) => test(x, fixed) };
}
