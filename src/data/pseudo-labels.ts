// Pseudo-label files (S1 §3; SPEC §4 "Pseudo-label self-training"): a base model's hard labels and
// confidences for every image of a run's unlabeled pool, written atomically next to the pool's manifest
// (pool.json) by `ltkit pseudo-label`, and read by a run that trains on labeled ∪ pseudo-labeled data.
//
// The file holds every pool image's label and confidence (max softmax probability) and the threshold it was
// made with; `keptIndices` applies the threshold (confidence ≥ threshold; the paper uses none, i.e. 0). It is
// tied to its pool by the pool's hash, so it cannot be applied to other images.
import * as fs from 'fs';
import * as path from 'path';
import { createHash } from 'crypto';
import { z } from 'zod';
import { writeFileAtomic } from '../util/fs';
import { ConfigError } from '../core/errors';

export const PSEUDO_LABELS_FILE = 'pseudo-labels.json';
export const POOL_FILE = 'pool.json';

const finite = z.number().refine(Number.isFinite, 'not a finite number');

export const PseudoLabelsSchema = z.object({
  format: z.literal(1),
  /** The pool these labels are for (pool.json's hash). */
  poolHash: z.string(),
  /** The run whose model made them, which weights, and the sha256 of those weights. */
  run: z.string(),
  checkpoint: z.enum(['final', 'best']),
  modelSha256: z.string(),
  numClasses: z.number().int().positive(),
  threshold: z.number().min(0).max(1),
  labels: z.array(z.number().int().nonnegative()),
  confidences: z.array(finite),
  createdAt: z.string(),
  /** Against the pool's true labels, when they are known (evaluation only). */
  quality: z
    .object({
      /** Relevant images with a known label: all of them, and those the threshold keeps. */
      evaluated: z.number().int().nonnegative(),
      accuracy: finite.nullable(),
      keptAccuracy: finite.nullable(),
      /** Per true class: accuracy (recall) of the pseudo-labels; null where the class has no image. */
      perClassAccuracy: z.array(finite.nullable()),
    })
    .nullable(),
  /** Kept pseudo-labels per class (after the threshold). */
  perClass: z.array(z.number().int().nonnegative()),
  kept: z.number().int().nonnegative(),
});
export type PseudoLabels = z.infer<typeof PseudoLabelsSchema>;

/** The kept pool positions (confidence ≥ threshold), ascending. */
export function keptIndices(p: { confidences: ArrayLike<number>; threshold: number }): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < p.confidences.length; i++) if (p.confidences[i] >= p.threshold) out.push(i);
  return Int32Array.from(out);
}

/** Kept pseudo-labels per class. */
export function keptPerClass(labels: ArrayLike<number>, kept: ArrayLike<number>, numClasses: number): number[] {
  const n = new Array<number>(numClasses).fill(0);
  for (let k = 0; k < kept.length; k++) n[labels[kept[k]]]++;
  return n;
}

/** Pseudo-label quality against the pool's true labels (−1: unknown or out of task, not evaluated). */
export function pseudoLabelQuality(
  labels: ArrayLike<number>,
  trueTargets: ArrayLike<number>,
  kept: ArrayLike<number>,
  numClasses: number,
): PseudoLabels['quality'] {
  let evaluated = 0;
  let right = 0;
  const hit = new Array<number>(numClasses).fill(0);
  const all = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const t = trueTargets[i];
    if (t < 0) continue;
    evaluated++;
    all[t]++;
    if (labels[i] === t) {
      right++;
      hit[t]++;
    }
  }
  if (evaluated === 0) return null;
  let keptN = 0;
  let keptRight = 0;
  for (let k = 0; k < kept.length; k++) {
    const t = trueTargets[kept[k]];
    if (t < 0) continue;
    keptN++;
    if (labels[kept[k]] === t) keptRight++;
  }
  return {
    evaluated,
    accuracy: right / evaluated,
    keptAccuracy: keptN > 0 ? keptRight / keptN : null,
    perClassAccuracy: all.map((n, c) => (n > 0 ? hit[c] / n : null)),
  };
}

export function writePseudoLabels(file: string, p: PseudoLabels): void {
  writeFileAtomic(file, JSON.stringify(p));
}

/** The pseudo-label file a config names: the file itself, or a run directory holding pseudo-labels.json. */
export function pseudoLabelsPath(spec: string): string {
  return fs.existsSync(spec) && fs.statSync(spec).isDirectory() ? path.join(spec, PSEUDO_LABELS_FILE) : spec;
}

/** Reads and validates a pseudo-label file; `key` names the config key in errors. */
export function readPseudoLabels(
  spec: string,
  key = 'data.unlabeled.pseudoLabels',
): { file: string; sha256: string; labels: PseudoLabels } {
  const file = pseudoLabelsPath(spec);
  if (!fs.existsSync(file)) {
    throw new ConfigError(`${key}: ${file} does not exist (make it with: ltkit pseudo-label --run <base run>)`);
  }
  const text = fs.readFileSync(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text.toString('utf8'));
  } catch (e) {
    throw new ConfigError(`${key}: ${file} is not JSON (${(e as Error).message})`);
  }
  const r = PseudoLabelsSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ConfigError(`${key}: ${file} is not a pseudo-label file: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  if (r.data.labels.length !== r.data.confidences.length) {
    throw new ConfigError(
      `${key}: ${file}: ${r.data.labels.length} labels but ${r.data.confidences.length} confidences`,
    );
  }
  return { file, sha256: createHash('sha256').update(text).digest('hex'), labels: r.data };
}
