// The ResNet-32 training step `npm run bench` times in every row (bench/main.ts, bench/dist-step.ts), and
// bench/device-step.ts on a GPU: batch B of 3×32×32, cross-entropy, SGD (momentum 0.9, weight decay 2e-4), in one
// memory format and one precision, on one device, as bench/pytorch_bench.py builds it on the PyTorch side. The
// forward and the loss run under autocast when the precision is bf16 or fp16; backward and the optimizer step
// outside it, fp16 through a gradient scaler (PyTorch's AMP recipe, src/engine/amp.ts).
import { tidy, noGrad, manualSeed, randn, randint, zeros } from '../src/engine';
import type { Tensor } from '../src/engine';
import { GradScaler, autocast } from '../src/engine/amp';
import type { AmpPrecision } from '../src/engine/amp';
import { contiguous, crossEntropyLoss, toDevice } from '../src/engine/ops.generated';
import { CHANNELS_LAST } from '../src/nn/module';
import { createModel } from '../src/models';
import type { ClassifierModel } from '../src/models';
import { SGD } from '../src/optim';

/** How a row computes: memory order of the model and the batch, and the autocast precision. */
export interface StepMode {
  channelsLast: boolean;
  precision: AmpPrecision;
}

/** The name pytorch_bench.py uses for a mode: `<nchw|cl>-<fp32|bf16|fp16>`. */
export function modeName(m: StepMode): string {
  return `${m.channelsLast ? 'cl' : 'nchw'}-${m.precision}`;
}

/** The mode a `modeName` names; throws on anything else (`who` prefixes the message). */
export function parseMode(name: string, who = 'mode'): StepMode {
  const [f, p] = name.split('-');
  if (!['cl', 'nchw'].includes(f) || !['fp32', 'bf16', 'fp16'].includes(p)) {
    throw new Error(`${who}: '${name}' is not <nchw|cl>-<fp32|bf16|fp16>`);
  }
  return { channelsLast: f === 'cl', precision: p as AmpPrecision };
}

/** In words, for the printed rows. */
export function modeWords(m: StepMode): string {
  return `${m.channelsLast ? 'channels-last' : 'NCHW'} ${m.precision === 'fp32' ? 'fp32' : `${m.precision} autocast`}`;
}

export interface BenchStep {
  model: ClassifierModel;
  /** One training step (forward + loss, backward, SGD) in a tidy scope; returns when the device has run it. */
  step(): void;
  /** The same step without waiting for the device (on a GPU the host may queue ahead; CPU: the same as step). */
  queueStep(): void;
  /** A train-mode forward alone (the profile line). */
  forward(): void;
  /** An eval-mode forward without autograd (call `model.eval()` first). */
  evalForward(): void;
  /**
   * Waits until the device has run everything queued so far (CPU: nothing to wait for). Each of the calls above
   * ends with it, so a clock read after one of them counts its device time.
   */
  sync(): void;
  dispose(): void;
}

/**
 * A seeded ResNet-32 with a fixed random batch, on `device` ('cpu' default, or 'cuda[:N]'). The weights and the
 * batch are made on the CPU from the seeds and then moved, so every device starts from the same numbers.
 * `beforeBackward` sees the tensor `backward()` runs on (a data-parallel gradient reducer arms itself there);
 * `seed` picks the batch (the weights always come from seed 0, as rank 0's weights do after a broadcast). fp16
 * scales the loss with a GradScaler and steps through it, as the trainer does (src/train/loop.ts).
 */
export function resnet32Step(o: {
  batch: number;
  mode: StepMode;
  seed?: number;
  device?: string;
  beforeBackward?: (loss: Tensor) => void;
}): BenchStep {
  const device = o.device ?? 'cpu';
  manualSeed(0);
  const model = createModel('resnet32', { numClasses: 10 });
  // Module.to makes new parameter tensors: before the optimizer takes them.
  if (device !== 'cpu') model.to(device);
  if (o.mode.channelsLast) model.toChannelsLast();
  const params = model.parameters();
  const opt = new SGD(params, { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  if (o.seed !== undefined) manualSeed(o.seed);
  const onDevice = (t: Tensor) => (device === 'cpu' ? t : toDevice(t, device, t.dtype));
  const { x0, y } = tidy(() => ({ x0: onDevice(randn([o.batch, 3, 32, 32])), y: onDevice(randint(0, 10, [o.batch])) }));
  const x = (o.mode.channelsLast ? contiguous(x0, { memoryFormat: CHANNELS_LAST }) : x0).keep();
  y.keep();
  const { precision } = o.mode;
  const scaler = precision === 'fp16' ? new GradScaler() : null;
  // Reading one element back waits for the device's stream, where libtorch queues every kernel of the step
  // (forward, autograd's backward and SGD alike): ltkit's torch.cuda.synchronize().
  const probe = device === 'cpu' ? null : zeros([1], { device }).keep();
  const sync = () => void probe?.item();
  const queueStep = () =>
    tidy(() => {
      const loss = autocast(precision, () => crossEntropyLoss(model.forward(x), y), device);
      opt.zeroGrad();
      const scaled = scaler ? scaler.scale(loss) : loss;
      o.beforeBackward?.(scaled);
      scaled.backward();
      if (scaler) {
        scaler.step(opt, params); // skipped when a gradient is inf/NaN
        scaler.update();
      } else {
        opt.step();
      }
    });
  model.train();
  return {
    model,
    step: () => {
      queueStep();
      sync();
    },
    queueStep,
    forward: () => {
      tidy(() => void autocast(precision, () => model.forward(x), device));
      sync();
    },
    evalForward: () => {
      noGrad(() => tidy(() => void autocast(precision, () => model.forward(x), device)));
      sync();
    },
    sync,
    dispose: () => {
      x.dispose();
      x0.dispose();
      y.dispose();
      probe?.dispose();
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
