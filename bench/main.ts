// `npm run bench [-- --json] [-- --quick] [-- --skip-epoch] [-- --nchw] [-- --memory-only]`: ltkit against
// PyTorch on this machine, in the same run, with the same thread count:
//   1. ResNet-32 train step (batch 128, 3×32×32, CE, SGD momentum 0.9, wd 2e-4) and eval forward;
//   2. CIFAR train augmentation (pad-crop + flip + normalize) and its share of a train step;
//   3. one epoch of ResNet-32 on a CIFAR-10-LT-sized set (12,406 synthetic 32×32×3 images) with
//      augmentation, through ltkit's training core (the loop, the classification task, the DataLoader), against
//      torchvision transforms + DataLoader(num_workers=2);
//   4. memory: resident set size over long library loops that never yield to the event loop, and the same
//      loops yielding every step (ltkit only: RSS must stay flat however the loop is written).
// Figures move ±20% with machine load: compare only ratios from one run on an idle machine.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tidy, noGrad, manualSeed, setNumThreads, randn, randint, runtimeInfo, zeros } from '../src/engine';
import { contiguous, crossEntropyLoss } from '../src/engine/ops.generated';
import { CHANNELS_LAST } from '../src/nn/module';
import { resolveConfig } from '../src/train/config';
import { create as createModel } from '../src/models';
import { SGD } from '../src/optim';
import { benchAugmentation } from '../src/data/transforms/bench';
import { InstanceSampler } from '../src/data/samplers';
import { DataLoader, InMemorySource } from '../src/data/loader';
import { buildPlan, parseRecipe } from '../src/methods';
import { batchPipelines } from '../src/train/pipelines';
import { supervisedStage } from '../src/train/classification';
import { runStage } from '../src/train/loop';
import { lrSchedule } from '../src/train/hooks';
import { localContext } from '../src/core/context';
import { Rng } from '../src/util/rng';

// ltkit is measured as its trainer runs by default (train.channelsLast); PyTorch with its defaults.
const CHANNELS_LAST_DEFAULT = resolveConfig({}).train.channelsLast && !process.argv.includes('--nchw');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const quick = args.includes('--quick');
const skipEpoch = args.includes('--skip-epoch');
const memoryOnly = args.includes('--memory-only');
const threads = Number(process.env.LTKIT_BENCH_THREADS ?? 2);
const say = (s: string) => {
  if (!asJson) process.stdout.write(s + '\n');
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function python(mode: string, extra: string[]): Record<string, number | string> | { error: string } {
  const script = path.resolve(__dirname, '..', '..', 'bench', 'pytorch_bench.py');
  try {
    const out = execFileSync('/usr/bin/python3', [script, mode, '--threads', String(threads), ...extra], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
      timeout: 30 * 60 * 1000,
    });
    return JSON.parse(out.trim().split('\n').pop() as string);
  } catch (e) {
    return {
      error: `PyTorch reference failed (needs /usr/bin/python3 with python3-torch, python3-torchvision): ${(e as Error).message.split('\n')[0]}`,
    };
  }
}

function benchStep(steps: number, batch = 128) {
  manualSeed(0);
  const model = createModel('resnet32', { numClasses: 10 });
  if (CHANNELS_LAST_DEFAULT) model.toChannelsLast();
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  const x0 = randn([batch, 3, 32, 32]);
  const x = (CHANNELS_LAST_DEFAULT ? contiguous(x0, { memoryFormat: CHANNELS_LAST }) : x0).keep();
  const y = randint(0, 10, [batch]).keep();
  model.train();
  const step = () =>
    tidy(() => {
      const loss = crossEntropyLoss(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  for (let i = 0; i < 2; i++) step();
  const times: number[] = [];
  const fwd: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  // Forward-only share of a train step, for the profile line.
  for (let i = 0; i < Math.max(2, steps / 2); i++) {
    const t0 = performance.now();
    tidy(() => void model.forward(x));
    fwd.push(performance.now() - t0);
  }
  model.eval();
  const etimes: number[] = [];
  noGrad(() => {
    for (let i = 0; i < 2; i++) tidy(() => void model.forward(x));
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      tidy(() => void model.forward(x));
      etimes.push(performance.now() - t0);
    }
  });
  x.dispose();
  x0.dispose();
  y.dispose();
  const ms = median(times);
  const ems = median(etimes);
  return {
    trainMsPerStep: ms,
    trainImgPerSec: (batch * 1000) / ms,
    trainForwardMs: median(fwd),
    evalMsPerBatch: ems,
    evalImgPerSec: (batch * 1000) / ems,
  };
}

/** One epoch through the training core, as `ltkit train` runs it (no evaluation, no files). */
async function benchEpoch(images: number, batch = 128) {
  manualSeed(0);
  const rng = new Rng(0);
  const data = {
    images: Uint8Array.from({ length: images * 32 * 32 * 3 }, () => rng.int(0, 256)),
    shape: [images, 32, 32, 3] as [number, number, number, number],
    targets: Int32Array.from({ length: images }, () => rng.int(0, 10)),
  };
  const clsNumList = Array.from({ length: 10 }, (_, c) => data.targets.filter((t) => t === c).length);
  const cfg = resolveConfig({
    train: { epochs: 1, batchSize: batch, channelsLast: CHANNELS_LAST_DEFAULT },
    schedule: { warmupEpochs: 0 },
  });
  const plan = buildPlan(parseRecipe('ce'), { settings: cfg, clsNumList, numClasses: 10 });
  const input = {
    imageShape: [32, 32, 3] as [number, number, number],
    mean: [0.4914, 0.4822, 0.4465],
    std: [0.2023, 0.1994, 0.201],
  };
  const pipes = batchPipelines(input, true, { channelsLast: CHANNELS_LAST_DEFAULT });
  const model = createModel('resnet32', { numClasses: 10 });
  if (CHANNELS_LAST_DEFAULT) model.toChannelsLast();
  const sampler = new InstanceSampler(images, 0);
  const loader = new DataLoader(new InMemorySource(data), {
    sampler,
    batchSize: batch,
    transform: pipes.train,
    seed: 0,
  });
  const stage = supervisedStage(cfg, {
    model,
    plan,
    sampler,
    loader,
    targets: data.targets,
    clsNumList,
    evaluate: () => null,
  });
  const t0 = performance.now();
  await runStage(stage, {
    stageIndex: 0,
    from: 0,
    seed: 0,
    hooks: [lrSchedule()],
    control: { stopRequested: false },
    ctx: localContext({ channelsLast: CHANNELS_LAST_DEFAULT }),
  });
  const epochSeconds = (performance.now() - t0) / 1000;
  stage.dispose();
  model.dispose();
  return { epochSeconds, steps: loader.numBatches(0), images };
}

/** RSS (MiB) over `iters` iterations of `body`, yielding to the event loop every step or never. */
async function rssOver(iters: number, yieldEvery: boolean, body: () => void) {
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  body(); // first-use allocations
  const start = mib();
  let peak = start;
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) {
    body();
    if (yieldEvery) await new Promise<void>((r) => setImmediate(r));
    if (i % 100 === 0) peak = Math.max(peak, mib());
  }
  const msPerIter = (performance.now() - t0) / iters;
  return { iters, yieldEvery, startMiB: start, endMiB: mib(), peakMiB: peak, msPerIter };
}

/** Memory that comes back: loops a library user writes, without and with yielding. */
async function benchMemory() {
  manualSeed(0);
  const lin = createModel('resnet8', { numClasses: 10, inChannels: 1 });
  const opt = new SGD(lin.parameters(), { lr: 0.01, momentum: 0.9 });
  const step = () =>
    tidy(() => {
      const loss = crossEntropyLoss(lin.forward(randn([16, 1, 28, 28])), randint(0, 10, [16]));
      opt.zeroGrad();
      loss.backward();
      opt.step();
      return loss.item();
    });
  const loops: Record<string, (yieldEvery: boolean) => ReturnType<typeof rssOver>> = {
    'tidy(() => { zeros([16,3,64,64]) }) ×10k': (y) =>
      rssOver(10000, y, () =>
        tidy(() => {
          zeros([16, 3, 64, 64]);
        }),
      ),
    'tidy(() => zeros([16,3,64,64])), result left to the GC ×10k': (y) =>
      rssOver(10000, y, () => void tidy(() => zeros([16, 3, 64, 64]))),
    [`ResNet-8 SGD step, batch 16 ×${quick ? 500 : 2000}`]: (y) => rssOver(quick ? 500 : 2000, y, step),
  };
  const out: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(loops)) {
    for (const y of [false, true]) {
      const r = await run(y);
      out[`${name}${y ? ', yielding' : ''}`] = r;
      say(
        `  ${(name + (y ? ', yielding every step' : ', never yielding')).padEnd(72)} RSS ${r.startMiB.toFixed(0)} → ` +
          `${r.endMiB.toFixed(0)} MiB (peak ${r.peakMiB.toFixed(0)}), ${r.msPerIter.toFixed(3)} ms/iteration`,
      );
    }
  }
  lin.dispose();
  opt.dispose();
  return out;
}

/** The CPU this ran on: model name and the vector-extension flags that decide oneDNN's kernels. */
function cpuInfo(): { model: string; flags: string[] } {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const model = /model name\s*:\s*(.*)/.exec(text)?.[1] ?? 'unknown';
    const all = new Set((/flags\s*:\s*(.*)/.exec(text)?.[1] ?? '').split(/\s+/));
    return { model, flags: ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'].filter((f) => all.has(f)) };
  } catch {
    return { model: 'unknown', flags: [] };
  }
}

async function main(): Promise<void> {
  setNumThreads(threads);
  const rt = runtimeInfo();
  const cpu = cpuInfo();
  const steps = quick ? 4 : 10;
  say(`ltkit bench: libtorch ${rt.torchVersion}, ${threads} threads, Node ${process.version}`);
  say(`CPU: ${cpu.model}; flags: ${cpu.flags.join(' ') || 'none of avx2/avx512f/avx512_bf16/amx_bf16'}`);
  say(
    `ltkit memory order: ${CHANNELS_LAST_DEFAULT ? 'channels-last (trainer default; --nchw for NCHW)' : 'NCHW'}; PyTorch: its default NCHW`,
  );
  const result: Record<string, unknown> = {
    threads,
    libtorch: rt.torchVersion,
    node: process.version,
    ltkitChannelsLast: CHANNELS_LAST_DEFAULT,
    cpu,
  };

  if (memoryOnly) {
    say('\nMemory (resident set size) over library loops:');
    result.memory = await benchMemory();
    if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  const lt = benchStep(steps);
  const py = python('step', ['--steps', String(steps)]);
  const stepRatio = 'error' in py ? null : lt.trainMsPerStep / Number(py.trainMsPerStep);
  const evalRatio = 'error' in py ? null : lt.evalMsPerBatch / Number(py.evalMsPerBatch);
  result.resnet32Step = { ltkit: lt, pytorch: py, ratio: stepRatio, evalRatio };
  say('\nResNet-32 train step (batch 128, CE, SGD):');
  say(
    `  ltkit   ${lt.trainMsPerStep.toFixed(1)} ms/step  ${lt.trainImgPerSec.toFixed(0)} img/s  (forward ${lt.trainForwardMs.toFixed(1)} ms)`,
  );
  if ('error' in py) say(`  pytorch ${py.error}`);
  else {
    say(
      `  pytorch ${Number(py.trainMsPerStep).toFixed(1)} ms/step  ${Number(py.trainImgPerSec).toFixed(0)} img/s  (torch ${py.torch})`,
    );
    say(`  ratio (ltkit/pytorch step time) ${stepRatio!.toFixed(3)}`);
  }
  say('ResNet-32 eval forward (batch 128):');
  say(
    `  ltkit   ${lt.evalImgPerSec.toFixed(0)} img/s` +
      ('error' in py ? '' : `   pytorch ${Number(py.evalImgPerSec).toFixed(0)} img/s   ratio ${evalRatio!.toFixed(3)}`),
  );

  const aug = benchAugmentation({ batch: 128, iters: quick ? 20 : 100 });
  const share = aug.msPerBatch / lt.trainMsPerStep;
  result.augmentation = { ...aug, shareOfTrainStep: share };
  say('\nCIFAR train augmentation (pad-crop 4 + flip + normalize, batch 128):');
  say(
    `  ${aug.msPerBatch.toFixed(2)} ms/batch  ${aug.imagesPerSec.toFixed(0)} img/s  = ${(100 * share).toFixed(2)}% of a train step (target ≤ 5%)`,
  );

  if (!skipEpoch) {
    const images = quick ? 2048 : 12406;
    const le = await benchEpoch(images);
    const pe = python('epoch', ['--images', String(images), '--workers', '2']);
    const ratio = 'error' in pe ? null : le.epochSeconds / Number(pe.epochSeconds);
    result.epoch = { ltkit: le, pytorch: pe, ratio };
    say(`\nOne epoch, ResNet-32, ${images} synthetic CIFAR-sized images with augmentation:`);
    say(`  ltkit   ${le.epochSeconds.toFixed(1)} s (${le.steps} steps, training core)`);
    if ('error' in pe) say(`  pytorch ${pe.error}`);
    else {
      say(`  pytorch ${Number(pe.epochSeconds).toFixed(1)} s (torchvision transforms, DataLoader num_workers=2)`);
      say(`  ratio (ltkit/pytorch) ${ratio!.toFixed(3)} (target ≤ 0.9)`);
    }
  }
  say('\nMemory (resident set size) over library loops:');
  result.memory = await benchMemory();
  if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
