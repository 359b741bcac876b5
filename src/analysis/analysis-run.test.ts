// The analyses in a run (hooks.ts, wired in src/train/trainer.ts): a run trains identically with and without
// them, analysis.jsonl holds the configured lines, a resumed run's analysis.jsonl equals an uninterrupted
// run's, and bad `analysis` settings are errors naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadSafetensors, dispose } from '../engine';
import { train } from '../train/trainer';
import { resolveConfig, TrainConfigInput } from '../train/config';
import { buildTrainData } from '../data/train-data';
import { RunDir } from '../train/run-dir';
import { ANALYSIS_FILE, AnalysisRecord } from './records';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-analysis-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const ALL = { progress: true, gradNorms: { at: 'layer1' }, deviation: { epochs: [1, 3], R: 20 }, every: 2 };

const config = (
  name: string,
  analysis?: TrainConfigInput['analysis'],
  over: Partial<TrainConfigInput['train']> = {},
): TrainConfigInput => ({
  name,
  outDir: OUT,
  seed: 5,
  data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 3, imgMax: 12, testPerClass: 3 } },
  model: { name: 'resnet8' },
  method: { recipe: 'mfw+drw' },
  schedule: { warmupEpochs: 1 },
  train: { epochs: 4, batchSize: 8, maxStepsPerEpoch: 2, progress: 'off', ...over },
  ...(analysis === undefined ? {} : { analysis }),
});

function latestModel(runDir: string): Record<string, number[]> {
  const m = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8'));
  const t = loadSafetensors(path.join(runDir, 'checkpoints', m.id, 'model.safetensors'));
  const out = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Array.from(v.toArray() as ArrayLike<number>)]));
  dispose(t);
  return out;
}

const TIMING = new Set(['seconds', 'imgPerSec']);
const untimed = (r: object) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING.has(k)));
const metrics = (runDir: string) => RunDir.open(runDir).readMetrics().map(untimed);
const analysis = (runDir: string): AnalysisRecord[] => RunDir.open(runDir).readAnalysis();

test('a run trains identically with and without the analyses; analysis.jsonl holds the configured lines', async () => {
  const data = buildTrainData(resolveConfig(config('x')).data);
  const plain = await train(config('plain', undefined, { evalEvery: 3 }), { data });
  // evalEvery 3: after epochs 1, 2 the analyses find the model in train mode (no evaluation before them).
  const analysed = await train(config('analysed', ALL, { evalEvery: 3 }), { data });
  assert.deepEqual(latestModel(analysed.runDir), latestModel(plain.runDir), 'final weights and BN statistics');
  assert.deepEqual(metrics(analysed.runDir), metrics(plain.runDir), 'metrics.jsonl (timing aside)');
  assert.ok(!fs.existsSync(path.join(plain.runDir, ANALYSIS_FILE)), 'no analysis.jsonl when none is asked for');

  const lines = analysis(analysed.runDir);
  const kinds = lines.map((r) => `${r.type}@${r.epoch}`);
  // every: 2 → after epochs 2 and 4 (0-based 1, 3); deviation after epochs 1 and 3 (0-based 0, 2).
  assert.deepEqual(kinds, ['deviation@0', 'progress@1', 'gradNorm@1', 'deviation@2', 'progress@3', 'gradNorm@3']);
  const counts = RunDir.open(analysed.runDir).readRun().data.clsNumList;
  for (const r of lines) {
    assert.equal(r.stage, 'train');
    if (r.type === 'progress') {
      // Every image is predicted as some class: Σ_c ratio_c · N_c = N; accuracy_c ≤ ratio_c.
      const predicted = r.ratio.reduce((a: number, v, c) => a + (v as number) * counts[c], 0);
      assert.ok(Math.abs(predicted - counts.reduce((a, b) => a + b, 0)) < 1e-9);
      r.accuracy.forEach((v, c) => assert.ok(v !== null && v <= (r.ratio[c] as number) + 1e-12));
    }
    if (r.type === 'gradNorm') assert.ok(r.at === 'layer1' && r.perClass.every((v) => v !== null && v > 0));
    if (r.type === 'deviation') {
      assert.ok(r.R === 20 && r.K === Math.min(...counts) && r.perClass.every((v) => v !== null && v >= 0));
    }
  }
});

test('resume: analysis.jsonl equals an uninterrupted run’s (lines of redone epochs dropped)', async () => {
  const data = buildTrainData(resolveConfig(config('x')).data);
  const a = await train(config('A', ALL), { data });
  // A checkpoint every 2 epochs, stopped after 3: epoch 3's line (deviation@2) is written but its epoch is
  // redone on resume, so the resume must drop it.
  const b1 = await train(config('B', ALL, { checkpointEvery: 2 }), { data, stopAfterEpochs: 3 });
  assert.equal(b1.status, 'interrupted');
  assert.deepEqual(
    analysis(b1.runDir).map((r) => `${r.type}@${r.epoch}`),
    ['deviation@0', 'progress@1', 'gradNorm@1', 'deviation@2'],
  );
  const b2 = await train(config('B', ALL, { checkpointEvery: 2 }), { data, resume: true });
  assert.equal(b2.status, 'completed');
  assert.deepEqual(analysis(b2.runDir).map(untimed), analysis(a.runDir).map(untimed));
  assert.deepEqual(latestModel(b2.runDir), latestModel(a.runDir));
});

test('bad analysis settings are errors naming the key', async () => {
  const bad = (analysisCfg: unknown, re: RegExp) =>
    assert.throws(
      () => resolveConfig(config('bad', analysisCfg as TrainConfigInput['analysis'])),
      re,
      JSON.stringify(analysisCfg),
    );
  bad({ progress: 'yes' }, /analysis\.progress: Expected boolean/);
  bad({ gradNorms: { at: 'layer9' } }, /analysis\.gradNorms\.at: 'layer9' is not allowed \(allowed: input, stem/);
  bad({ gradNorms: true }, /analysis\.gradNorms\.at: Required/);
  bad({ gradNorms: 'layer1' }, /analysis\.gradNorms: "layer1" is not allowed \(false, or \{ at: 'layer1' \}\)/);
  bad({ gradNorms: { at: 'layer1', every: 2 } }, /analysis\.gradNorms: .*every.*\(allowed: at\)/);
  bad({ deviation: { epochs: [0] } }, /analysis\.deviation\.epochs/);
  bad({ deviation: { R: 0 } }, /analysis\.deviation\.R: Number must be greater than 0/);
  bad({ every: 0 }, /analysis\.every/);
  bad({ tsne: true }, /unknown key analysis\.tsne \(allowed: progress, gradNorms, deviation, every\)/);
  const ok = resolveConfig(config('ok', { deviation: true }));
  assert.deepEqual(ok.analysis, { progress: false, gradNorms: false, deviation: { epochs: 'end', R: 1000 }, every: 1 });
  await assert.rejects(
    train(config('l4', { gradNorms: { at: 'layer4' } })),
    /analysis\.gradNorms\.at: the model has no stage 'layer4'/,
  );
  await assert.rejects(
    train(config('late', { deviation: { epochs: [9] } })),
    /analysis\.deviation\.epochs: epoch 9 is after/,
  );
});
