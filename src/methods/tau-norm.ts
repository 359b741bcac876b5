// τ-normalised classifier (the `classifier` slot): Kang et al., "Decoupling Representation and Classifier
// for Long-Tailed Recognition" (ICLR 2020) §4; reference facebookresearch/classifier-balancing tau_norm.py.
// After the main training each classifier row becomes W_c / ‖W_c‖^τ (bias dropped), τ swept over
// `method.tauNorm.taus` and chosen on the validation split when one exists (the reference chooses on the
// test set; then the run says so). The chosen head is installed in the model as a bias-free nn.Linear, so
// the run's final weights are the τ-normalised classifier (`ltkit eval` and `predict` use it as saved).
import { z } from 'zod';
import { noGrad, tidy, dispose } from '../engine';
import { copy_ } from '../engine/ops.generated';
import { Linear } from '../nn/layers';
import type { ClassifierModel } from '../models';
import { tauSweep, tauNormalize, defaultTaus } from '../eval/decoupled';
import { register, methodOptions } from './registry';

const tauNormOptions = {
  tauNorm: z
    .object({ taus: z.array(z.number().finite()).min(1).default(defaultTaus()).describe('τ values to sweep') })
    .strict()
    .default({}),
};

/** The head's weight as rows W_c [C, D] (LDAM's cosine head stores [D, C]). */
function classifierRows(model: ClassifierModel) {
  const w = model.head.namedParameters().find(([n]) => n === 'weight')?.[1];
  if (!w || w.ndim !== 2) throw new Error('tau-norm: the model head has no 2-D weight');
  return noGrad(() => tidy(() => (w.shape[0] === model.numClasses ? w.detach() : w.detach().t().contiguous())));
}

/** A bias-free linear head [C, D] — the structure τ-norm leaves. */
function tauHead(model: ClassifierModel): Linear {
  return new Linear(model.featureDim, model.numClasses, { bias: false });
}

export const tauNorm = register({
  name: 'tau-norm',
  slot: 'classifier',
  help: 'τ-normalised classifier weights, τ swept after training',
  options: tauNormOptions,
  build(ctx) {
    const taus = methodOptions(ctx, tauNormOptions).tauNorm.taus;
    return {
      stages: [
        {
          name: 'tau-norm',
          build: (env) => ({
            name: 'tau-norm',
            epochs: 0,
            task: null,
            optimizer: null,
            lrAt: () => 0,
            evalEvery: 0,
            selectBest: false,
            finish() {
              const model = env.model;
              const test = env.features('test');
              const val = env.features('val') ?? undefined;
              if (!test) throw new Error('tau-norm: no test split to evaluate on');
              const rows = classifierRows(model);
              const sweep = tauSweep(test.features, test.targets, rows, null, taus, {
                val,
                trainCounts: env.clsNumList,
              });
              const tau = sweep.best.tau;
              const head = tauHead(model);
              noGrad(() => tidy(() => copy_(head.weight, tauNormalize(rows, tau))));
              dispose([rows, test, val]);
              model.replaceHead(head);
              if (sweep.selectedOn === 'test')
                env.log('[tau-norm] no validation split: τ was chosen on the test set (set data.valPerClass)');
              env.log(`[tau-norm] τ = ${tau} (selected on ${sweep.selectedOn}); the head is now W_c/‖W_c‖^τ`);
              return {
                tau,
                selectedOn: sweep.selectedOn,
                sweep: sweep.entries.map((e) => ({ tau: e.tau, testTop1: e.test.top1, valTop1: e.val?.top1 ?? null })),
              };
            },
            dispose: () => undefined,
          }),
          restore: (model) => model.replaceHead(tauHead(model)),
        },
      ],
    };
  },
});
