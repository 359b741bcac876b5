// FixMatch (Sohn et al., NeurIPS 2020), the baseline today's semi-supervised long-tail work (USB) starts from:
// the model's confident prediction on a weakly augmented unlabeled image (flip and crop) is the hard target
// for a strongly augmented view of the same image (RandAugment + Cutout, data/transforms/randaugment.ts).
//
//   q = softmax(f(weak) / T) without gradient;  ŷ = argmax q;  mask = max q ≥ τ;
//   loss = λ_u · mean over the unlabeled batch of mask · CE(f(strong), ŷ)
// (the mean runs over every unlabeled image, masked ones counting as 0, as FixMatch's Eq. 4 and USB's
// consistency_loss with a mask do). τ = 0.95, T = 1, λ_u = 1 and μ (data.unlabeled.ratio) = 7 are the paper's.
import { z } from 'zod';
import { Tensor, noGrad } from '../engine';
import { crossEntropyLoss } from '../engine/ops.generated';
import { REDUCTION_NONE } from '../losses/cross-entropy';
import { register, methodOptions } from './registry';
import type { UnlabeledTerm } from './types';

/** FixMatch's pseudo-targets and mask from the weak view's logits. */
export function fixmatchTargets(weakLogits: Tensor, o: { threshold: number; temperature: number }) {
  return noGrad(() => {
    const q = weakLogits.div(o.temperature).softmax(1);
    const [conf, target] = q.maxDim(1);
    return { target, mask: conf.ge(o.threshold).toDtype('float32') };
  });
}

/** mean_n mask_n · CE(strong_n, target_n). */
export function fixmatchLoss(strongLogits: Tensor, target: Tensor, mask: Tensor): Tensor {
  return crossEntropyLoss(strongLogits, target, { reduction: REDUCTION_NONE }).mul(mask).mean();
}

const options = {
  fixmatch: z
    .object({
      threshold: z.number().min(0).max(1).default(0.95).describe('τ: confidence a pseudo-target needs'),
      temperature: z.number().positive().finite().default(1).describe('T of the weak view softmax'),
      weight: z.number().min(0).finite().default(1).describe('λ_u'),
    })
    .strict()
    .default({}),
};

register({
  name: 'fixmatch',
  slot: 'unlabeled',
  help: 'FixMatch (Sohn et al. 2020): confident weak-view labels train the strong view (μ = data.unlabeled.ratio)',
  options,
  build(ctx) {
    const o = methodOptions(ctx, options).fixmatch;
    return {
      unlabeled: {
        views: ['weak', 'strong'],
        create(): UnlabeledTerm {
          let masked = 0;
          let seen = 0;
          return {
            name: 'fixmatch',
            // Labeled, weak and strong images in one forward pass (the authors' interleave, USB's use_cat);
            // the weak view's logits only make targets.
            joint: [0, 1],
            loss(u) {
              const { target, mask } = fixmatchTargets(u.logits[0].detach(), o);
              masked += mask.sum().item();
              seen += mask.shape[0];
              return fixmatchLoss(u.logits[1], target, mask).mul(o.weight);
            },
            endEpoch() {
              const r = { fixmatchMaskRate: seen > 0 ? masked / seen : null };
              masked = 0;
              seen = 0;
              return r;
            },
          };
        },
      },
    };
  },
});
