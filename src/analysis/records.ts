// What the analyses write into a run directory, read back through these schemas by reports and plots:
//   runs/<name>/analysis.jsonl          one line per analysis per epoch it ran (training progress, feature-
//                                       gradient norms, feature deviation), appended like metrics.jsonl
//   runs/<name>/embedding-<method>.json a 2-D embedding (t-SNE / UMAP) of the run's train + test features
import { z } from 'zod';

const num = z.number().finite();
const perClass = z.array(num.nullable());

/**
 * Training progress (S2 Fig. 1, 3): per-class accuracy on a clean pass over the training set (no
 * augmentation, no feature hook, eval-mode BatchNorm) and the classification ratio predicted-as-c / truly-c.
 */
export const ProgressRecordSchema = z.object({
  type: z.literal('progress'),
  stage: z.string(),
  epoch: z.number().int().nonnegative(),
  accuracy: perClass,
  ratio: perClass,
  seconds: num,
});

/** Feature-gradient norms (S2 Fig. 4): mean ‖∇_{g(x)} ℓ‖ over the class's training images, at model stage `at`. */
export const GradNormRecordSchema = z.object({
  type: z.literal('gradNorm'),
  stage: z.string(),
  epoch: z.number().int().nonnegative(),
  at: z.string(),
  perClass,
  seconds: num,
});

/** Feature deviation (S2 §5.4, SPEC §6): per class, with K (smallest class size) and R subsamples. */
export const DeviationRecordSchema = z.object({
  type: z.literal('deviation'),
  stage: z.string(),
  epoch: z.number().int().nonnegative(),
  K: z.number().int().positive(),
  R: z.number().int().positive(),
  perClass,
  seconds: num,
});

export const AnalysisRecordSchema = z.discriminatedUnion('type', [
  ProgressRecordSchema,
  GradNormRecordSchema,
  DeviationRecordSchema,
]);
export type ProgressRecord = z.infer<typeof ProgressRecordSchema>;
export type GradNormRecord = z.infer<typeof GradNormRecordSchema>;
export type DeviationRecord = z.infer<typeof DeviationRecordSchema>;
export type AnalysisRecord = z.infer<typeof AnalysisRecordSchema>;

export const ANALYSIS_FILE = 'analysis.jsonl';
export const embeddingFile = (method: string) => `embedding-${method}.json`;

/** A 2-D embedding of a run's features: one point per image, with its class and split. */
export const EmbeddingSchema = z.object({
  method: z.enum(['tsne', 'umap']),
  seed: z.number().int(),
  /** The method's settings (perplexity, neighbours, …) and how many images of each split were embedded. */
  options: z.record(z.unknown()),
  classNames: z.array(z.string()),
  /** Each class's shot group by its training count (many > 100, medium 20–100, few < 20). */
  groups: z.array(z.enum(['many', 'medium', 'few'])),
  points: z.array(
    z.object({ x: num, y: num, label: z.number().int().nonnegative(), split: z.enum(['train', 'test']) }),
  ),
});
export type Embedding = z.infer<typeof EmbeddingSchema>;
