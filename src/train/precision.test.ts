// train.precision (engine/amp.ts through the execution context): the config key and its refusal of fp16 on
// CPU, `auto` decided by the CPU's flags, a bf16 run end to end through the CLI (run.json records the resolved
// precision, the losses are finite, `ltkit eval` reproduces the run's numbers under the same autocast), and the
// fp16 gradient scaler's state in a checkpoint's state.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli, tinyRunSets } from '../cli/test-util';
import { resolveConfig, applyOverrides, ConfigError } from './config';
import { localContext } from '../core/context';
import sharp from 'sharp';
import {
  autocastState,
  cpuHasNativeBf16,
  crossEntropyLoss,
  linear,
  noGrad,
  randn,
  softmax,
  tensor,
  tidy,
} from '../engine';
import { forwardLogits } from './classification';
import { loadRunModel } from './run-model';
import { SGD } from '../optim';
import { checkpoints, lrSchedule } from './hooks';
import type { Task, TrainingStage } from '../core/task';
import { createModel } from '../models';
import { loadStage } from './trainer';
import { runStage, stageScaler, existingScaler } from './loop';
import type { EpochLog } from './loop';
import { RunDir, RunStateSchema, parseRunFile } from './run-dir';
import type { RunState } from './run-dir';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-precision-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const ZEN4 = 'fpu sse2 avx avx2 avx512f avx512bw avx512_bf16';
const AVX2 = 'fpu sse2 avx avx2 fma';

test('config: train.precision defaults to fp32; fp16 on CPU and unknown values are refused naming the key', () => {
  assert.equal(resolveConfig({}).train.precision, 'fp32');
  assert.equal(resolveConfig(applyOverrides({}, ['train.precision=auto'])).train.precision, 'auto');
  assert.throws(
    () => resolveConfig(applyOverrides({}, ['train.precision=fp16'])),
    (e: Error) =>
      e instanceof ConfigError && /train\.precision: 'fp16' needs a CUDA device \(device is 'cpu'\)/.test(e.message),
  );
  assert.equal(resolveConfig({ device: 'cuda:0', train: { precision: 'fp16' } }).train.precision, 'fp16');
  assert.throws(
    () => resolveConfig({ train: { precision: 'fp8' } }),
    /train\.precision: 'fp8' is not allowed \(allowed: fp32, bf16, fp16, auto\)/,
  );
});

test("the execution context resolves 'auto' by the CPU's flags (injected) and refuses fp16 on CPU", () => {
  assert.equal(localContext().precision, 'fp32');
  assert.equal(localContext({ precision: 'auto', cpuFlags: ZEN4 }).precision, 'bf16');
  assert.equal(localContext({ precision: 'auto', cpuFlags: AVX2 }).precision, 'fp32');
  assert.equal(localContext({ precision: 'bf16', cpuFlags: AVX2 }).precision, 'bf16');
  assert.equal(localContext({ precision: 'auto' }).precision, cpuHasNativeBf16() ? 'bf16' : 'fp32', 'this machine');
  assert.throws(() => localContext({ precision: 'fp16' }), /fp16.*CUDA/);
});

test('the loop runs task.step under bf16 autocast; backward, the optimizer and afterStep outside it', async () => {
  const w = randn([2, 3]).requiresGrad_().keep();
  const optimizer = new SGD([w], { lr: 0.1 });
  const seen: string[] = [];
  const task: Task<number> = {
    batches: {
      numBatches: () => 2,
      *epoch() {
        yield 1;
        yield 2;
      },
    },
    step(b) {
      const logits = linear(randn([4, 3]).mul(b), w); // [4, 2]
      seen.push(`step autocast=${autocastState().enabled} logits=${logits.dtype}`);
      const loss = crossEntropyLoss(logits, tensor([0, 1, 0, 1], [4], 'int64'));
      return { losses: { ce: loss }, size: 4 };
    },
    afterStep() {
      seen.push(`afterStep autocast=${autocastState().enabled} grad=${w.grad?.dtype}`);
    },
  };
  const stage: TrainingStage = {
    name: 'toy',
    epochs: 1,
    task,
    optimizer,
    lrAt: () => 0.1,
    evalEvery: 1,
    selectBest: false,
    dispose: () => optimizer.dispose(),
  };
  const before = w.toList();
  const ctx = localContext({ precision: 'bf16' });
  const control = { stopRequested: false };
  assert.equal(await runStage(stage, { stageIndex: 0, from: 0, seed: 1, hooks: [lrSchedule()], control, ctx }), true);
  assert.deepEqual(seen, [
    'step autocast=true logits=bfloat16',
    'afterStep autocast=false grad=float32',
    'step autocast=true logits=bfloat16',
    'afterStep autocast=false grad=float32',
  ]);
  assert.equal(w.dtype, 'float32');
  assert.notDeepEqual(w.toList(), before, 'the float32 weights were updated');
  assert.equal(autocastState().enabled, false);
  stage.dispose();
  w.dispose();
});

test('a bf16 run trains through the CLI: run.json says bf16, losses are finite, eval reproduces its numbers', async () => {
  const sets = [...tinyRunSets(OUT), 'train.precision=bf16'].flatMap((s) => ['--set', s]);
  const r = await runCli(['train', ...sets, '--name', 'bf16']);
  assert.equal(r.code, 0, r.stderr);
  const dir = path.join(OUT, 'bf16');
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(run.status, 'completed');
  assert.equal(run.precision, 'bf16', 'the resolved precision');
  assert.equal(run.config.train.precision, 'bf16');
  const epochs = fs
    .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'epoch');
  assert.equal(epochs.length, 2);
  for (const l of epochs) assert.ok(Number.isFinite(l.loss) && l.loss > 0, `finite loss ${l.loss}`);
  const final = JSON.parse(fs.readFileSync(path.join(dir, 'final-metrics.json'), 'utf8'));
  const ev = await runCli(['eval', '--run', dir, '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const evr = JSON.parse(ev.stdout);
  assert.deepEqual(evr.summary.confusion, final.final.confusion, 'eval under the run’s bf16 autocast');

  // `predict` too: its probabilities are the bf16-autocast forward's, not an fp32 forward's.
  const [h, w] = [8, 8];
  const pixels = Uint8Array.from({ length: h * w * 3 }, (_, i) => (i * 53) % 256);
  const png = path.join(OUT, 'bf16-input.png');
  await sharp(Buffer.from(pixels), { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(png);
  const pr = await runCli(['predict', '--run', dir, '--top', '4', '--json', png]);
  assert.equal(pr.code, 0, pr.stderr);
  const got = (JSON.parse(pr.stdout).predictions[0].top as { classIndex: number; probability: number }[]).sort(
    (a, b) => a.classIndex - b.classIndex,
  );
  const loaded = loadRunModel(dir);
  try {
    const probs = (precision: 'bf16' | 'fp32') =>
      noGrad(() =>
        tidy(() => {
          const x = loaded.pipes.test(tensor(pixels, [1, h, w, 3], 'uint8'));
          loaded.model.eval();
          return softmax(forwardLogits(loaded.model, x, { precision, device: 'cpu' }), 1).toList() as number[];
        }),
      );
    const [bf16, fp32] = [probs('bf16'), probs('fp32')];
    got.forEach((g, c) =>
      assert.ok(Math.abs(g.probability - bf16[c]) < 1e-6, `class ${c}: ${g.probability} vs ${bf16[c]}`),
    );
    assert.ok(Math.max(...bf16.map((p, c) => Math.abs(p - fp32[c]))) > 1e-6, 'bf16 and fp32 forwards differ here');
  } finally {
    loaded.model.dispose();
  }
});

test("the fp16 gradient scaler's state is saved in the checkpoint's state.json and loads back", () => {
  const stage = {
    name: 'train',
    epochs: 2,
    task: null,
    optimizer: null,
    lrAt: () => 0.1,
    evalEvery: 1,
    selectBest: false,
    dispose: () => undefined,
  } as TrainingStage;
  assert.equal(existingScaler(stage), null, 'no scaler until fp16 asks for one');
  const scaler = stageScaler(stage);
  assert.equal(stageScaler(stage), scaler, 'one per stage');
  scaler.loadStateDict({ ...scaler.stateDict(), scale: 1024, growthTracker: 17 });
  const model = createModel('resnet-tiny', { numClasses: 2 });
  const run = new RunDir(path.join(OUT, 'scaler-run'));
  const store = run.checkpoints;
  const state: RunState = { stagesDone: 0, epoch: 0, best: null, stages: [] };
  checkpoints(state, { model, store, every: 1 }).onEpochEnd?.({ epoch: 0 } as EpochLog, stage);
  const saved = parseRunFile(RunStateSchema, store.read('state.json').toString('utf8'), 'state.json');
  assert.deepEqual(saved.scaler, scaler.stateDict());
  // What --resume does with that checkpoint (the trainer's loadStage): the scaler comes back.
  const resumed = { ...stage } as TrainingStage;
  loadStage(run, model, resumed, saved);
  assert.equal(stageScaler(resumed).getScale(), 1024);
  assert.equal(stageScaler(resumed).stateDict().growthTracker, 17);
  // A stage without a scaler (fp32/bf16) writes none.
  state.epoch = 1;
  checkpoints(state, { model, store, every: 1 }).onEpochEnd?.({ epoch: 1 } as EpochLog, { ...stage } as TrainingStage);
  const plain = parseRunFile(RunStateSchema, store.read('state.json').toString('utf8'), 'state.json');
  assert.equal(plain.scaler, undefined);
  model.dispose();
});
