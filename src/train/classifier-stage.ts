// The `classifier` slot: decoupled classifier learning after the main training (Kang et al.,
// "Decoupling Representation and Classifier for Long-Tailed Recognition", ICLR 2020; reference code
// facebookresearch/classifier-balancing):
//   crt      — freeze the backbone, re-initialise the head, train it with class-aware sampling
//              (4 images per class visit) for a short schedule (cosine lr, method.crt.epochs);
//   tau-norm — W_c / ‖W_c‖^τ on the trained head, τ swept and chosen on the validation split
//              when one exists (else on test, as the reference reports — flagged in the result);
//   lws      — a learnable per-class scale on the frozen head's logits, class-aware batches.
// Each stage evaluates the result and saves it next to the run (crt.safetensors / classifier-stage.json).
import * as fs from 'fs';
import { Tensor, tensor, tidy, noGrad, keep, dispose, manualSeed, saveSafetensors, cat } from '../engine';
import { ClassAwareSampler } from '../data/samplers';
import { AugRng } from '../data/transforms/rng';
import { tauSweep, LwsHead, trainLws, evaluateLws } from '../eval/decoupled';
import { SGD } from '../optim';
import type { ClassifierModel } from '../models';
import type { ClassifierStage } from '../methods/recipe';
import type { TrainConfig } from './config';
import type { TrainData, ImageSet } from './datasets';
import type { Pipelines } from './pipelines';
import type { RunDir } from './run-dir';
import { gatherImages, evaluate } from './trainer';
import { normalize } from '../nn/functional';

interface StageContext {
  model: ClassifierModel;
  data: TrainData;
  pipes: Pipelines;
  cfg: TrainConfig;
  run: RunDir;
  log: (l: string) => void;
}

/** Pooled features of a whole image set (eval mode, no augmentation). */
function extractFeatures(
  model: ClassifierModel,
  set: ImageSet,
  pipes: Pipelines,
): { features: Tensor; targets: Tensor } {
  model.eval();
  const parts: Tensor[] = [];
  noGrad(() => {
    for (let i = 0; i < set.targets.length; i += 256) {
      const idx = new Int32Array(Math.min(256, set.targets.length - i)).map((_, k) => i + k);
      parts.push(keep(tidy(() => model.forwardBackbone(pipes.test(gatherImages(set, idx))))));
    }
  });
  const features = keep(cat(parts, { dim: 0 }));
  dispose(parts);
  return { features, targets: keep(tensor(set.targets, [set.targets.length], 'int64')) };
}

export function runClassifierStage(kind: ClassifierStage, ctx: StageContext): Record<string, unknown> {
  const { model, data, pipes, cfg, run, log } = ctx;
  const evalOpts = { numClasses: data.numClasses, trainCounts: data.clsNumList, batchSize: 256 };
  let result: Record<string, unknown>;
  if (kind === 'crt') {
    const o = cfg.method.crt;
    manualSeed(cfg.seed + 1000);
    model.resetHead({ init: 'default' });
    const head = model.headParameters();
    for (const p of model.backboneParameters()) p.requiresGrad = false;
    const opt = new SGD(head, { lr: o.lr, momentum: cfg.optim.momentum, weightDecay: cfg.optim.weightDecay });
    const sampler = new ClassAwareSampler(data.train.targets, { numSamplesCls: o.samplesPerClass, seed: cfg.seed });
    const bs = cfg.train.batchSize;
    for (let e = 0; e < o.epochs; e++) {
      const order = sampler.epochIndices(e);
      const steps = Math.min(Math.ceil(order.length / bs), cfg.train.maxStepsPerEpoch ?? Infinity);
      const aug = new AugRng(cfg.seed, 1000 + e);
      let sum = 0;
      for (let s = 0; s < steps; s++) {
        // Cosine decay over the cRT schedule (the decoupling reference's coslr).
        opt.setLr((o.lr * (1 + Math.cos((Math.PI * (e * steps + s)) / (o.epochs * steps)))) / 2);
        const idx = order.subarray(s * bs, Math.min(order.length, (s + 1) * bs));
        sum += tidy(() => {
          // The backbone runs in eval mode (BN statistics frozen) and without a graph.
          model.eval();
          const f = noGrad(() => model.forwardBackbone(pipes.train(gatherImages(data.train, idx), aug.fork(s))));
          model.head.train();
          const y = tensor(
            Int32Array.from(idx, (i) => data.train.targets[i]),
            [idx.length],
            'int64',
          );
          const loss = model.head.forward(f).crossEntropyLoss(y);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          return loss.item();
        });
      }
      log(`[crt] epoch ${e + 1}/${o.epochs} loss ${(sum / Math.max(1, steps)).toFixed(4)}`);
    }
    for (const p of model.backboneParameters()) p.requiresGrad = true;
    opt.dispose();
    const views = model.stateDict();
    saveSafetensors(run.file('checkpoints', 'crt.safetensors'), views);
    dispose(views);
    result = { stage: 'crt', test: evaluate(model, data.test, pipes, evalOpts) };
    if (data.val) result.val = evaluate(model, data.val, pipes, evalOpts);
  } else if (kind === 'tau-norm') {
    const test = extractFeatures(model, data.test, pipes);
    const val = data.val ? extractFeatures(model, data.val, pipes) : undefined;
    const weight = model.head.namedParameters().find(([n]) => n === 'weight')?.[1];
    if (!weight || weight.ndim !== 2) throw new Error('tau-norm: the model head has no 2-D weight');
    // NormedLinear stores W as [in, out]; τ-norm works on rows W_c, so transpose it.
    const w = weight.shape[0] === data.numClasses ? weight : weight.t();
    const wd = w.detach();
    const sweep = tauSweep(test.features, test.targets, wd, null, cfg.method.tauNorm.taus, {
      val,
      trainCounts: data.clsNumList,
    });
    dispose(w === weight ? wd : [wd, w]);
    result = {
      stage: 'tau-norm',
      tau: sweep.best.tau,
      selectedOn: sweep.selectedOn,
      test: sweep.best.test,
      val: sweep.best.val,
      sweep: sweep.entries.map((e) => ({ tau: e.tau, testTop1: e.test.top1, valTop1: e.val?.top1 ?? null })),
    };
    if (sweep.selectedOn === 'test')
      log('[tau-norm] no validation split: τ was chosen on the test set (set data.valPerClass)');
    log(`[tau-norm] best τ = ${sweep.best.tau} (selected on ${sweep.selectedOn})`);
    dispose([test, val]);
  } else {
    const o = cfg.method.lws;
    const weight0 = model.head.namedParameters().find(([n]) => n === 'weight')?.[1];
    const bias = model.head.namedParameters().find(([n]) => n === 'bias')?.[1] ?? null;
    if (!weight0 || weight0.ndim !== 2) throw new Error('lws: the model head has no 2-D weight');
    // The cosine (NormedLinear, LDAM) head stores W as [D, C] and outputs cos(x, w_c): LWS then runs on
    // L2-normalised features scaled by method.s (LDAM's logit scale) and the normalised columns of W.
    const cosine = weight0.shape[0] !== data.numClasses && weight0.shape[1] === data.numClasses;
    if (!cosine && weight0.shape[0] !== data.numClasses) throw new Error('lws: needs a linear head [C, D]');
    const weight = cosine ? keep(noGrad(() => tidy(() => normalize(weight0.detach(), { dim: 0 }).t()))) : weight0;
    const feats = (set: ImageSet) => {
      const f = extractFeatures(model, set, pipes);
      if (!cosine) return f;
      const n = keep(noGrad(() => tidy(() => normalize(f.features, { dim: 1 }).mul(cfg.method.s))));
      f.features.dispose();
      return { features: n, targets: f.targets };
    };
    const train = feats(data.train);
    const head = new LwsHead(weight, bias);
    if (cosine) weight.dispose();
    const sampler = new ClassAwareSampler(data.train.targets, { numSamplesCls: 4, seed: cfg.seed });
    let epoch = 0;
    const bs = cfg.train.batchSize;
    const losses = trainLws(
      head,
      function* () {
        const order = sampler.epochIndices(epoch++);
        for (let s = 0; s < order.length; s += bs) {
          const batch = tidy(() => {
            const idx = tensor(order.subarray(s, Math.min(order.length, s + bs)), undefined, 'int64');
            return { features: train.features.indexSelect(0, idx), targets: train.targets.indexSelect(0, idx) };
          });
          try {
            yield batch;
          } finally {
            dispose(batch); // the consumer is done with it once it asks for the next batch
          }
        }
      },
      { epochs: o.epochs, lr: o.lr },
    );
    const test = feats(data.test);
    result = {
      stage: 'lws',
      losses,
      scales: head.scaleValues(),
      test: evaluateLws(head, test, { trainCounts: data.clsNumList }),
    };
    dispose([train, test]);
    head.dispose();
  }
  fs.writeFileSync(run.file('classifier-stage.json'), JSON.stringify(result, null, 2));
  const t = result.test as { top1?: number };
  log(`[${kind}] test top-1 ${(100 * (t.top1 ?? 0)).toFixed(2)}%`);
  return result;
}
