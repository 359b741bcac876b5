// The classifier-slot components as stages of the one loop (methods/lws.ts, methods/tau-norm.ts), on a model
// whose "backbone" is the identity on 2-D features, so what the stages learn can be worked out by hand:
// head W = diag(3, 1), bias [0.5, 0]; class 0 is the head class (500 training images), class 1 the tail (10).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, noGrad, keep, memory, dispose } from '../engine';
import { copy_ } from '../engine/ops.generated';
import { Linear, ScaledHead } from '../nn/layers';
import { ClassifierModel, Stage } from '../models/classifier';
import { ClassificationMeter } from '../eval/metrics';
import { tauNormalize } from '../eval/decoupled';
import { localContext } from '../core/context';
import { resolveConfig } from '../train/config';
import { runStage, EpochLog } from '../train/loop';
import { lrSchedule } from '../train/hooks';
import { parseRecipe, buildPlan } from './index';
import type { StageEnv, StageFactory } from './types';
import { settledMemory } from '../engine/test-support';

class FeatureModel extends ClassifierModel {
  readonly featureDim = 2;
  readonly numClasses = 2;
  readonly stages: readonly Stage[] = ['input'];
  readonly headPrefix = 'fc.';
  constructor(bias = true) {
    super();
    const fc = new Linear(2, 2, { bias });
    noGrad(() =>
      tidy(() => {
        copy_(
          fc.weight,
          tensor([
            [3, 0],
            [0, 1],
          ]),
        );
        if (fc.bias) copy_(fc.bias, tensor([0.5, 0]));
      }),
    );
    this.registerModule('fc', fc);
  }
  forwardBackbone(x: Tensor): Tensor {
    return x.mul(1); // [B, 2]: the features are the input
  }
  get head() {
    return this.child('fc');
  }
  resetHead(): void {
    throw new Error('not used');
  }
}

/** Samples [1, b]: class 1's are right under the initial head only when b > 3.5. */
const rows = (bs: number[]) => bs.map((b) => [1, b]);
const TRAIN = { c0: [0.2, 0.5, 0.8, 1.1, 1.4, 1.7], c1: [2.0, 2.4, 2.8, 3.2] };
const TEST = { c0: [0.3, 0.9, 1.5, 1.9], c1: [2.2, 2.6, 3.0, 3.4] };

function split(s: { c0: number[]; c1: number[] }) {
  return keep(
    tidy(() => ({
      features: tensor(rows([...s.c0, ...s.c1])),
      targets: tensor([...s.c0.map(() => 0), ...s.c1.map(() => 1)], 'int64'),
    })),
  );
}

function envFor(model: ClassifierModel, recipe: string, method: Record<string, unknown>, withVal: boolean): StageEnv {
  const settings = resolveConfig({ method: { recipe, ...method }, train: { batchSize: 4 } });
  const evaluate = (which: 'val' | 'test') => {
    if (which === 'val' && !withVal) return null;
    const s = split(which === 'test' ? TEST : TRAIN);
    const m = new ClassificationMeter(2, { trainCounts: [500, 10] });
    noGrad(() => tidy(() => m.update(model.forward(s.features), s.targets)));
    dispose(s);
    return m.summary();
  };
  return {
    model,
    settings,
    ctx: localContext(),
    numClasses: 2,
    clsNumList: [500, 10],
    trainTargets: Int32Array.from([...TRAIN.c0.map(() => 0), ...TRAIN.c1.map(() => 1)]),
    trainLoader: () => {
      throw new Error('not used');
    },
    features: (which) => (which === 'val' && !withVal ? null : split(which === 'test' ? TEST : TRAIN)),
    evaluate,
    log: () => undefined,
  };
}

function factory(recipe: string, env: StageEnv): StageFactory {
  const plan = buildPlan(parseRecipe(recipe), { settings: env.settings, clsNumList: [500, 10], numClasses: 2 });
  assert.equal(plan.stages.length, 1);
  return plan.stages[0];
}

test('LWS through the loop: only the scales move, the tail scale grows, balanced accuracy improves', async () => {
  const before = settledMemory().numTensors;
  const model = new FeatureModel();
  const env = envFor(model, 'ce+lws', { lws: { epochs: 30, lr: 0.5 } }, false);
  const start = env.evaluate('test');
  assert.equal(start?.balancedAccuracy, 0.5, 'the initial head predicts class 0 for everything');
  const f = factory('ce+lws', env);
  const stage = f.build(env);
  assert.ok(model.head instanceof ScaledHead, 'the head is wrapped in a ScaledHead');
  const scaled = model.head as ScaledHead;
  assert.deepEqual(scaled.scales.toList(), [1, 1], 'scales start at 1');
  // Scales = 1 reproduce the original classifier (bias scaled too).
  tidy(() => {
    const x = tensor(rows([0.5, 3]));
    assert.deepEqual(model.forward(x).toList(), [3.5, 0.5, 3.5, 3]);
  });
  const logs: EpochLog[] = [];
  const done = await runStage(stage, {
    stageIndex: 1,
    from: 0,
    seed: 0,
    hooks: [lrSchedule(), { onEpochEnd: (l) => logs.push(l) }],
    control: { stopRequested: false },
    ctx: env.ctx,
  });
  assert.ok(done);
  assert.equal(logs.length, 30);
  assert.deepEqual(Object.keys(logs[0].lossTerms), ['ce']);
  assert.ok(logs[29].loss < logs[0].loss, `loss ${logs[0].loss} → ${logs[29].loss}`);
  assert.equal(logs[0].plan?.sampler, 'class-aware');
  const record = stage.finish?.() as { scales: number[] };
  const [s0, s1] = record.scales;
  assert.ok(s0 > 0 && s1 > 0, `scales stay positive: ${record.scales}`);
  assert.ok(s1 / s0 > 1, `the tail scale grows relative to the head's: ${record.scales}`);
  assert.deepEqual((scaled.inner as Linear).weight.toList(), [3, 0, 0, 1], 'the frozen classifier is untouched');
  const end = env.evaluate('test');
  assert.ok((end?.balancedAccuracy ?? 0) > 0.5, `balanced accuracy 0.5 → ${end?.balancedAccuracy}`);
  stage.dispose();

  // restore() gives a fresh model the same structure, so the saved weights load and give the same logits.
  const saved = model.stateDict();
  assert.deepEqual(Object.keys(saved).sort(), ['fc.factor', 'fc.inner.bias', 'fc.inner.weight', 'fc.scales']);
  const again = new FeatureModel();
  f.restore?.(again, record);
  again.loadStateDict(saved);
  tidy(() => {
    const x = tensor(rows([0.5, 3]));
    assert.deepEqual(again.forward(x).toList(), model.forward(x).toList());
  });
  dispose(saved);
  again.dispose();
  model.dispose();
  assert.equal(memory().numTensors, before, 'no live tensors left');
});

test('τ-norm as a stage: τ chosen on the validation split, the head becomes W_c/‖W_c‖^τ without bias', () => {
  const model = new FeatureModel();
  const taus = [0, 0.25, 0.5, 0.75, 1];
  const env = envFor(model, 'ce+tau-norm', { tauNorm: { taus } }, true);
  const f = factory('ce+tau-norm', env);
  const stage = f.build(env);
  assert.equal(stage.epochs, 0, 'nothing to train');
  const record = stage.finish?.() as { tau: number; selectedOn: string; sweep: { tau: number }[] };
  assert.equal(record.selectedOn, 'val');
  assert.deepEqual(
    record.sweep.map((e) => e.tau),
    taus,
  );
  // Class 1 wins for [1, b] iff b > 3^(1−τ): every validation (= TRAIN) sample is right once 3^(1−τ) ∈ (1.7, 2.0).
  assert.equal(record.tau, 0.5);
  const head = model.head as Linear;
  assert.ok(head instanceof Linear && head.bias === null, 'a bias-free linear head');
  const want = tidy(() =>
    tauNormalize(
      tensor([
        [3, 0],
        [0, 1],
      ]),
      0.5,
    ).toList(),
  );
  head.weight.toList().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6));
  // restore() rebuilds that structure for a saved run.
  const again = new FeatureModel();
  f.restore?.(again, record);
  assert.ok(again.head instanceof Linear && (again.head as Linear).bias === null);
  const sd = model.stateDict();
  again.loadStateDict(sd);
  dispose(sd);
  again.dispose();
  model.dispose();
});
