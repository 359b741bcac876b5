// LWS, learnable weight scaling (the `classifier` slot): Kang et al., "Decoupling Representation and
// Classifier for Long-Tailed Recognition" (ICLR 2020) §4; reference facebookresearch/classifier-balancing
// (models/TauNormClassifier.py, config/*/cls_lws.yaml). After the main training the whole model is frozen
// and the classifier's logits get a learnable per-class scale, logits = head(x) ⊙ scales (bias included,
// scales start at 1), trained with class-aware sampling (4 images per class visit), SGD momentum 0.9,
// weight decay 5e-4 and a per-epoch cosine schedule. The backbone features are computed once (eval mode,
// no augmentation) and batched from memory. A cosine (LDAM) head keeps its logit scale `method.s` as a
// fixed factor, so the scales see the logits LDAM trained with. The model's head becomes a ScaledHead.
import { z } from 'zod';
import { Tensor, tensor, tidy, dispose } from '../engine';
import { ClassAwareSampler, IndexSampler } from '../data/samplers';
import { ScaledHead, NormedLinear } from '../nn/layers';
import type { BatchStream, Task } from '../core/task';
import { register, methodOptions } from './registry';
import { crossEntropyStep, headStage } from './head-stage';

const lwsOptions = {
  lws: z
    .object({
      epochs: z.number().int().positive().default(5).describe('LWS epochs'),
      lr: z.number().positive().finite().default(0.1).describe('LWS base learning rate (cosine per epoch)'),
    })
    .strict()
    .default({}),
};

interface FeatureBatch {
  features: Tensor; // [B, D]
  targets: Tensor; // [B] int64
}

/** Batches of precomputed features in a sampler's order (the features are read when the epoch starts). */
function featureBatches(
  source: () => FeatureBatch,
  sampler: IndexSampler,
  batchSize: number,
): BatchStream<FeatureBatch> {
  return {
    numBatches: (epoch) => Math.ceil(sampler.epochIndices(epoch).length / batchSize),
    *epoch(epoch) {
      const all = source();
      const order = sampler.epochIndices(epoch);
      for (let s = 0; s < order.length; s += batchSize) {
        const batch = tidy(() => {
          const idx = tensor(order.subarray(s, Math.min(order.length, s + batchSize)), undefined, 'int64');
          return { features: all.features.indexSelect(0, idx), targets: all.targets.indexSelect(0, idx) };
        });
        try {
          yield batch;
        } finally {
          dispose(batch); // the loop is done with it once it asks for the next one
        }
      }
    },
  };
}

export const lws = register({
  name: 'lws',
  slot: 'classifier',
  help: 'learnable per-class logit scales on a frozen model',
  options: lwsOptions,
  build(ctx) {
    const o = methodOptions(ctx, lwsOptions).lws;
    const s = ctx.settings;
    const scale = (s.method as { s?: number }).s ?? 1;
    return {
      stages: [
        {
          name: 'lws',
          build(env) {
            const model = env.model;
            const inner = model.head;
            for (const p of inner.parameters()) p.requiresGrad = false;
            const head = new ScaledHead(inner, env.numClasses, inner instanceof NormedLinear ? scale : 1);
            model.replaceHead(head, { disposeOld: false });
            const sampler = new ClassAwareSampler(env.trainTargets, { numSamplesCls: 4, seed: s.seed });
            // Computed at the first epoch, after a resumed run's weights are loaded.
            let train: FeatureBatch | null = null;
            const features = (): FeatureBatch => {
              train ??= env.features('train') as FeatureBatch;
              return train;
            };
            const task: Task<FeatureBatch> = {
              batches: featureBatches(features, sampler, s.train.batchSize),
              beginEpoch() {
                model.eval();
                return { sampler: sampler.name };
              },
              step: (b) => crossEntropyStep(head.forward(b.features), b.targets),
              evaluate: (split) => env.evaluate(split),
            };
            return headStage({
              name: 'lws',
              epochs: o.epochs,
              task,
              sgd: { params: [head.scales], lr: o.lr, momentum: 0.9, weightDecay: 5e-4, perIteration: false },
              settings: s,
              finish: () => ({ scales: head.scales.toList() }),
              dispose: () => dispose(train),
            });
          },
          // The factor buffer comes back with the weights.
          restore: (model) => model.replaceHead(new ScaledHead(model.head, model.numClasses), { disposeOld: false }),
        },
      ],
    };
  },
});
