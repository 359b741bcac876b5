// Training progress (S2 Fig. 1, 3): after an epoch, per class c,
//   accuracy(c) = |{n : y_n = c, ŷ_n = c}| / N_c
//   ratio(c)    = |{n : ŷ_n = c}| / N_c      ("the numbers of training instances classified into a class
//                                            divided by the number of training instances which truly
//                                            belong to that class", S2 Fig. 1b)
// over a clean pass of the training set (clean-pass.ts).
import { noGrad, tidy } from '../engine';
import type { ClassifierModel } from '../models';
import { CleanSet, cleanBatches, inEvalMode, perClassMean } from './clean-pass';

export interface TrainingProgress {
  /** Per class: the fraction of its training images classified correctly (null: no images). */
  accuracy: (number | null)[];
  /** Per class: images predicted as the class / images of the class (null: no images). */
  ratio: (number | null)[];
}

/** Counts per class from labels and predictions: images, correct, predicted-as. */
export function progressCounts(
  labels: ArrayLike<number>,
  predicted: ArrayLike<number>,
  numClasses: number,
): { count: Float64Array; correct: Float64Array; predictedAs: Float64Array } {
  const count = new Float64Array(numClasses);
  const correct = new Float64Array(numClasses);
  const predictedAs = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    count[labels[i]]++;
    predictedAs[predicted[i]]++;
    if (labels[i] === predicted[i]) correct[labels[i]]++;
  }
  return { count, correct, predictedAs };
}

/** Training progress of `model` on a clean pass over `data` (S2 Fig. 1, 3). */
export function trainingProgress(model: ClassifierModel, data: CleanSet, numClasses: number): TrainingProgress {
  const labels: number[] = [];
  const predicted: number[] = [];
  inEvalMode(model, () =>
    noGrad(() => {
      for (const b of cleanBatches(data)) {
        const pred = tidy(() => Array.from(model.forward(b.x).argmax({ dim: 1 }).toArray(), Number));
        predicted.push(...pred);
        labels.push(...Array.from(b.indices, (i) => data.set.targets[i]));
      }
    }),
  );
  const { count, correct, predictedAs } = progressCounts(labels, predicted, numClasses);
  return { accuracy: perClassMean(correct, count), ratio: perClassMean(predictedAs, count) };
}
