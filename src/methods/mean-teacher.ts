// Mean Teacher (Tarvainen & Valpola, NeurIPS 2017), one of S1's appendix semi-supervised methods: a teacher
// whose weights are an exponential moving average of the student's, and a consistency cost between the
// student's and the teacher's softmax outputs on two augmentations of the same unlabeled images.
//
// Formulas of the authors' PyTorch code (CuriousAI/mean-teacher, pytorch/main.py and mean_teacher/ramps.py):
//   EMA after every optimizer step g (0-based): a = min(1 − 1/(g + 1), α); θ'_t ← a·θ'_t + (1 − a)·θ_s
//     (parameters only; the teacher's BatchNorm statistics come from its own forward passes in train mode);
//   the student's pass over the unlabeled views is its own, and leaves its running statistics as they were
//   (the classification task puts them back, as USB's meanteacher freezes BatchNorm around that pass);
//   consistency = w(t) · mean over batch and classes of (softmax(student) − softmax(teacher))²
//     (softmax_mse_loss summed over classes / C, then / batch size, as main.py divides it);
//   w(t) = w_max · exp(−5 (1 − min(1, t / T))²), the sigmoid ramp-up, t in epochs.
// Defaults α = 0.999, w_max = 50 and a ramp-up over 40% of training follow USB's (microsoft/
// Semi-supervised-learning) meanteacher settings (ema_m 0.999, ulb_loss_ratio 50, unsup_warm_up 0.4).
import { z } from 'zod';
import { Tensor, noGrad, tidy, dispose } from '../engine';
import { copy_, mseLoss } from '../engine/ops.generated';
import { emaUpdate, copyWeights } from '../nn/ema';
import { register, methodOptions } from './registry';
import type { UnlabeledTerm } from './types';

/** The sigmoid ramp-up exp(−5(1 − t/T)²) for t in [0, T], 1 after (T = 0: always 1). */
export function sigmoidRampup(t: number, length: number): number {
  if (length <= 0) return 1;
  const phase = 1 - Math.min(1, Math.max(0, t / length));
  return Math.exp(-5 * phase * phase);
}

/** The EMA coefficient after optimizer step `globalStep` (0-based): min(1 − 1/(g + 1), α). */
export function emaDecay(globalStep: number, alpha: number): number {
  return Math.min(1 - 1 / (globalStep + 1), alpha);
}

/** Mean squared difference of the two softmax outputs (mean over batch and classes). */
export function softmaxMse(student: Tensor, teacher: Tensor): Tensor {
  return mseLoss(student.softmax(1), teacher.softmax(1).detach());
}

const options = {
  meanTeacher: z
    .object({
      ema: z.number().min(0).max(1).default(0.999).describe('EMA decay α of the teacher'),
      weight: z.number().min(0).finite().default(50).describe('consistency weight w_max'),
      rampup: z
        .number()
        .min(0)
        .max(1)
        .default(0.4)
        .describe('fraction of the epochs over which the weight ramps up (sigmoid)'),
    })
    .strict()
    .default({}),
};

register({
  name: 'mean-teacher',
  slot: 'unlabeled',
  help: 'Mean Teacher (Tarvainen & Valpola 2017): EMA teacher, softmax consistency on unlabeled data',
  options,
  build(ctx) {
    const o = methodOptions(ctx, options).meanTeacher;
    return {
      unlabeled: {
        // Student and teacher see independently augmented views.
        views: ['weak', 'weak'],
        create(env): UnlabeledTerm {
          const teacher = env.cloneModel();
          copyWeights(teacher, env.model);
          teacher.requiresGrad_(false);
          teacher.train();
          return {
            name: 'consistency',
            loss(u) {
              const t = (u.epoch + u.step / Math.max(1, u.steps)) / Math.max(1, u.epochs);
              const w = o.weight * sigmoidRampup(t, o.rampup);
              const student = u.model.forward(u.views[0]);
              const target = noGrad(() => teacher.forward(u.views[1]));
              return softmaxMse(student, target).mul(w);
            },
            afterStep(s) {
              emaUpdate(teacher, env.model, emaDecay(s.epoch * s.steps + s.step, o.ema));
            },
            state: () => Object.fromEntries(Object.entries(teacher.stateDict()).map(([k, v]) => [`teacher.${k}`, v])),
            loadState(t) {
              const own = teacher.stateDict();
              try {
                noGrad(() => {
                  for (const [k, v] of Object.entries(own)) {
                    const src = t[`teacher.${k}`];
                    if (!src) throw new Error(`mean teacher: the checkpoint has no 'teacher.${k}'`);
                    tidy(() => copy_(v, src));
                  }
                });
              } finally {
                dispose(own);
              }
            },
            dispose: () => teacher.dispose(),
          };
        },
      },
    };
  },
});
