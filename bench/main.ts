// `npm run bench [-- --json] [-- --quick] [-- --skip-epoch] [-- --skip-dp] [-- --nchw] [-- --memory-only]`: ltkit
// against PyTorch on this machine, in the same run, with the same thread count:
//   1. ResNet-32 train step (batch 128, 3×32×32, CE, SGD momentum 0.9, wd 2e-4) and eval forward: ltkit as its
//      trainer runs (channels-last fp32; --nchw for NCHW) against PyTorch in the same memory format and
//      precision (the `ratio`) and against PyTorch's defaults (NCHW fp32, for reference); PyTorch's step split
//      by kernel family (torch.profiler self times) gives the floor over the same kernels: convolution time /
//      PyTorch step time, the lowest ratio a front end calling the same kernels can reach without computing less;
//   2. the same in bf16 autocast (channels-last) where the CPU has native bf16 (avx512_bf16 or amx_bf16);
//   3. a two-process data-parallel step: ltkit's 2 processes × batch 64 with src/dist's GradReducer against
//      PyTorch DDP (Gloo, 2 × 64), each against its own one-process batch-128 step, 1 thread per process;
//   4. CIFAR train augmentation (pad-crop + flip + normalize) and its share of a train step;
//   5. one epoch of ResNet-32 on a CIFAR-10-LT-sized set (12,406 synthetic 32×32×3 images) with
//      augmentation, through ltkit's training core (the loop, the classification task, the DataLoader), against
//      torchvision transforms + DataLoader(num_workers=2);
//   6. memory: resident set size over long library loops that never yield to the event loop, and the same
//      loops yielding every step (ltkit only: RSS must stay flat however the loop is written).
// Times are medians over repeated steps after 2 warm-up steps. The output names the libtorch ltkit ran (version
// and folder), PyTorch's version, the CPU and its flags that decide `train.precision: auto`.
// Figures move ±20% with machine load: compare only ratios from one run on an idle machine.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tidy, manualSeed, setNumThreads, randn, randint, runtimeInfo, zeros } from '../src/engine';
import { crossEntropyLoss } from '../src/engine/ops.generated';
import { cpuFlags, cpuHasNativeBf16, resolvePrecision } from '../src/engine/precision';
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
import { StepMode, median, modeName, modeWords, parseMode, resnet32Step, timeEach } from './step';
import { whyNoDist } from './dist-step';
import { freePort } from '../src/dist/launch';

// ltkit is measured as its trainer runs by default (train.channelsLast).
const CHANNELS_LAST_DEFAULT = resolveConfig({}).train.channelsLast && !process.argv.includes('--nchw');
const args = process.argv.slice(2);
const asJson = args.includes('--json');
const quick = args.includes('--quick');
const skipEpoch = args.includes('--skip-epoch');
const skipDp = args.includes('--skip-dp');
const memoryOnly = args.includes('--memory-only');
const threads = Number(process.env.LTKIT_BENCH_THREADS ?? 2);
// The step rows alternate ltkit and PyTorch this many times; each side's figure is its median over the rounds,
// and the per-round ratios are printed, so a drift of the machine's speed during the run shows instead of biasing
// one side.
const rounds = quick ? 1 : Math.max(1, Number(process.env.LTKIT_BENCH_ROUNDS ?? 3));
// The PyTorch to compare with: Debian's python3-torch unless LTKIT_BENCH_PYTHON names another interpreter (a venv
// with the torch version ltkit's libtorch has, for a same-version comparison).
const PYTHON = process.env.LTKIT_BENCH_PYTHON || '/usr/bin/python3';
const PY_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'pytorch_bench.py');
const say = (s: string) => {
  if (!asJson) process.stdout.write(s + '\n');
};
const fmt = (x: number, d = 1) => x.toFixed(d);

type PyResult = Record<string, any> | { error: string };

function python(mode: string, extra: string[], nthreads = threads): PyResult {
  try {
    const out = execFileSync(PYTHON, [PY_SCRIPT, mode, '--threads', String(nthreads), ...extra], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OMP_NUM_THREADS: String(nthreads) },
      timeout: 30 * 60 * 1000,
    });
    return JSON.parse(out.trim().split('\n').pop() as string);
  } catch (e) {
    return {
      error: `PyTorch reference failed (needs ${PYTHON} with python3-torch, python3-torchvision): ${(e as Error).message.split('\n')[0]}`,
    };
  }
}

/** PyTorch's version and folder as /usr/bin/python3 imports it, or null without it. */
function pytorchInfo(): { version: string; folder: string } | null {
  try {
    const out = execFileSync(
      PYTHON,
      ['-c', 'import os, torch; print(torch.__version__); print(os.path.dirname(torch.__file__))'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const [version, folder] = out.trim().split('\n');
    return { version, folder };
  } catch {
    return null;
  }
}

/** The folder of the libtorch_cpu.so this process loaded (/proc/self/maps: what really ran, wherever the build looked). */
function libtorchFolder(): string {
  try {
    const line = fs
      .readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .find((l) => /\/libtorch_cpu\.so(\.[\d.]+)?$/.test(l));
    if (line) return path.dirname(fs.realpathSync(line.slice(line.indexOf('/'))));
  } catch {
    // no /proc (not Linux)
  }
  return 'folder unknown';
}

/** Train-step and eval-forward medians of ltkit's ResNet-32 in one mode, at `threads` threads. */
function benchStep(steps: number, mode: StepMode, batch = 128) {
  const s = resnet32Step({ batch, mode });
  const times = timeEach(s.step, steps);
  // Forward-only share of a train step, for the profile line.
  const fwd = timeEach(s.forward, Math.max(2, steps / 2));
  s.model.eval();
  const etimes = timeEach(s.evalForward, steps);
  s.dispose();
  const ms = median(times);
  const ems = median(etimes);
  return {
    mode: modeName(mode),
    trainMsPerStep: ms,
    trainImgPerSec: (batch * 1000) / ms,
    trainForwardMs: median(fwd),
    evalMsPerBatch: ems,
    evalImgPerSec: (batch * 1000) / ems,
  };
}

type LtStep = ReturnType<typeof benchStep>;

/** Field-wise medians of several rounds' results (numbers; nested objects likewise; anything else from round 1). */
function medianOfRounds<T>(xs: T[]): T {
  const first = xs[0] as Record<string, unknown>;
  if (xs.length === 1 || first === null || typeof first !== 'object') return xs[0];
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(first)) {
    const all = xs.map((x) => (x as Record<string, unknown>)[k]);
    out[k] = typeof v === 'number' ? median(all as number[]) : v && typeof v === 'object' ? medianOfRounds(all) : v;
  }
  return out as T;
}

/**
 * The rows of one ltkit mode against PyTorch in the same mode (and, when given, PyTorch's defaults): each side's
 * median over the rounds, and the ratio of the medians with the rounds' own ratios beside it.
 */
function stepRows(rows: { lt: LtStep; same: Record<string, number> | undefined; dflt?: Record<string, number> }[]) {
  const lt = medianOfRounds(rows.map((r) => r.lt));
  const same = rows.every((r) => r.same) ? medianOfRounds(rows.map((r) => r.same!)) : undefined;
  const dflt = rows.every((r) => r.dflt) ? medianOfRounds(rows.map((r) => r.dflt!)) : undefined;
  const sameIsDefault = rows[0].dflt !== undefined && rows[0].dflt === rows[0].same;
  const row = (who: string, ms: number, evalMs: number, extra = '') =>
    say(
      `  ${who.padEnd(44)} ${fmt(ms).padStart(7)} ms/step ${fmt((128 * 1000) / ms, 0).padStart(5)} img/s   eval ` +
        `${fmt((128 * 1000) / evalMs, 0).padStart(5)} img/s${extra}`,
    );
  row(
    `ltkit   ${modeWords(parseMode(lt.mode))}`,
    lt.trainMsPerStep,
    lt.evalMsPerBatch,
    `   (forward ${fmt(lt.trainForwardMs)} ms)`,
  );
  if (dflt && !sameIsDefault)
    row(`PyTorch ${modeWords(parseMode('nchw-fp32'))} (its defaults)`, dflt.trainMsPerStep, dflt.evalMsPerBatch);
  if (!same) return { ratio: null, evalRatio: null, roundRatios: [], convolutionFloor: null };
  row(
    `PyTorch ${modeWords(parseMode(lt.mode))}${sameIsDefault ? ' (its defaults)' : ''}`,
    same.trainMsPerStep,
    same.evalMsPerBatch,
  );
  const ratio = lt.trainMsPerStep / same.trainMsPerStep;
  const evalRatio = lt.evalMsPerBatch / same.evalMsPerBatch;
  const roundRatios = rows.map((r) => r.lt.trainMsPerStep / r.same!.trainMsPerStep);
  say(
    `  ratio ltkit / PyTorch ${modeWords(parseMode(lt.mode))}: step ${fmt(ratio, 3)}, eval ${fmt(evalRatio, 3)} ` +
      `(target ≤ 0.9)${rows.length > 1 ? `; step ratio of each round: ${roundRatios.map((r) => fmt(r, 3)).join(', ')}` : ''}`,
  );
  const k = (same as unknown as { kernels?: Record<string, number> }).kernels;
  if (!k) return { ratio, evalRatio, roundRatios, convolutionFloor: null };
  // ltkit calls the same ATen kernels: its step cannot take less than PyTorch's time in convolutions unless it
  // computes less, so (convolution time) / (PyTorch step time), both from the same profiled steps, is the lowest
  // same-mode ratio a front end can reach over these kernels.
  const floor = k.convolution / k.wallMs;
  say(
    `  PyTorch's profiled step (torch.profiler, ${k.profiledSteps} steps, ${fmt(k.wallMs)} ms/step): convolutions ` +
      `${fmt(k.convolution)} ms, BatchNorm ${fmt(k.batchNorm)}, ReLU ${fmt(k.relu)}, other ATen ` +
      `${fmt(k.atenTotal - k.convolution - k.batchNorm - k.relu)}, outside ATen ${fmt(k.wallMs - k.atenTotal)}`,
  );
  say(
    `  floor over the same kernels: convolutions / step = ${fmt(floor, 3)}; a ratio of 0.9 leaves everything else ` +
      `(${fmt(k.wallMs - k.convolution)} ms per PyTorch step) ${fmt(0.9 * k.wallMs - k.convolution)} ms`,
  );
  return { ratio, evalRatio, roundRatios, convolutionFloor: floor };
}

/**
 * Runs `world` copies of a command with torchrun's environment (what `ltkit launch --nproc N` sets) and
 * returns rank 0's last stdout line as JSON. A rank that fails or outlives `timeoutMs` ends the others.
 */
async function launch(cmd: string, cmdArgs: string[], world: number, nthreads: number, timeoutMs: number) {
  const port = await freePort();
  const procs = Array.from({ length: world }, (_, rank) =>
    spawn(cmd, cmdArgs, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(world),
        LOCAL_WORLD_SIZE: String(world),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: String(nthreads),
      },
    }),
  );
  const outs = procs.map(() => '');
  const errs = procs.map(() => '');
  procs.forEach((p, i) => {
    p.stdout.on('data', (d) => (outs[i] += d));
    p.stderr.on('data', (d) => (errs[i] += d));
  });
  const killAll = () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL'));
  const timer = setTimeout(killAll, timeoutMs);
  const codes = await Promise.all(
    procs.map(
      (p) =>
        new Promise<number | string>((resolve) =>
          p.on('exit', (code, signal) => {
            if (code !== 0) killAll();
            resolve(code ?? String(signal));
          }),
        ),
    ),
  );
  clearTimeout(timer);
  const bad = codes.findIndex((c) => c !== 0);
  if (bad >= 0) {
    const why =
      errs[bad].trim().split('\n').slice(-3).join(' | ') || `exit ${codes[bad]} (timeout ${timeoutMs / 1000} s?)`;
    throw new Error(`rank ${bad} of ${world} failed: ${why}`);
  }
  return JSON.parse(outs[0].trim().split('\n').pop() as string) as Record<string, number>;
}

/**
 * The two-process data-parallel step against the one-process step at the same global batch (128), for ltkit
 * (GradReducer) and PyTorch (DDP, Gloo), 1 thread per process, ltkit's memory format on both sides.
 */
async function benchDataParallel(steps: number) {
  const why = whyNoDist();
  if (why) return { skipped: `no process groups in this build: ${why}` };
  const mf = CHANNELS_LAST_DEFAULT ? 'cl-fp32' : 'nchw-fp32';
  const ltScript = path.resolve(__dirname, 'dist-step.js');
  const ltArgs = (batch: number) => [
    ltScript,
    '--batch',
    String(batch),
    '--steps',
    String(steps),
    '--threads',
    '1',
    ...(CHANNELS_LAST_DEFAULT ? [] : ['--nchw']),
  ];
  const pyArgs = (mode: string, batch: number) => [
    PY_SCRIPT,
    mode,
    '--threads',
    '1',
    '--batch',
    String(batch),
    '--steps',
    String(steps),
    '--modes',
    mf,
  ];
  const timeout = (quick ? 5 : 15) * 60 * 1000;
  const attempt = async <T>(fn: () => Promise<T>): Promise<T | { error: string }> => {
    try {
      return await fn();
    } catch (e) {
      return { error: (e as Error).message };
    }
  };
  const lt1 = await attempt(() => launch(process.execPath, ltArgs(128), 1, 1, timeout));
  const lt2 = await attempt(() => launch(process.execPath, ltArgs(64), 2, 1, timeout));
  const py1 = await attempt(async () => {
    const r = await launch(PYTHON, pyArgs('step', 128), 1, 1, timeout);
    return (r as unknown as { modes: Record<string, Record<string, number>> }).modes[mf];
  });
  const py2 = await attempt(() => launch(PYTHON, pyArgs('ddp', 64), 2, 1, timeout));
  const ok = (r: unknown): r is Record<string, number> => !!r && !('error' in (r as object));
  const overhead = (two: unknown, one: unknown) =>
    ok(two) && ok(one) ? two.trainMsPerStep / one.trainMsPerStep : null;
  return {
    memoryFormat: mf,
    threadsPerProcess: 1,
    globalBatch: 128,
    ltkit: { oneProcess: lt1, twoProcesses: lt2, overhead: overhead(lt2, lt1) },
    pytorch: { oneProcess: py1, twoProcesses: py2, overhead: overhead(py2, py1) },
    ratio: ok(lt2) && ok(py2) ? lt2.trainMsPerStep / py2.trainMsPerStep : null,
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

/**
 * The CPU this ran on: model name, and which of the flags that decide oneDNN's kernels and
 * `train.precision: auto` (src/engine/precision.ts) it has.
 */
function cpuInfo() {
  let model = 'unknown';
  try {
    model = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // no /proc/cpuinfo
  }
  const have = new Set(cpuFlags().split(/\s+/));
  const names = ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'];
  return {
    model,
    flags: Object.fromEntries(names.map((f) => [f, have.has(f)])) as Record<string, boolean>,
    nativeBf16: cpuHasNativeBf16(),
    autoPrecision: resolvePrecision('auto', 'cpu'),
  };
}

async function main(): Promise<void> {
  setNumThreads(threads);
  const rt = runtimeInfo();
  const cpu = cpuInfo();
  const steps = quick ? 4 : 10;
  const lib = { version: rt.torchVersion, folder: libtorchFolder() };
  const py = pytorchInfo();
  const ltMode: StepMode = { channelsLast: CHANNELS_LAST_DEFAULT, precision: 'fp32' };
  say(
    'ltkit bench. ratio = ltkit time / PyTorch time in the SAME memory format and precision (< 1: ltkit faster); ' +
      'PyTorch with its defaults (NCHW fp32) is shown for reference only; two-process overhead = 2-process step ' +
      'time / 1-process step time at the same global batch. Medians over repeated steps, warm-up excluded, ' +
      'same thread count on both sides.',
  );
  say(`ltkit: libtorch ${lib.version} (${lib.folder}), Node ${process.version}, ${threads} threads`);
  say(
    `PyTorch: ${py ? `${py.version} (${py.folder}, ${PYTHON})` : `not found (${PYTHON} lacks torch)`}, ${threads} threads`,
  );
  say(
    `CPU: ${cpu.model}; ${Object.entries(cpu.flags)
      .map(([f, on]) => `${f} ${on ? 'yes' : 'no'}`)
      .join(', ')} → train.precision auto = ${cpu.autoPrecision}`,
  );
  const minor = (v: string) => v.split('.').slice(0, 2).join('.');
  if (py && minor(py.version) !== minor(lib.version)) {
    say(
      `Note: ltkit runs libtorch ${lib.version} and PyTorch is ${py.version}: the ratios compare versions too ` +
        '(LTKIT_BENCH_PYTHON=<python with the same torch> compares like with like)',
    );
  }
  say(
    `ltkit mode: ${modeWords(ltMode)} (${CHANNELS_LAST_DEFAULT ? 'the trainer default; --nchw for NCHW' : '--nchw'})`,
  );
  const load = os.loadavg()[0];
  say(
    `Load average at start: ${fmt(load, 2)} on ${os.cpus().length} CPUs` +
      (load > 0.75 * os.cpus().length ? ' (busy: these timings are unreliable; run again on an idle machine)' : ''),
  );
  const result: Record<string, unknown> = {
    comparison:
      'ratio = ltkit / PyTorch in the same memory format and precision; overhead = 2-process / 1-process step time at global batch 128',
    threads,
    libtorch: lib,
    pytorch: py,
    node: process.version,
    ltkitChannelsLast: CHANNELS_LAST_DEFAULT,
    cpu,
    loadAverageAtStart: load,
  };

  if (memoryOnly) {
    say('\nMemory (resident set size) over library loops:');
    result.memory = await benchMemory();
    if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }

  // ---------------------------------------------------------------- fp32 step, and bf16 where native
  const bf16: StepMode = { channelsLast: CHANNELS_LAST_DEFAULT, precision: 'bf16' };
  const pyModes = [...new Set(['nchw-fp32', modeName(ltMode), ...(cpu.nativeBf16 ? [modeName(bf16)] : [])])];
  const measured: { lt: LtStep; ltBf16: LtStep | null; py: PyResult }[] = [];
  for (let r = 0; r < rounds; r++) {
    measured.push({
      lt: benchStep(steps, ltMode),
      ltBf16: cpu.nativeBf16 ? benchStep(steps, bf16) : null,
      // The kernel split is printed for the same-mode rows only: the NCHW reference is not profiled.
      py: python('step', [
        '--steps',
        String(steps),
        '--modes',
        pyModes.join(','),
        '--kernel-modes',
        [modeName(ltMode), ...(cpu.nativeBf16 ? [modeName(bf16)] : [])].join(','),
      ]),
    });
  }
  const pyStep = measured.find((m) => 'error' in m.py)?.py ?? measured[0].py;
  const pyMode = (py: PyResult, m: StepMode): Record<string, number> | undefined =>
    'error' in py ? undefined : py.modes[modeName(m)];
  const nchw: StepMode = { channelsLast: false, precision: 'fp32' };
  say(
    `\nResNet-32 train step and eval forward (batch 128, CE, SGD; median of ${steps} after 2 warm-up` +
      `${rounds > 1 ? `, ltkit and PyTorch alternating ${rounds} times: medians over the rounds` : ''}):`,
  );
  if ('error' in pyStep) say(`  PyTorch: ${pyStep.error}`);
  const fp32Ratios = stepRows(
    measured.map((m) => ({ lt: m.lt, same: pyMode(m.py, ltMode), dflt: pyMode(m.py, nchw) })),
  );
  const lt = medianOfRounds(measured.map((m) => m.lt));
  const pyMedian = (m: StepMode) =>
    'error' in pyStep ? pyStep : medianOfRounds(measured.map((x) => pyMode(x.py, m) as Record<string, number>));
  result.resnet32Step = {
    rounds,
    ltkit: lt,
    pytorchDefaults: pyMedian(nchw),
    pytorchSameMode: pyMedian(ltMode),
    ...fp32Ratios,
  };
  say(`\nThe same in bf16 autocast (${modeWords(bf16)}):`);
  if (cpu.nativeBf16) {
    const ltBf16 = medianOfRounds(measured.map((m) => m.ltBf16 as LtStep));
    const r = stepRows(measured.map((m) => ({ lt: m.ltBf16 as LtStep, same: pyMode(m.py, bf16) })));
    const pyB = pyMedian(bf16) as Record<string, number>;
    const pyF = pyMedian(ltMode) as Record<string, number>;
    say(
      `  bf16 / fp32 step time: ltkit ${fmt(ltBf16.trainMsPerStep / lt.trainMsPerStep, 3)}` +
        ('error' in pyStep ? '' : `, PyTorch ${fmt(pyB.trainMsPerStep / pyF.trainMsPerStep, 3)}`),
    );
    result.bf16Step = { ltkit: ltBf16, pytorchSameMode: pyMedian(bf16), ...r };
  } else {
    say('  skipped: no native bf16 (the CPU has neither avx512_bf16 nor amx_bf16)');
    result.bf16Step = { skipped: 'no native bf16' };
  }

  // ---------------------------------------------------------------- two-process data parallel
  say(
    `\nTwo-process data-parallel step (ResNet-32, global batch 128 = 2 × 64, ${modeWords(ltMode)}, 1 thread per process):`,
  );
  if (skipDp) {
    say('  skipped (--skip-dp)');
    result.dataParallel = { skipped: '--skip-dp' };
  } else {
    const dp = await benchDataParallel(quick ? 4 : 8);
    result.dataParallel = dp;
    if ('skipped' in dp) say(`  skipped: ${dp.skipped}`);
    else {
      const line = (who: string, r: unknown) =>
        say(
          `  ${who.padEnd(62)} ` +
            (r && !('error' in (r as object))
              ? `${fmt((r as Record<string, number>).trainMsPerStep).padStart(7)} ms/step`
              : `failed: ${(r as { error: string }).error}`),
        );
      line('ltkit   1 process × 128', dp.ltkit.oneProcess);
      line('ltkit   2 processes × 64 (GradReducer, Gloo)', dp.ltkit.twoProcesses);
      line('PyTorch 1 process × 128', dp.pytorch.oneProcess);
      line('PyTorch 2 processes × 64 (DDP, Gloo; BN buffers per process)', dp.pytorch.twoProcesses);
      const o = (x: number | null) => (x === null ? 'n/a' : fmt(x, 3));
      say(
        `  two-process overhead (2-proc / 1-proc step time): ltkit ${o(dp.ltkit.overhead)}, PyTorch DDP ` +
          `${o(dp.pytorch.overhead)} (target: ltkit's ≤ PyTorch's); ratio ltkit / PyTorch 2-process step ${o(dp.ratio)}`,
      );
    }
  }

  // ---------------------------------------------------------------- augmentation, epoch, memory
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
    const pe = python('epoch', ['--images', String(images), '--workers', '2', '--modes', modeName(ltMode)]);
    const ratio = 'error' in pe ? null : le.epochSeconds / Number(pe.epochSeconds);
    result.epoch = { ltkit: le, pytorch: pe, ratio };
    say(`\nOne epoch, ResNet-32, ${images} synthetic CIFAR-sized images with augmentation:`);
    say(`  ltkit   ${le.epochSeconds.toFixed(1)} s (${le.steps} steps, training core, ${modeWords(ltMode)})`);
    if ('error' in pe) say(`  pytorch ${pe.error}`);
    else {
      say(
        `  pytorch ${Number(pe.epochSeconds).toFixed(1)} s (torchvision transforms, DataLoader num_workers=2, ${modeWords(ltMode)})`,
      );
      say(`  ratio (ltkit/pytorch) ${ratio!.toFixed(3)} (same memory format and precision; target ≤ 0.9)`);
    }
  }
  say('\nMemory (resident set size) over library loops:');
  result.memory = await benchMemory();
  result.loadAverageAtEnd = os.loadavg()[0];
  say(`\nLoad average at the end: ${fmt(os.loadavg()[0], 2)}`);
  if (asJson) process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
