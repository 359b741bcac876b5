// The unlabeled-data methods against PyTorch (fixtures/semi/gen_semi.py): Mean Teacher's EMA update, ramp-up
// and softmax consistency; VAT's adversarial perturbation and loss; FixMatch's mask and loss on a hand-made
// batch; running statistics put back after extra train-mode passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, tensor, tidy, noGrad, loadSafetensors, dispose } from '../engine';
import { copy_ } from '../engine/ops.generated';
import { Linear } from '../nn/layers';
import { emaDecay, sigmoidRampup, softmaxMse } from './mean-teacher';
import { emaUpdate, copyWeights } from '../nn/ema';
import { vatPerturbation, klFromProbs } from './vat';
import { saveRunningStats } from '../nn/running-stats';
import { fixmatchTargets, fixmatchLoss } from './fixmatch';
import * as models from '../models';
import { settledMemory } from '../engine/test-support';

const DIR = path.resolve(__dirname, '..', '..', '..', 'fixtures', 'semi');
const meta = JSON.parse(fs.readFileSync(path.join(DIR, 'semi.json'), 'utf8'));

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    assert.ok(err <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]} (error ${err})`);
  }
}
const values = (t: Tensor) => Array.from(t.toArray() as Float32Array);

test('Mean Teacher: EMA over four steps matches the authors’ update_ema_variables', () => {
  const fx = loadSafetensors(path.join(DIR, 'semi.safetensors'));
  const teacher = new Linear(5, 3);
  const student = new Linear(5, 3);
  try {
    noGrad(() => {
      copy_(teacher.weight, fx['ema.teacher0.weight']);
      copy_(teacher.param('bias'), fx['ema.teacher0.bias']);
    });
    for (let step = 0; step < 4; step++) {
      noGrad(() => {
        copy_(student.weight, fx[`ema.student${step}.weight`]);
        copy_(student.param('bias'), fx[`ema.student${step}.bias`]);
      });
      emaUpdate(teacher, student, emaDecay(step, meta.emaAlpha));
      close(values(teacher.weight), values(fx[`ema.teacher${step + 1}.weight`]), 1e-6, `weight after step ${step}`);
      close(values(teacher.param('bias')), values(fx[`ema.teacher${step + 1}.bias`]), 1e-6, `bias after step ${step}`);
    }
    // Step 0 copies the student (a = 0), whatever α is.
    assert.equal(emaDecay(0, 0.999), 0);
    assert.equal(emaDecay(10_000, 0.999), 0.999);
  } finally {
    teacher.dispose();
    student.dispose();
    dispose(fx);
  }
});

test('Mean Teacher: sigmoid ramp-up and softmax MSE match the reference', () => {
  for (const [t, len, want] of meta.rampup as [number, number, number][]) {
    assert.ok(Math.abs(sigmoidRampup(t, len) - want) < 1e-12, `rampup(${t}, ${len})`);
  }
  const fx = loadSafetensors(path.join(DIR, 'semi.safetensors'));
  try {
    const got = tidy(() => softmaxMse(fx['mse.student'], fx['mse.teacher']).item());
    close([got], [meta.softmaxMse], 1e-6, 'softmax MSE');
  } finally {
    dispose(fx);
  }
});

test('Mean Teacher: the teacher starts as a copy of the student', () => {
  const before = settledMemory().numTensors;
  const a = models.create('resnet8', { numClasses: 4, inChannels: 1 });
  const b = models.create('resnet8', { numClasses: 4, inChannels: 1 });
  try {
    copyWeights(b, a);
    const sa = a.stateDict();
    const sb = b.stateDict();
    for (const k of Object.keys(sa))
      assert.deepEqual(values(sb[k].toDtype('float32')), values(sa[k].toDtype('float32')), k);
    dispose([sa, sb]);
  } finally {
    a.dispose();
    b.dispose();
  }
  assert.equal(settledMemory().numTensors, before, 'copyWeights leaves no tensors behind');
});

test('VAT: one power iteration gives PyTorch’s r_adv and loss', () => {
  const fx = loadSafetensors(path.join(DIR, 'semi.safetensors'));
  try {
    const f = (z: Tensor) => z.reshape([z.shape[0], -1]).matmul(fx['vat.w1']).tanh().matmul(fx['vat.w2']);
    const x = fx['vat.x'];
    const p = noGrad(() => f(x).softmax(1));
    const r = vatPerturbation(f, x, p, fx['vat.d0'], { xi: meta.vat.xi, eps: meta.vat.eps });
    close(values(r), values(fx['vat.radv']), 1e-4, 'r_adv');
    // Each image's perturbation has norm ε, up to the +1e-6 of l2_normalize (‖g‖ is small here).
    const norms = tidy(() => values(r.reshape([4, -1]).pow(2).sum(1).sqrt()));
    for (const n of norms) assert.ok(Math.abs(n - meta.vat.eps) < 1e-3 * meta.vat.eps, `‖r_adv‖ = ${n}`);
    const loss = tidy(() => klFromProbs(p, f(x.add(r))).item());
    close([loss], [meta.vat.loss], 1e-4, 'VAT loss');
    dispose([p, r]);
  } finally {
    dispose(fx);
  }
});

test('running statistics moved by extra train-mode passes are put back', () => {
  const model = models.create('resnet8', { numClasses: 3, inChannels: 1 });
  try {
    model.train();
    const x = tidy(() =>
      tensor(
        Float32Array.from({ length: 4 * 64 }, (_, i) => Math.sin(i)),
        [4, 1, 8, 8],
      ),
    );
    const before = model.buffers().map((b) => values(b.toDtype('float32')));
    const restore = saveRunningStats(model);
    noGrad(() => tidy(() => void model.forward(x.mul(3))));
    const moved = model.buffers().some((b, i) => values(b.toDtype('float32')).some((v, k) => v !== before[i][k]));
    assert.ok(moved, 'a train-mode pass moves the running statistics');
    restore();
    model.buffers().forEach((b, i) => assert.deepEqual(values(b.toDtype('float32')), before[i]));
    x.dispose();
  } finally {
    model.dispose();
  }
});

test('FixMatch: mask keeps the confident weak predictions; loss is the masked mean of CE on the strong view', () => {
  // Row 0: confident class 2; row 1: not confident; row 2: confident class 0; row 3: just below τ.
  const weak = tensor(Float32Array.from([0, 0, 8, 0, 1, 1.2, 0.8, 1, 9, 0, 0, 0, 0, 3.5, 0, 0]), [4, 4]);
  const strong = tensor(Float32Array.from([0.5, 0.1, 2, -1, 0, 0, 0, 0, 1, 2, 3, 4, 2, 2, 2, 2]), [4, 4]);
  try {
    const softmax = (row: number[]) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    };
    const w = Array.from(weak.toArray() as Float32Array);
    const st = Array.from(strong.toArray() as Float32Array);
    const rows = (a: number[]) => [0, 1, 2, 3].map((r) => a.slice(4 * r, 4 * r + 4));
    const probs = rows(w).map(softmax);
    const wantMask = probs.map((q) => (Math.max(...q) >= 0.95 ? 1 : 0));
    const wantTarget = probs.map((q) => q.indexOf(Math.max(...q)));
    assert.deepEqual(wantMask, [1, 0, 1, 0], 'the hand-made batch has two confident rows');
    const { target, mask } = fixmatchTargets(weak, { threshold: 0.95, temperature: 1 });
    assert.deepEqual(Array.from(mask.toArray() as Float32Array), wantMask);
    assert.deepEqual(Array.from(target.toArray() as BigInt64Array, Number), wantTarget);
    const ce = rows(st).map((r, i) => -Math.log(softmax(r)[wantTarget[i]]));
    const want = ce.reduce((a, c, i) => a + wantMask[i] * c, 0) / 4;
    close([tidy(() => fixmatchLoss(strong, target, mask).item())], [want], 1e-6, 'FixMatch loss');
    // A threshold nothing reaches masks everything: the loss is 0, not NaN.
    const none = fixmatchTargets(weak, { threshold: 1, temperature: 1 });
    assert.equal(
      tidy(() => fixmatchLoss(strong, none.target, none.mask).item()),
      0,
    );
    dispose([target, mask, none.target, none.mask]);
  } finally {
    dispose([weak, strong]);
  }
});
