// Batch pipelines of a data set: uint8 NHWC batch → float32 NCHW, augmented for training.
// Train: random crop with 4-pixel zero padding + horizontal flip + per-channel normalisation
// (the CIFAR/SVHN recipe of SPEC §1.4, applied to FMNIST-LT too); test: normalisation only.
import type { Tensor } from '../engine';
import { compose, Transform } from '../data/transforms/core';
import { toFloat, normalize } from '../data/transforms/color';
import { padCropFlip } from '../data/transforms/geometric';
import { AugRng } from '../data/transforms/rng';

export interface Pipelines {
  train: (x: Tensor, rng: AugRng) => Tensor;
  test: (x: Tensor) => Tensor;
}

export function batchPipelines(
  d: { train: { shape: number[] }; mean: number[]; std: number[] },
  augment: boolean,
): Pipelines {
  const [, h, w] = d.train.shape;
  const base: Transform[] = [toFloat(), normalize(d.mean, d.std)];
  const train = augment ? compose([toFloat(), padCropFlip([h, w], 4), normalize(d.mean, d.std)]) : compose(base);
  const test = compose(base);
  const fixed = new AugRng(0);
  return { train, test: (x) => test(x, fixed) };
}
