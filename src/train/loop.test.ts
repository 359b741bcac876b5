// The one loop (train/loop.ts) and the trainer's hooks (train/hooks.ts): hook order, a dictionary of loss
// terms backpropagated as their sum and logged term by term, errors that name the term, stop requests, and
// the trainer's documented hook order seen from a user hook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Tensor, tensor, noGrad, tidy, memory } from '../engine';
import { SGD } from '../optim';
import type { BatchStream, Task, TrainingStage } from '../core/task';
import { localContext } from '../core/context';
import { runStage, Hook, EpochLog } from './loop';
import { lrSchedule } from './hooks';
import { train } from './trainer';
import { settledMemory } from '../engine/test-support';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-loop-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

/** Batches of sizes `sizes` (values are the batch index), the same every epoch. */
function stream(sizes: number[]): BatchStream<{ x: number; size: number }> {
  return {
    numBatches: () => sizes.length,
    *epoch() {
      for (let i = 0; i < sizes.length; i++) yield { x: i + 1, size: sizes[i] };
    },
  };
}

/** One parameter w (start 1); terms a = w·x and b = 2·w·x per batch. */
function twoTermStage(o: { epochs: number; sizes: number[]; bad?: boolean }) {
  const w = tensor([1]).requiresGrad_(true).keep();
  const optimizer = new SGD([w], { lr: 0.1 });
  const task: Task<{ x: number; size: number }> = {
    batches: stream(o.sizes),
    beginEpoch: (e) => ({ epochSeen: e.epoch }),
    step(b) {
      const a = w.mul(b.x).sum();
      const c = o.bad && b.x === 2 ? a.mul(Infinity) : w.mul(2 * b.x).sum();
      return { losses: { a, consistency: c }, size: b.size, correct: b.size - 1 };
    },
  };
  const stage: TrainingStage = {
    name: 'toy',
    epochs: o.epochs,
    task,
    optimizer,
    lrAt: (epoch, step) => 0.1 / (1 + epoch + step),
    evalEvery: 1,
    selectBest: false,
    dispose: () => optimizer.dispose(),
  };
  return { w, stage };
}

const run = (stage: TrainingStage, hooks: Hook[], control = { stopRequested: false }) =>
  runStage(stage, { stageIndex: 0, from: 0, seed: 1, hooks: [lrSchedule(), ...hooks], control, ctx: localContext() });

test('the loop: hooks in order, the sum of the loss terms backpropagated, each term logged', async () => {
  const before = settledMemory().numTensors;
  const { w, stage } = twoTermStage({ epochs: 2, sizes: [3, 1] });
  const events: string[] = [];
  const logs: EpochLog[] = [];
  const recorder = (tag: string): Hook => ({
    onEpochBegin: (e) => events.push(`${tag}:epochBegin ${e.epoch} steps=${e.steps}`),
    onStepBegin: (s) => void events.push(`${tag}:stepBegin ${s.epoch}.${s.step}`),
    onStepEnd: (s) => events.push(`${tag}:stepEnd ${s.epoch}.${s.step} lr=${s.lr.toFixed(4)}`),
    onEpochEnd: (l) => {
      events.push(`${tag}:epochEnd ${l.epoch}`);
      if (tag === 'A') logs.push(l);
    },
  });
  assert.equal(await run(stage, [recorder('A'), recorder('B')]), true);
  const epoch = (e: number) => [
    `A:epochBegin ${e} steps=2`,
    `B:epochBegin ${e} steps=2`,
    ...[0, 1].flatMap((s) => [
      `A:stepBegin ${e}.${s}`,
      `B:stepBegin ${e}.${s}`,
      `A:stepEnd ${e}.${s} lr=${(0.1 / (1 + e + s)).toFixed(4)}`,
      `B:stepEnd ${e}.${s} lr=${(0.1 / (1 + e + s)).toFixed(4)}`,
    ]),
    `A:epochEnd ${e}`,
    `B:epochEnd ${e}`,
  ];
  assert.deepEqual(events, [...epoch(0), ...epoch(1)]);

  // d(a + consistency)/dw = 3x, so w ← w − lr·3x at every step (SGD without momentum).
  let want = 1;
  const terms: { a: number; consistency: number }[] = [];
  for (let e = 0; e < 2; e++) {
    const sum = { a: 0, consistency: 0 };
    [3, 1].forEach((size, s) => {
      const x = s + 1;
      sum.a += want * x * size;
      sum.consistency += 2 * want * x * size;
      want -= (0.1 / (1 + e + s)) * 3 * x;
    });
    terms.push({ a: sum.a / 4, consistency: sum.consistency / 4 });
  }
  assert.ok(Math.abs(w.toList()[0] - want) < 1e-6, `w = ${w.toList()[0]}, want ${want}`);
  logs.forEach((l, e) => {
    assert.deepEqual(Object.keys(l.lossTerms), ['a', 'consistency']);
    assert.ok(Math.abs(l.lossTerms.a - terms[e].a) < 1e-5, `epoch ${e} term a`);
    assert.ok(Math.abs(l.lossTerms.consistency - terms[e].consistency) < 1e-5, `epoch ${e} consistency`);
    assert.ok(Math.abs(l.loss - (terms[e].a + terms[e].consistency)) < 1e-5, 'loss = the sum of the terms');
    assert.equal(l.trainAcc, 2 / 4, 'correct counts summed over the epoch');
    assert.deepEqual(l.plan, { epochSeen: e }, "beginEpoch's report is the epoch's plan");
    assert.equal(l.stage, 'toy');
  });
  stage.dispose();
  w.dispose();
  assert.equal(memory().numTensors, before, 'the loop leaves no live tensors');
});

test('the loop: a non-finite term is named; no lr hook is an error; a stop ends the epoch unlogged', async () => {
  const bad = twoTermStage({ epochs: 1, sizes: [2, 2], bad: true });
  await assert.rejects(run(bad.stage, []), /toy: loss term 'consistency' is Infinity at epoch 1, step 2/);
  const noLr = twoTermStage({ epochs: 1, sizes: [2] });
  await assert.rejects(
    runStage(noLr.stage, {
      stageIndex: 0,
      from: 0,
      seed: 0,
      hooks: [],
      control: { stopRequested: false },
      ctx: localContext(),
    }),
    /no hook set the learning rate/,
  );
  const s = twoTermStage({ epochs: 3, sizes: [1, 1, 1] });
  const control = { stopRequested: false };
  const ended: number[] = [];
  const steps: string[] = [];
  const done = await run(
    s.stage,
    [
      {
        onStepEnd: (x) => {
          steps.push(`${x.epoch}.${x.step}`);
          if (x.epoch === 1 && x.step === 0) control.stopRequested = true;
        },
        onEpochEnd: (l) => void ended.push(l.epoch),
      },
    ],
    control,
  );
  assert.equal(done, false);
  assert.deepEqual(steps, ['0.0', '0.1', '0.2', '1.0'], 'stops after the current step');
  assert.deepEqual(ended, [0], 'the cut epoch is not logged');
  for (const x of [bad, noLr, s]) {
    x.stage.dispose();
    x.w.dispose();
  }
});

test("the trainer's hooks, as a user hook sees them: evaluated, logged and checkpointed before it runs", async () => {
  const seen: string[] = [];
  const outDir = OUT;
  const name = 'order';
  const user: Hook = {
    onEpochEnd(log) {
      const dir = path.join(outDir, name);
      const lines = fs
        .readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'latest.json'), 'utf8'));
      const state = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', manifest.id, 'state.json'), 'utf8'));
      seen.push(
        `${log.stage} ${log.epoch}: test=${typeof log.test?.top1} logged=${lines[lines.length - 1].epoch} ` +
          `checkpoint=${state.epoch} sampler=${log.plan?.sampler} weights=${log.plan?.classWeights === null ? 'none' : 'cb'}`,
      );
    },
  };
  const stageEnds: string[] = [];
  const r = await train(
    {
      name,
      outDir,
      data: { dataset: 'synthetic', synthetic: { size: 8, testPerClass: 2 } },
      model: { name: 'resnet8' },
      method: { recipe: 'ce+drw+drs' },
      schedule: { warmupEpochs: 1 },
      train: { epochs: 5, batchSize: 8, maxStepsPerEpoch: 1, progress: 'off' },
    },
    { hooks: [user, { onStageEnd: (s) => void stageEnds.push(s.name) }] },
  );
  assert.equal(r.status, 'completed');
  // DRW and DRS switch together at floor(0.8 · 5) = 4.
  assert.deepEqual(seen, [
    'train 0: test=number logged=0 checkpoint=0 sampler=instance weights=none',
    'train 1: test=number logged=1 checkpoint=1 sampler=instance weights=none',
    'train 2: test=number logged=2 checkpoint=2 sampler=instance weights=none',
    'train 3: test=number logged=3 checkpoint=3 sampler=instance weights=none',
    'train 4: test=number logged=4 checkpoint=4 sampler=class-balanced weights=cb',
  ]);
  assert.deepEqual(stageEnds, ['train']);
});

test('a task sees the execution context; tensors made in a step are freed with it', async () => {
  const before = settledMemory().numTensors;
  const w = tensor([0.5]).requiresGrad_(true).keep();
  const optimizer = new SGD([w], { lr: 0.01 });
  const devices: string[] = [];
  const stage: TrainingStage = {
    name: 'ctx',
    epochs: 1,
    task: {
      batches: stream([1, 1]),
      step(_b, e) {
        devices.push(`${e.ctx.device} ${e.ctx.rank}/${e.ctx.worldSize} main=${e.ctx.isMain}`);
        const junk: Tensor[] = [tensor([1, 2, 3]), noGrad(() => tidy(() => tensor([4]).add(1)))];
        return { losses: { l: w.mul(junk[0].sum()).sum() }, size: 1 };
      },
    },
    optimizer,
    lrAt: () => 0.01,
    evalEvery: 0,
    selectBest: false,
    dispose: () => optimizer.dispose(),
  };
  await run(stage, []);
  assert.deepEqual(devices, ['cpu 0/1 main=true', 'cpu 0/1 main=true']);
  stage.dispose();
  w.dispose();
  assert.equal(memory().numTensors, before);
});

test('the samples each epoch really saw: DRS switches to class-balanced, cRT samples class-aware', async () => {
  const seen: { stage: string; epoch: number; sampler: unknown; seen: number[] }[] = [];
  const r = await train(
    {
      name: 'seen',
      outDir: OUT,
      data: { dataset: 'synthetic', synthetic: { size: 8, testPerClass: 2 } }, // 24, 5, 2, 2 images
      model: { name: 'resnet8' },
      method: { recipe: 'ce+drs+crt', crt: { epochs: 1 } },
      schedule: { warmupEpochs: 1 },
      train: { epochs: 5, batchSize: 33, progress: 'off' },
    },
    {
      hooks: [
        {
          onEpochEnd: (l) =>
            void seen.push({
              stage: l.stage,
              epoch: l.epoch,
              sampler: l.plan?.sampler,
              seen: l.plan?.seenPerClass as number[],
            }),
        },
      ],
    },
  );
  assert.equal(r.status, 'completed');
  // Instance sampling visits every image once: exactly the class counts.
  for (const s of seen.filter((x) => x.stage === 'train' && x.epoch < 4)) {
    assert.equal(s.sampler, 'instance');
    assert.deepEqual(s.seen, [24, 5, 2, 2], `epoch ${s.epoch}`);
  }
  // From floor(0.8 · 5) = 4, class-balanced draws (with replacement): the head no longer dominates.
  const drs = seen.find((x) => x.stage === 'train' && x.epoch === 4)!;
  assert.equal(drs.sampler, 'class-balanced');
  assert.equal(
    drs.seen.reduce((a, b) => a + b, 0),
    33,
  );
  assert.ok(drs.seen[0] < 16 && drs.seen[2] + drs.seen[3] > 8, `class-balanced epoch saw ${drs.seen}`);
  // cRT: class-aware sampling, 4 images per class visit, every class equally often (max count · C draws).
  const crt = seen.find((x) => x.stage === 'crt')!;
  assert.equal(crt.sampler, 'class-aware');
  assert.deepEqual(crt.seen, [24, 24, 24, 24]);
});
