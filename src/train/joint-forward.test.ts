// The classification task's joint forward pass: the unlabeled views a loss term asks for go through the model
// in one batch with the labeled images, so BatchNorm normalizes (and records running statistics of) the
// batch the step really trains on; the feature hook (MFW, mixup) transforms only the labeled rows; each term
// gets the logits of its views, in its order. Passes a term makes itself (Mean Teacher's student pass, VAT's)
// leave the running statistics as they were, so a term at weight 0 trains exactly like no term at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, cat, dispose } from '../engine';
import * as models from '../models';
import { crossEntropy } from '../losses/cross-entropy';
import { DataLoader, InMemorySource, ShuffleSampler } from '../data/loader';
import type { MethodPlan } from '../methods/registry';
import type { FeatureHook, UnlabeledStep } from '../methods/types';
import { vatLoss } from '../methods/vat';
import { SGD } from '../optim';
import { localContext } from '../core/context';
import { Rng } from '../util/rng';
import { ClassificationTask } from './classification';

const values = (t: Tensor) => Array.from(t.toDtype('float32').toArray() as Float32Array);
const images = (n: number, phase: number) =>
  tensor(
    Float32Array.from({ length: n * 64 }, (_, i) => Math.sin(0.37 * i + phase) * (1 + (i % 5))),
    [n, 1, 8, 8],
  );

function maxDiff(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}

test('unlabeled views a term asks for share the labeled batch’s forward pass; the hook sees only labeled rows', () => {
  const create = () => models.create('resnet8', { numClasses: 3, inChannels: 1 });
  const model = create();
  const reference = create();
  reference.loadStateDict(model.stateDict());
  const B = 4;
  const xl = images(B, 0);
  const yl = tensor(Int32Array.from([0, 1, 2, 0]), [B], 'int64');
  const weak = images(6, 1);
  const strong = images(6, 2);
  const hookRows: number[] = [];
  const features: FeatureHook = {
    name: 'halve',
    stage: () => 'layer1',
    apply: (z) => {
      hookRows.push(z.shape[0]);
      return z.mul(0.5);
    },
  };
  const criterion = crossEntropy();
  const plan = { lossName: 'ce', features, classWeightsAt: () => null } as unknown as MethodPlan;
  const seen: UnlabeledStep[] = [];
  const set = { images: new Uint8Array(B * 64), shape: [B, 8, 8, 1], targets: new Int32Array(B) };
  const loader = new DataLoader(new InMemorySource(set as never), {
    sampler: new ShuffleSampler(B, 0, false),
    batchSize: B,
  });
  const task = new ClassificationTask({
    model,
    plan,
    criterion,
    sampler: {} as never,
    loader,
    targets: [0, 1, 2, 0],
    clsNumList: [2, 1, 1],
    evaluate: () => null,
    unlabeled: {
      loader: loader as never,
      // The second term asks for the weak view too: it goes through the model once.
      terms: [
        { name: 'a', joint: [1, 0], loss: (u) => (seen.push(u), u.logits[0].sum().mul(0)) },
        {
          name: 'b',
          joint: [0],
          // A pass of its own (in train mode: it would move the running statistics).
          loss: (u) => (
            seen.push(u),
            u.logits[0]
              .sum()
              .add(u.model.forward(u.views[1].mul(3)).sum())
              .mul(0)
          ),
        },
      ],
    },
  });
  try {
    model.train();
    reference.train();
    const e = { stage: 'train', epoch: 0, epochs: 1, steps: 1, rng: new Rng(0), ctx: localContext() };
    const item = {
      labeled: { x: xl, y: yl, indices: Int32Array.from([0, 1, 2, 3]) },
      unlabeled: {
        x: [weak, strong],
        y: tensor(Int32Array.from([-1, -1, -1, -1, -1, -1]), [6], 'int64'),
        indices: new Int32Array(6),
      },
      epoch: 0,
      step: 0,
    };
    const out = task.step(item as never, e as never);
    assert.deepEqual(hookRows, [B], 'the hook transformed the labeled rows only');
    // The reference: one forward pass of [labeled; weak; strong] (the order of first request: view 1 then 0).
    const ref = reference.forwardFeatures(cat([xl, strong, weak], { dim: 0 }), {
      hook: {
        stage: 'layer1',
        fn: (z: Tensor) => cat([z.narrow(0, 0, B).mul(0.5), z.narrow(0, B, z.shape[0] - B)], { dim: 0 }),
      },
    }).logits;
    const rows = (s: number, n: number) => values(ref.narrow(0, s, n));
    assert.ok(maxDiff(values(seen[0].logits[0]), rows(B, 6)) < 1e-5, 'term a, view 1 (strong)');
    assert.ok(maxDiff(values(seen[0].logits[1]), rows(B + 6, 6)) < 1e-5, 'term a, view 0 (weak)');
    assert.ok(maxDiff(values(seen[1].logits[0]), rows(B + 6, 6)) < 1e-5, 'term b, view 0 (weak)');
    const refLoss = tidy(() => criterion(ref.narrow(0, 0, B), yl).item());
    assert.ok(Math.abs(out.losses.ce.item() - refLoss) < 1e-5, 'the labeled loss on the labeled rows');
    assert.equal(out.size, B);
    // BatchNorm's running statistics are those of the one joint batch once the step is over.
    Object.values(out.losses)
      .reduce((a, b) => a.add(b))
      .backward();
    task.afterStep(e as never);
    const got = model.buffers().map(values);
    reference.buffers().forEach((b, i) => assert.ok(maxDiff(got[i], values(b)) < 1e-5, `buffer ${i}`));
    dispose(Object.values(out.losses));
  } finally {
    dispose([xl, yl, weak, strong]);
    criterion.dispose();
    model.dispose();
    reference.dispose();
  }
});

/** A task over fixed batches: `terms` on the unlabeled stream when given, else labeled batches alone. */
function run(model: models.ClassifierModel, terms: ReturnType<typeof termsFor> | null, steps: number): void {
  const B = 4;
  const set = { images: new Uint8Array(B * 64), shape: [B, 8, 8, 1], targets: new Int32Array(B) };
  const loader = new DataLoader(new InMemorySource(set as never), {
    sampler: new ShuffleSampler(B, 0, false),
    batchSize: B,
  });
  const criterion = crossEntropy();
  const plan = { lossName: 'ce', features: null, classWeightsAt: () => null } as unknown as MethodPlan;
  const task = new ClassificationTask({
    model,
    plan,
    criterion,
    sampler: {} as never,
    loader,
    targets: [0, 1, 2, 0],
    clsNumList: [2, 1, 1],
    evaluate: () => null,
    ...(terms ? { unlabeled: { loader: loader as never, terms } } : {}),
  });
  const sgd = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  try {
    model.train();
    for (let s = 0; s < steps; s++) {
      const e = { stage: 'train', epoch: 0, epochs: 1, steps, rng: new Rng(s), ctx: localContext() };
      const labeled = {
        x: images(B, s),
        y: tensor(Int32Array.from([0, 1, 2, 0]), [B], 'int64'),
        indices: Int32Array.from([0, 1, 2, 3]),
      };
      const u = {
        x: [images(6, 10 + s)],
        y: tensor(Int32Array.from([-1, -1, -1, -1, -1, -1]), [6], 'int64'),
        indices: new Int32Array(6),
      };
      tidy(() => {
        const out = task.step((terms ? { labeled, unlabeled: u, epoch: 0, step: s } : labeled) as never, e as never);
        sgd.zeroGrad();
        Object.values(out.losses)
          .reduce((a, b) => a.add(b))
          .backward();
        sgd.step();
      });
      task.afterStep(e as never);
      dispose([labeled.x, labeled.y, ...u.x, u.y]);
    }
  } finally {
    sgd.dispose();
    criterion.dispose();
  }
}
const termsFor = (weight: number) => [
  // VAT's clean, probe and adversarial passes, all the model's own.
  { name: 'vat', loss: (u: UnlabeledStep) => vatLoss(u.model, u.views[0], { xi: 1e-6, eps: 6 }).mul(weight) },
];

test('a term whose own passes are weighted 0 trains exactly like no unlabeled term (weights and running statistics)', () => {
  const create = () => models.create('resnet8', { numClasses: 3, inChannels: 1 });
  const plain = create();
  const withTerm = create();
  const moved = create();
  withTerm.loadStateDict(plain.stateDict());
  moved.loadStateDict(plain.stateDict());
  try {
    run(plain, null, 3);
    run(withTerm, termsFor(0), 3);
    run(moved, termsFor(1), 3);
    const a = plain.stateDict();
    const b = withTerm.stateDict();
    const c = moved.stateDict();
    for (const k of Object.keys(a)) assert.deepEqual(values(b[k]), values(a[k]), k);
    assert.ok(
      Object.keys(a).some((k) => maxDiff(values(c[k]), values(a[k])) > 0),
      'at weight 1 the term changes the weights',
    );
    dispose([a, b, c]);
  } finally {
    plain.dispose();
    withTerm.dispose();
    moved.dispose();
  }
});
