// The kNN monitor of self-supervised pre-training: how well an encoder's features separate the classes
// without training a classifier, and — split by shot group — whether they favour the head classes less than
// a supervised encoder's (S1 §4's point).
//
// As the MoCo repositories' monitor (the weighted kNN of Wu et al. 2018, "Unsupervised Feature Learning via
// Non-Parametric Instance Discrimination", as used in facebookresearch/moco's CIFAR demo): features are
// L2-normalised; for each test image the k most cosine-similar training images vote for their class with
// weight exp(similarity / t); the predicted class has the largest total (k = 200, t = 0.1).
import { Tensor, tidy, noGrad, zeros, keep, dispose, cat } from '../engine';
import { normalize } from '../nn/functional';
import { ClassificationMeter, ClassificationSummary } from '../eval/metrics';

export interface KnnOptions {
  k?: number;
  temperature?: number;
  numClasses: number;
  /** Test rows per similarity block (memory: block × N_train floats). */
  block?: number;
}

/** Class scores [N_test, C] of the weighted kNN vote (Σ over the k neighbours of exp(sim/t) per class). */
export function knnScores(trainFeatures: Tensor, trainLabels: Tensor, testFeatures: Tensor, o: KnnOptions): Tensor {
  const k = Math.min(o.k ?? 200, trainFeatures.shape[0]);
  const t = o.temperature ?? 0.1;
  const block = o.block ?? 1024;
  return noGrad(() =>
    tidy(() => {
      const bank = normalize(trainFeatures.toDtype('float32'), { dim: 1 });
      const labels = trainLabels.toDtype('int64');
      const parts: Tensor[] = [];
      for (let s = 0; s < testFeatures.shape[0]; s += block) {
        parts.push(
          keep(
            tidy(() => {
              const q = normalize(
                testFeatures.narrow(0, s, Math.min(block, testFeatures.shape[0] - s)).toDtype('float32'),
                {
                  dim: 1,
                },
              );
              const [sim, idx] = q.matmul(bank.t()).topk(k, { dim: 1 });
              const votes = labels.index([idx]); // [b, k]
              const w = sim.div(t).exp();
              return zeros([q.shape[0], o.numClasses]).scatterAdd(1, votes, w);
            }),
          ),
        );
      }
      const out = cat(parts, { dim: 0 });
      dispose(parts);
      return out;
    }),
  );
}

/** The kNN classifier's summary on a split (top-1, balanced accuracy, many/medium/few by `trainCounts`). */
export function knnSummary(
  train: { features: Tensor; targets: Tensor },
  test: { features: Tensor; targets: Tensor },
  o: KnnOptions & { trainCounts: number[] },
): ClassificationSummary {
  const meter = new ClassificationMeter(o.numClasses, { trainCounts: o.trainCounts });
  const scores = knnScores(train.features, train.targets, test.features, o);
  try {
    meter.update(scores, test.targets);
  } finally {
    scores.dispose();
  }
  return meter.summary();
}
