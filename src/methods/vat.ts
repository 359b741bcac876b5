// Virtual Adversarial Training (Miyato et al., TPAMI 2018), one of S1's appendix semi-supervised methods:
// the KL divergence between the model's prediction on an unlabeled image and on that image moved by the
// small perturbation that changes the prediction most, found by one power iteration.
//
// With p = softmax(f(x)) held fixed (no gradient):
//   d ~ N(0, I);  d ← ξ · d / ‖d‖;  D(d) = KL(p ‖ softmax(f(x + d)));  g = ∂D/∂d;
//   r_adv = ε · g / ‖g‖;  loss = KL(p ‖ softmax(f(x + r_adv))),
// ‖·‖ the L2 norm of each image's perturbation (+1e-6, as USB's vat.py `l2_normalize` divides), the KL
// a batch mean (F.kl_div(..., reduction='batchmean')). Its passes leave BatchNorm's running statistics as they
// were (the classification task puts them back, as USB freezes them around VAT's unlabeled forwards). Defaults ξ = 1e-6 and ε = 6
// are USB's (vat_eps 6, xi 1e-6) and Oliver et al.'s CIFAR-10 setting; weight 0.3 is USB's ulb_loss_ratio.
import { z } from 'zod';
import { Tensor, noGrad, tidy, grad } from '../engine';
import { randnLike } from '../engine/ops.generated';
import type { ClassifierModel } from '../models';
import { register, methodOptions } from './registry';

/** Each image's perturbation scaled to unit L2 norm (over C, H, W), as USB's l2_normalize (+1e-6). */
export function l2Normalize(d: Tensor): Tensor {
  const n = d.shape[0];
  const norm = d
    .reshape([n, -1])
    .pow(2)
    .sum(1)
    .sqrt()
    .reshape([n, ...d.shape.slice(1).map(() => 1)]);
  return d.div(norm.add(1e-6));
}

/** KL(p ‖ softmax(logits)) averaged over the batch, p a fixed distribution. */
export function klFromProbs(p: Tensor, logits: Tensor): Tensor {
  const logq = logits.logSoftmax(1);
  return p.mul(p.add(1e-12).log().sub(logq)).sum(1).mean();
}

/**
 * The adversarial perturbation r_adv of one power iteration, from the starting direction `d0` (normally
 * N(0, I); tests pass a fixed one). `forward` maps a batch to logits; `p` is softmax(f(x)), fixed.
 */
export function vatPerturbation(
  forward: (x: Tensor) => Tensor,
  x: Tensor,
  p: Tensor,
  d0: Tensor,
  o: { xi: number; eps: number },
): Tensor {
  return tidy(() => {
    const d = l2Normalize(d0).mul(o.xi).detach().requiresGrad_(true);
    const dist = klFromProbs(p, forward(x.add(d)));
    const [g] = grad(dist, d);
    if (!g) throw new Error('vat: the perturbation got no gradient');
    return l2Normalize(g.detach()).mul(o.eps);
  });
}

/** VAT's loss on a batch: KL(p ‖ softmax(f(x + r_adv))) with p = softmax(f(x)) fixed. */
export function vatLoss(model: ClassifierModel, x: Tensor, o: { xi: number; eps: number }): Tensor {
  const p = noGrad(() => model.forward(x).softmax(1));
  const r = vatPerturbation((z) => model.forward(z), x, p, randnLike(x), o);
  return klFromProbs(p, model.forward(x.add(r)));
}

const options = {
  vat: z
    .object({
      xi: z.number().positive().finite().default(1e-6).describe('ξ: size of the power-iteration probe'),
      eps: z.number().positive().finite().default(6).describe('ε: L2 norm of the adversarial perturbation'),
      weight: z.number().min(0).finite().default(0.3).describe('weight of the VAT loss'),
    })
    .strict()
    .default({}),
};

register({
  name: 'vat',
  slot: 'unlabeled',
  help: 'Virtual Adversarial Training (Miyato et al. 2018): one power iteration, ξ and ε in method.vat',
  options,
  build(ctx) {
    const o = methodOptions(ctx, options).vat;
    return {
      unlabeled: {
        views: ['weak'],
        create: () => ({
          name: 'vat',
          loss: (u) => vatLoss(u.model, u.views[0], o).mul(o.weight),
        }),
      },
    };
  },
});
