// Data transforms: batched augmentation as libtorch tensor ops (SPEC §1.4).
//
// Contract
//   type Transform = (x: Tensor, rng: AugRng) => Tensor
//   - x is a whole batch: uint8 NHWC straight from the loader (only `toFloat` takes that), or NCHW
//     uint8/float32 afterwards. The result is a new tensor; x is neither modified nor disposed, and all
//     temporaries are freed (each transform runs in a tidy scope).
//   - Randomness: a transform draws a few parameters per image (offsets, coins, factors, σ) from the JS
//     AugRng it is given, then runs one fixed op sequence over the batch — no JS loops over pixels, no use
//     of libtorch's global generator. Same input + same AugRng key ⇒ bit-identical output. The loader keys
//     the stream by (seed, epoch, step); `compose` hands step i `rng.fork(i)`, `twoViews` view v its own fork.
//   - Every random transform has an exported deterministic core taking explicit parameters
//     (cropAt, flipWhere, rotate90, resizedCrop, adjustBrightness/Contrast/Saturation/Hue, blurWith).
//
// Presets: cifarTrain/Test, svhnTrain/Test, grayscaleTrain/Test (Fashion-MNIST), imagenetTrain/Test,
// inatTrain, mocoV2 / mocoV2Views. All start from uint8 NHWC and end in float32 NCHW.
export * from './rng';
export * from './core';
export * from './geometric';
export * from './color';
export * from './presets';
export * from './randaugment';
export { benchAugmentation } from './bench';
export type { AugBenchResult } from './bench';
