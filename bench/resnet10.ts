// `node dist/bench/resnet10.js [--batch 32] [--steps 5] [--warmup 2] [--threads 2] [--modes cl,nchw]` — ltkit's
// side of bench/resnet10.sh: one ImageNet ResNet-10 training step at 224×224 (src/models/resnet-imagenet.ts,
// BasicBlock [1, 1, 1, 1], 1000 classes, as the decoupling / S1 ImageNet-LT code builds it), timed as the trainer
// runs it: train-mode forward, cross-entropy, zero the gradients, backward, SGD (momentum 0.9, weight decay
// 5e-4). bench/resnet10.py builds the same network from torchvision's ResNet class and times the same step.
//
// Modes: `cl` = model and batch in channels-last memory order (ltkit's default, train.channelsLast), `nchw` =
// PyTorch's default contiguous order. fp32 in both (train.precision's default). Prints one JSON object: per mode
// the median step time in ms over `steps` timed steps after `warmup` untimed ones, and img/s.
import { tidy, manualSeed, randn, randint, setNumThreads, getNumThreads, crossEntropyLoss } from '../src/engine';
import { contiguous } from '../src/engine/ops.generated';
import { CHANNELS_LAST } from '../src/nn/module';
import { createModel } from '../src/models';
import { SGD } from '../src/optim';

interface Args {
  batch: number;
  steps: number;
  warmup: number;
  threads: number;
  modes: string[];
}

function parseArgs(argv: string[]): Args {
  const a: Args = { batch: 32, steps: 5, warmup: 2, threads: 2, modes: ['cl', 'nchw'] };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (v === undefined) throw new Error(`resnet10: ${k} needs a value`);
    if (k === '--modes') a.modes = v.split(',');
    else if (k === '--batch' || k === '--steps' || k === '--warmup' || k === '--threads') a[k.slice(2) as 'batch'] = +v;
    else throw new Error(`resnet10: unknown option ${k} (use --batch --steps --warmup --threads --modes)`);
  }
  for (const m of a.modes) if (m !== 'cl' && m !== 'nchw') throw new Error(`resnet10: mode '${m}' is not cl or nchw`);
  return a;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)];
}

function benchMode(a: Args, channelsLast: boolean) {
  manualSeed(0);
  const model = createModel('resnet10', { numClasses: 1000 });
  if (channelsLast) model.toChannelsLast();
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const x0 = randn([a.batch, 3, 224, 224]);
  const x = (channelsLast ? contiguous(x0, { memoryFormat: CHANNELS_LAST }) : x0).keep();
  const y = randint(0, 1000, [a.batch]).keep();
  model.train();
  const step = () =>
    tidy(() => {
      const loss = crossEntropyLoss(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  for (let i = 0; i < a.warmup; i++) step();
  const ms: number[] = [];
  for (let i = 0; i < a.steps; i++) {
    const t0 = performance.now();
    step();
    ms.push(performance.now() - t0);
  }
  x.dispose();
  x0.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
  const med = median(ms);
  return { trainMsPerStep: med, trainImgPerSec: (a.batch * 1000) / med, stepsMs: ms.map((t) => +t.toFixed(1)) };
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  setNumThreads(a.threads);
  const modes: Record<string, ReturnType<typeof benchMode>> = {};
  for (const m of a.modes) modes[m] = benchMode(a, m === 'cl');
  const out = { side: 'ltkit', threads: getNumThreads(), batch: a.batch, steps: a.steps, warmup: a.warmup, modes };
  console.log(JSON.stringify(out));
}

main();
