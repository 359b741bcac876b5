// Learning rate per step (SPEC §5). 'cifar' is the reference schedule of kaidic/LDAM-DRW
// (cifar_train.py adjust_learning_rate): linear warm-up lr·(epoch+1)/warmup over the first epochs,
// then lr, ×0.01 after 80% of the epochs (160 of 200) and ×0.0001 after 90% (180 of 200); the
// reference changes lr per epoch, so this does too. 'cosine' decays per step to 0 after warm-up.
import type { TrainConfig } from './config';

export function learningRate(cfg: TrainConfig, epoch: number, step: number, stepsPerEpoch: number): number {
  const lr = cfg.optim.lr;
  const E = cfg.train.epochs;
  const warm = Math.min(cfg.schedule.warmupEpochs, E);
  if (cfg.schedule.type === 'constant') return lr;
  if (epoch < warm) return (lr * (epoch + 1)) / warm;
  if (cfg.schedule.type === 'cosine') {
    const t = (epoch - warm) * stepsPerEpoch + step;
    const T = Math.max(1, (E - warm) * stepsPerEpoch);
    return (lr * (1 + Math.cos((Math.PI * t) / T))) / 2;
  }
  const m1 = Math.round(0.8 * E);
  const m2 = Math.round(0.9 * E);
  if (epoch >= m2) return lr * 0.0001;
  if (epoch >= m1) return lr * 0.01;
  return lr;
}
