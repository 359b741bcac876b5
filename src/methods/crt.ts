// cRT, classifier re-training (the `classifier` slot): Kang et al., "Decoupling Representation and Classifier
// for Long-Tailed Recognition" (ICLR 2020) §4; reference facebookresearch/classifier-balancing
// (config/*/cls_crt.yaml, ClassAwareSampler.py). After the main training the backbone is frozen, the
// classifier re-initialised (PyTorch's nn.Linear default init, as the reference builds a fresh layer) and
// trained alone with class-aware sampling (4 images per class visit) under a cosine schedule stepped per
// iteration (the reference's coslr). The backbone runs in eval mode (BN statistics frozen) without a graph;
// the training images keep the run's augmentation.
import { z } from 'zod';
import { manualSeed, noGrad } from '../engine';
import { ClassAwareSampler } from '../data/samplers';
import type { Batch } from '../data/loader';
import { ClassTally } from '../core/task';
import type { Task } from '../core/task';
import { register, methodOptions } from './registry';
import { crossEntropyStep, headStage } from './head-stage';

const crtOptions = {
  crt: z
    .object({
      epochs: z.number().int().positive().default(10).describe('cRT epochs'),
      lr: z.number().positive().finite().default(0.1).describe('cRT base learning rate (cosine to 0)'),
      samplesPerClass: z.number().int().positive().default(4).describe('class-aware sampling: images per visit'),
    })
    .strict()
    .default({}),
};

export const crt = register({
  name: 'crt',
  slot: 'classifier',
  help: 'classifier re-training: frozen backbone, new head, class-aware sampling',
  options: crtOptions,
  build(ctx) {
    const o = methodOptions(ctx, crtOptions).crt;
    const s = ctx.settings;
    return {
      stages: [
        {
          name: 'crt',
          build(env) {
            const model = env.model;
            manualSeed(s.seed + 1000);
            model.resetHead({ init: 'default' });
            const backbone = model.backboneParameters();
            for (const p of backbone) p.requiresGrad = false;
            const sampler = new ClassAwareSampler(env.trainTargets, { numSamplesCls: o.samplesPerClass, seed: s.seed });
            const tally = new ClassTally(env.trainTargets, env.numClasses);
            const task: Task<Batch> = {
              batches: env.trainLoader(sampler),
              beginEpoch: () => ({ sampler: sampler.name }),
              endEpoch: () => tally.take(),
              step(b) {
                tally.add(b.indices);
                model.eval();
                const features = noGrad(() => model.forwardBackbone(b.x)); // [B, D], no graph into the backbone
                model.head.train();
                return crossEntropyStep(model.head.forward(features), b.y);
              },
              evaluate: (split) => env.evaluate(split),
            };
            return headStage({
              name: 'crt',
              epochs: o.epochs,
              task,
              sgd: {
                params: model.headParameters(),
                lr: o.lr,
                momentum: s.optim.momentum,
                weightDecay: s.optim.weightDecay,
                perIteration: true,
              },
              settings: s,
              finish() {
                for (const p of backbone) p.requiresGrad = true;
                return {};
              },
            });
          },
        },
      ],
    };
  },
});
