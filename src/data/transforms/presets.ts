// The papers' augmentation pipelines (SPEC §1.4). Every preset takes the loader's uint8 NHWC batch and
// returns float32 NCHW. The normalisation statistics come from the dataset catalogue (../catalog.ts) and
// are re-exported under their usual names so other code (e.g. visualization) can undo them.
import { Transform, compose, twoViews, MultiTransform } from './core';
import { toFloat, normalize, colorJitter, grayscale, gaussianBlur } from './color';
import { padCropFlip, randomFlip, randomResizedCrop, resize, centerCrop } from './geometric';
import { catalogEntry, IMAGENET_STATS } from '../catalog';

const stats = (name: string) => {
  const e = catalogEntry(name);
  return { mean: [...e.mean], std: [...e.std] };
};
export const { mean: CIFAR_MEAN, std: CIFAR_STD } = stats('cifar10-lt');
export const { mean: SVHN_MEAN, std: SVHN_STD } = stats('svhn-lt');
export const { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD } = stats('fmnist-lt');
export const IMAGENET_MEAN = [...IMAGENET_STATS.mean];
export const IMAGENET_STD = [...IMAGENET_STATS.std];

export interface SmallImageOptions {
  size?: number;
  padding?: number;
  mean?: number[];
  std?: number[];
}

/** CIFAR train: RandomCrop(32, padding 4) + RandomHorizontalFlip + Normalize(CIFAR). Crop and flip are one gather. */
export function cifarTrain(o: SmallImageOptions = {}): Transform {
  return compose([
    toFloat(),
    padCropFlip(o.size ?? 32, o.padding ?? 4, 0.5),
    normalize(o.mean ?? CIFAR_MEAN, o.std ?? CIFAR_STD),
  ]);
}

/** CIFAR test: Normalize(CIFAR) only. */
export function cifarTest(o: Pick<SmallImageOptions, 'mean' | 'std'> = {}): Transform {
  return compose([toFloat(), normalize(o.mean ?? CIFAR_MEAN, o.std ?? CIFAR_STD)]);
}

/** SVHN train: as CIFAR with mean = std = 0.5. */
export function svhnTrain(o: SmallImageOptions = {}): Transform {
  return cifarTrain({ mean: SVHN_MEAN, std: SVHN_STD, ...o });
}

export function svhnTest(o: Pick<SmallImageOptions, 'mean' | 'std'> = {}): Transform {
  return cifarTest({ mean: SVHN_MEAN, std: SVHN_STD, ...o });
}

/** 1-channel small images (Fashion-MNIST 28×28): pad-crop 4 + flip + Normalize(0.2860, 0.3530) by default. */
export function grayscaleTrain(o: SmallImageOptions = {}): Transform {
  return cifarTrain({ size: 28, mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD, ...o });
}

export function grayscaleTest(o: Pick<SmallImageOptions, 'mean' | 'std'> = {}): Transform {
  return cifarTest({ mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD, ...o });
}

export interface LargeImageOptions {
  size?: number;
  /** ColorJitter(0.4, 0.4, 0.4, 0): on for ImageNet-LT, off for iNaturalist (SPEC §1.4). */
  colorJitter?: boolean;
  mean?: number[];
  std?: number[];
}

/** ImageNet-LT train: RandomResizedCrop(224) + flip + ColorJitter(0.4,0.4,0.4,0) + Normalize(ImageNet). */
export function imagenetTrain(o: LargeImageOptions = {}): Transform {
  const steps: Transform[] = [toFloat(), randomResizedCrop(o.size ?? 224), randomFlip(0.5)];
  if (o.colorJitter ?? true) steps.push(colorJitter(0.4, 0.4, 0.4, 0));
  steps.push(normalize(o.mean ?? IMAGENET_MEAN, o.std ?? IMAGENET_STD));
  return compose(steps);
}

/** iNaturalist-2018 train: as ImageNet-LT without ColorJitter. */
export function inatTrain(o: LargeImageOptions = {}): Transform {
  return imagenetTrain({ colorJitter: false, ...o });
}

/** ImageNet-LT / iNat test: Resize(256) + CenterCrop(224) + Normalize(ImageNet). */
export function imagenetTest(o: { resize?: number; size?: number; mean?: number[]; std?: number[] } = {}): Transform {
  return compose([
    toFloat(),
    resize(o.resize ?? 256),
    centerCrop(o.size ?? 224),
    normalize(o.mean ?? IMAGENET_MEAN, o.std ?? IMAGENET_STD),
  ]);
}

/**
 * One MoCo v2 view (SPEC §1.4; Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning"):
 * RandomResizedCrop(size, scale 0.2–1), ColorJitter(0.4,0.4,0.4,0.1) with p 0.8, RandomGrayscale(0.2),
 * GaussianBlur(σ ∈ [0.1, 2]) with p 0.5, horizontal flip, Normalize.
 */
export function mocoV2(o: { size?: number; mean?: number[]; std?: number[]; blurKernel?: number } = {}): Transform {
  return compose([
    toFloat(),
    randomResizedCrop(o.size ?? 224, { scale: [0.2, 1] }),
    colorJitter(0.4, 0.4, 0.4, 0.1, { p: 0.8 }),
    grayscale(0.2),
    gaussianBlur({ sigma: [0.1, 2], p: 0.5, kernelSize: o.blurKernel }),
    randomFlip(0.5),
    normalize(o.mean ?? IMAGENET_MEAN, o.std ?? IMAGENET_STD),
  ]);
}

/** MoCo v2's two views (query, key) of every image. */
export function mocoV2Views(o: Parameters<typeof mocoV2>[0] = {}): MultiTransform {
  return twoViews(mocoV2(o));
}
