// The ResNet-32 training step `npm run bench` times in every row (bench/main.ts, bench/dist-step.ts): batch B of
// 3×32×32, cross-entropy, SGD (momentum 0.9, weight decay 2e-4), in one memory format and one precision, as
// bench/pytorch_bench.py builds it on the PyTorch side. The forward and the loss run under autocast when the
// precision is bf16; backward and the optimizer step outside it (PyTorch's AMP recipe, src/engine/amp.ts).
import { tidy, noGrad, manualSeed, randn, randint } from '../src/engine';
import type { Tensor } from '../src/engine';
import { autocast } from '../src/engine/amp';
import type { AmpPrecision } from '../src/engine/amp';
import { contiguous, crossEntropyLoss } from '../src/engine/ops.generated';
import { CHANNELS_LAST } from '../src/nn/module';
import { createModel } from '../src/models';
import type { ClassifierModel } from '../src/models';
import { SGD } from '../src/optim';

/** How a row computes: memory order of the model and the batch, and the autocast precision. */
export interface StepMode {
  channelsLast: boolean;
  precision: AmpPrecision;
}

/** The name pytorch_bench.py uses for a mode: `<nchw|cl>-<fp32|bf16>`. */
export function modeName(m: StepMode): string {
  return `${m.channelsLast ? 'cl' : 'nchw'}-${m.precision}`;
}

/** In words, for the printed rows. */
export function modeWords(m: StepMode): string {
  return `${m.channelsLast ? 'channels-last' : 'NCHW'} ${m.precision === 'fp32' ? 'fp32' : `${m.precision} autocast`}`;
}

export interface BenchStep {
  model: ClassifierModel;
  /** One training step (forward + loss, backward, SGD) in a tidy scope. */
  step(): void;
  /** A train-mode forward alone (the profile line). */
  forward(): void;
  /** An eval-mode forward without autograd (call `model.eval()` first). */
  evalForward(): void;
  dispose(): void;
}

/**
 * A seeded ResNet-32 with a fixed random batch. `beforeBackward` sees the loss before `backward()` runs (a
 * data-parallel gradient reducer arms itself there); `seed` picks the batch (the weights always come from
 * seed 0, as rank 0's weights do after a broadcast).
 */
export function resnet32Step(o: {
  batch: number;
  mode: StepMode;
  seed?: number;
  beforeBackward?: (loss: Tensor) => void;
}): BenchStep {
  manualSeed(0);
  const model = createModel('resnet32', { numClasses: 10 });
  if (o.mode.channelsLast) model.toChannelsLast();
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  if (o.seed !== undefined) manualSeed(o.seed);
  const x0 = randn([o.batch, 3, 32, 32]);
  const x = (o.mode.channelsLast ? contiguous(x0, { memoryFormat: CHANNELS_LAST }) : x0).keep();
  const y = randint(0, 10, [o.batch]).keep();
  const { precision } = o.mode;
  model.train();
  return {
    model,
    step: () =>
      tidy(() => {
        const loss = autocast(precision, () => crossEntropyLoss(model.forward(x), y));
        opt.zeroGrad();
        o.beforeBackward?.(loss);
        loss.backward();
        opt.step();
      }),
    forward: () => tidy(() => void autocast(precision, () => model.forward(x))),
    evalForward: () => noGrad(() => tidy(() => void autocast(precision, () => model.forward(x)))),
    dispose: () => {
      x.dispose();
      x0.dispose();
      y.dispose();
      opt.dispose();
      model.dispose();
    },
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds of each of `n` calls of fn after `warmup` untimed ones. */
export function timeEach(fn: () => void, n: number, warmup = 2): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times;
}
