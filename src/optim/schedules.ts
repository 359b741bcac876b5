// Learning-rate schedules as pure functions of (epoch, iteration-in-epoch).
//
// `cifarSchedule` mirrors the reference `adjust_learning_rate` of kaidic/LDAM-DRW cifar_train.py
// (the CIFAR schedule both papers train with, SPEC §5):
//
//     epoch = epoch + 1
//     if epoch <= 5:    lr = base * epoch / 5
//     elif epoch > 180: lr = base * 0.0001
//     elif epoch > 160: lr = base * 0.01
//     else:             lr = base
//
// i.e. 0-based epoch e gets base·(e+1)/5 for e < 5, base for 5 ≤ e < 160, base·0.01 for
// 160 ≤ e < 180, base·1e-4 for e ≥ 180 — set once per epoch. Pitfall (SPEC §8): the first upload of
// YyzHarry/imbalanced-semi-self utils.py (2020-09, fixed in its commit b91ad29 of 2021-04) tested
// `epoch > 160` before `epoch > 180`, so the last stage (×1e-4) was never reached; both references now have
// the order implemented here. The references hard-code 160 and 180, so with fewer than 161 epochs they never
// decay; ltkit places the decay points at fractions of the epochs instead (`schedule.decayAt`, default
// [0.8, 0.9] = 160/200 and 180/200), so a shorter run keeps the protocol's shape. The warm-up length stays
// `warmupEpochs` (default 5).
export interface LrSchedule {
  readonly name: string;
  /** Learning rate for 0-based `epoch` at 0-based `iter` of `itersPerEpoch` (per-epoch schedules ignore it). */
  lrAt(epoch: number, iter?: number, itersPerEpoch?: number): number;
}

export interface CifarScheduleOptions {
  baseLr: number;
  epochs?: number;
  warmupEpochs?: number;
  /** Decay points as fractions of the epochs (default 0.8 and 0.9 → 160 and 180 of 200). */
  decayAt?: [number, number];
  /** Factors after each decay point (default 0.01 and 0.0001). */
  factors?: [number, number];
}

/**
 * The epochs after which the two decays apply, e.g. [160, 180] for 200 epochs. floor(), like the
 * DRW/DRS deferral epoch (methods/rules.ts), so the first decay and DRW switch together at any length.
 */
export function cifarMilestones(epochs: number, decayAt: [number, number] = [0.8, 0.9]): [number, number] {
  return [Math.floor(decayAt[0] * epochs), Math.floor(decayAt[1] * epochs)];
}

export function cifarSchedule(o: CifarScheduleOptions): LrSchedule {
  const epochs = o.epochs ?? 200;
  const warm = o.warmupEpochs ?? 5;
  const [m1, m2] = cifarMilestones(epochs, o.decayAt);
  const [f1, f2] = o.factors ?? [0.01, 0.0001];
  checkBase(o.baseLr);
  return {
    name: 'cifar',
    lrAt(epoch: number): number {
      const e = epoch + 1; // the reference's 1-based epoch
      if (e <= warm) return (o.baseLr * e) / warm;
      if (e > m2) return o.baseLr * f2;
      if (e > m1) return o.baseLr * f1;
      return o.baseLr;
    },
  };
}

export interface CosineScheduleOptions {
  baseLr: number;
  epochs: number;
  warmupEpochs?: number;
  minLr?: number;
  /** Update every iteration (needs `itersPerEpoch` in lrAt) instead of once per epoch. */
  perIteration?: boolean;
}

/**
 * Cosine annealing: minLr + (base − minLr)·½(1 + cos(π·t/T)) with t the (fractional) epochs since
 * warm-up and T = epochs − warmupEpochs; for warmupEpochs = 0 and per-epoch updates this is
 * torch.optim.lr_scheduler.CosineAnnealingLR(T_max = epochs, eta_min = minLr) stepped per epoch
 * (the ImageNet-LT/iNat schedule). Linear warm-up as in the CIFAR schedule: base·(e+1)/warmup.
 */
export function cosineSchedule(o: CosineScheduleOptions): LrSchedule {
  const warm = o.warmupEpochs ?? 0;
  const minLr = o.minLr ?? 0;
  checkBase(o.baseLr);
  if (!(o.epochs > warm)) throw new Error(`cosine schedule: epochs (${o.epochs}) must exceed warmupEpochs (${warm})`);
  return {
    name: 'cosine',
    lrAt(epoch: number, iter = 0, itersPerEpoch = 1): number {
      const frac = o.perIteration ? iter / Math.max(1, itersPerEpoch) : 0;
      if (epoch < warm) {
        const done = o.perIteration ? epoch + (iter + 1) / Math.max(1, itersPerEpoch) : epoch + 1;
        return (o.baseLr * done) / warm;
      }
      const t = epoch - warm + frac;
      return minLr + (o.baseLr - minLr) * 0.5 * (1 + Math.cos((Math.PI * t) / (o.epochs - warm)));
    },
  };
}

/** MultiStepLR: base · gamma^(number of milestones ≤ epoch), optional linear warm-up. */
export function multiStepSchedule(o: {
  baseLr: number;
  milestones: number[];
  gamma?: number;
  warmupEpochs?: number;
}): LrSchedule {
  const gamma = o.gamma ?? 0.1;
  const warm = o.warmupEpochs ?? 0;
  checkBase(o.baseLr);
  return {
    name: 'multistep',
    lrAt(epoch: number): number {
      if (epoch < warm) return (o.baseLr * (epoch + 1)) / warm;
      return o.baseLr * Math.pow(gamma, o.milestones.filter((m) => m <= epoch).length);
    },
  };
}

export function constantSchedule(o: { baseLr: number; warmupEpochs?: number }): LrSchedule {
  const warm = o.warmupEpochs ?? 0;
  checkBase(o.baseLr);
  return {
    name: 'constant',
    lrAt: (epoch: number) => (epoch < warm ? (o.baseLr * (epoch + 1)) / warm : o.baseLr),
  };
}

export type ScheduleType = 'cifar' | 'cosine' | 'constant';

/** Builds a schedule by name (the config's `schedule.type`). */
export function createSchedule(
  type: ScheduleType,
  o: { baseLr: number; epochs: number; warmupEpochs?: number; decayAt?: [number, number] },
): LrSchedule {
  switch (type) {
    case 'cifar':
      return cifarSchedule(o);
    case 'cosine':
      return cosineSchedule(o);
    case 'constant':
      return constantSchedule(o);
    default:
      throw new Error(`unknown schedule '${String(type)}' (allowed: cifar, cosine, constant)`);
  }
}

/** The part of a training config a schedule reads (structural, so optim/ does not import train/). */
export interface ScheduleConfig {
  optim: { lr: number };
  schedule: { type: ScheduleType; warmupEpochs: number; decayAt?: [number, number] };
  train: { epochs: number };
}

/** The lr for `epoch` / `step` of `steps` under a training config (what the trainer sets each step). */
export function learningRate(cfg: ScheduleConfig, epoch: number, step = 0, steps = 1): number {
  return createSchedule(cfg.schedule.type, {
    baseLr: cfg.optim.lr,
    epochs: cfg.train.epochs,
    warmupEpochs: cfg.schedule.warmupEpochs,
    decayAt: cfg.schedule.decayAt,
  }).lrAt(epoch, step, steps);
}

function checkBase(lr: number): void {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`schedule: base lr must be a positive number, got ${lr}`);
}
