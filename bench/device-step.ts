// `node dist/bench/device-step.js [--device cuda] [--modes cl-fp32,cl-bf16,...] [--steps N] [--quick]
// [--json-file FILE]`: the ResNet-32 train step of `npm run bench` (bench/step.ts: batch 128, CE, SGD momentum
// 0.9, wd 2e-4) on one device, ltkit against PyTorch (bench/pytorch_bench.py step --device) in the same memory
// format and precision, the two sides alternating LTKIT_BENCH_ROUNDS times (default 3; --quick: 1).
//
// On a GPU both sides wait for the device before reading the clock (PyTorch: torch.cuda.synchronize(); ltkit:
// one element read back, which waits for the stream every kernel of the step was queued on): `ms/step` is the
// median of single steps that each start and end with an idle device; `queued` is the mean of a run of steps
// with one wait at its end, where the host may queue ahead of the GPU as a training loop does. Their difference
// shows how much of a step is the host's work (ltkit: one N-API call per operator from JS; PyTorch: its Python
// front end and foreach SGD) rather than the GPU's. Default modes: channels-last fp32, bf16 and fp16 (fp16: a
// GradScaler on both sides) and NCHW fp32 on CUDA; channels-last fp32 on the CPU (a smoke test: `npm run bench`
// is the CPU benchmark). PyTorch: $LTKIT_BENCH_PYTHON (default /usr/bin/python3, as `npm run bench`).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runtimeInfo, setNumThreads } from '../src/engine';
import { StepMode, median, modeName, modeWords, parseMode, resnet32Step, timeEach } from './step';

const args = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
}
const quick = args.includes('--quick');
const device = opt('--device') ?? 'cpu';
const cuda = device !== 'cpu';
const steps = Number(opt('--steps') ?? (quick ? 3 : 30));
const warmup = quick ? 2 : 5;
const batch = 128;
const rounds = quick ? 1 : Math.max(1, Number(process.env.LTKIT_BENCH_ROUNDS ?? 3));
const threads = Number(process.env.LTKIT_BENCH_THREADS ?? 2);
const PYTHON = process.env.LTKIT_BENCH_PYTHON || '/usr/bin/python3';
const PY_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'pytorch_bench.py');
const modes = (opt('--modes') ?? (cuda ? 'cl-fp32,cl-bf16,cl-fp16,nchw-fp32' : 'cl-fp32')).split(',');
const fmt = (x: number | null | undefined, d = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));

function deviceMode(name: string): StepMode {
  const m = parseMode(name, 'device-step --modes');
  if (m.precision === 'fp16' && !cuda) throw new Error(`device-step --modes: '${name}' needs --device cuda`);
  return m;
}

interface Side {
  trainMsPerStep: number;
  trainMsPerStepPipelined: number | null;
  evalMsPerBatch: number;
}

function ltkitSide(mode: StepMode): Side {
  const s = resnet32Step({ batch, mode, device });
  const times = timeEach(s.step, steps, warmup);
  let pipelined: number | null = null;
  if (cuda) {
    s.sync();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) s.queueStep();
    s.sync();
    pipelined = (performance.now() - t0) / steps;
  }
  s.model.eval();
  const etimes = timeEach(s.evalForward, steps, warmup);
  s.dispose();
  return { trainMsPerStep: median(times), trainMsPerStepPipelined: pipelined, evalMsPerBatch: median(etimes) };
}

function pytorchSide(): { modes: Record<string, Side>; [k: string]: unknown } {
  const out = execFileSync(
    PYTHON,
    [PY_SCRIPT, 'step', '--device', device, '--threads', String(threads), '--steps', String(steps)].concat([
      '--warmup',
      String(warmup),
      '--batch',
      String(batch),
      '--modes',
      modes.join(','),
    ]),
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads) },
    },
  );
  return JSON.parse(out.trim().split('\n').pop() as string);
}

function main(): void {
  const parsed = modes.map(deviceMode);
  const info = runtimeInfo();
  if (cuda && !info.cuda) {
    process.stderr.write(`device-step: --device ${device}, but this libtorch (${info.torchVersion}) has no CUDA\n`);
    process.exit(2);
  }
  setNumThreads(threads);
  const say = (s: string) => process.stdout.write(s + '\n');
  say(
    `ResNet-32 train step, batch ${batch}, on ${device}: ltkit (libtorch ${info.torchVersion}) against PyTorch ` +
      `(${PYTHON}); median of ${steps} steps after ${warmup} warm-up, ${rounds} round(s), ${threads} CPU thread(s)`,
  );
  const lt: Record<string, Side[]> = {};
  const py: Record<string, Side[]> = {};
  let pyInfo: Record<string, unknown> = {};
  let pyError: string | null = null;
  for (let r = 0; r < rounds; r++) {
    parsed.forEach((m, i) => (lt[modes[i]] ??= []).push(ltkitSide(m)));
    if (pyError) continue;
    try {
      const p = pytorchSide();
      for (const name of modes) (py[name] ??= []).push(p.modes[name]);
      pyInfo = Object.fromEntries(Object.entries(p).filter(([k]) => k !== 'modes'));
    } catch (e) {
      pyError = `PyTorch side failed (${PYTHON} ${PY_SCRIPT}): ${(e as Error).message.split('\n')[0]}`;
      say(`  ${pyError}`);
    }
  }
  const med = (xs: Side[] | undefined, k: keyof Side) => {
    const v = (xs ?? []).map((x) => x[k]).filter((x): x is number => typeof x === 'number');
    return v.length ? median(v) : null;
  };
  const rows: Record<string, unknown> = {};
  say(
    `  ${'mode'.padEnd(26)} ${'ltkit ms/step'.padStart(13)} ${'queued'.padStart(8)} ${'eval'.padStart(7)}` +
      `   ${'PyTorch ms/step'.padStart(15)} ${'queued'.padStart(8)} ${'eval'.padStart(7)}   ratio (rounds)`,
  );
  for (const m of parsed) {
    const name = modeName(m);
    const l = lt[name];
    const p = py[name];
    const ratios = p ? l.map((x, k) => x.trainMsPerStep / p[k].trainMsPerStep) : [];
    const row = {
      mode: name,
      ltkit: {
        trainMsPerStep: med(l, 'trainMsPerStep'),
        trainMsPerStepPipelined: med(l, 'trainMsPerStepPipelined'),
        evalMsPerBatch: med(l, 'evalMsPerBatch'),
      },
      pytorch: p
        ? {
            trainMsPerStep: med(p, 'trainMsPerStep'),
            trainMsPerStepPipelined: med(p, 'trainMsPerStepPipelined'),
            evalMsPerBatch: med(p, 'evalMsPerBatch'),
          }
        : null,
      ratio: p ? (med(l, 'trainMsPerStep') as number) / (med(p, 'trainMsPerStep') as number) : null,
      roundRatios: ratios,
    };
    rows[name] = row;
    say(
      `  ${modeWords(m).padEnd(26)} ${fmt(row.ltkit.trainMsPerStep).padStart(13)} ${fmt(row.ltkit.trainMsPerStepPipelined).padStart(8)} ` +
        `${fmt(row.ltkit.evalMsPerBatch).padStart(7)}   ${fmt(row.pytorch?.trainMsPerStep).padStart(15)} ` +
        `${fmt(row.pytorch?.trainMsPerStepPipelined).padStart(8)} ${fmt(row.pytorch?.evalMsPerBatch).padStart(7)}   ` +
        `${fmt(row.ratio, 3)}${ratios.length > 1 ? ` (${ratios.map((x) => fmt(x, 3)).join(', ')})` : ''}`,
    );
  }
  say(
    '  ratio = ltkit / PyTorch ms/step in the same mode (< 1: ltkit faster); queued: steps with one device wait at the end',
  );
  const result = {
    device,
    batch,
    steps,
    warmup,
    rounds,
    threads,
    ltkit: { libtorch: info.torchVersion, cudaDevices: info.cudaDevices },
    pytorch: pyError ? { error: pyError } : pyInfo,
    modes: rows,
  };
  const file = opt('--json-file');
  if (file) fs.writeFileSync(file, JSON.stringify(result, null, 1) + '\n');
  if (pyError) process.exitCode = 1;
}

main();
