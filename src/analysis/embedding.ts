// t-SNE / UMAP of a finished run's features (SPEC §6; S1 Fig. 1 and Fig. 4: "the projection is performed over
// both training and test data, thus providing the same decision boundary for better visualization").
//
// The run's model (train/run-model.ts, every stage applied) maps a seeded, class-stratified sample of its
// training and test images to pooled backbone features (the input of the classifier head); the 2-D embedding
// is computed by druidjs (@saehrimnir/druidjs: TSNE, van der Maaten & Hinton 2008; UMAP, McInnes et al. 2018),
// seeded, and written to <run>/embedding-<method>.json (analysis/records.ts EmbeddingSchema) and a scatter plot
// <run>/embedding-<method>.svg. Same run, method, seed and options ⇒ the same points.
import * as path from 'path';
import { TSNE, UMAP } from '@saehrimnir/druidjs';
import { dispose } from '../engine';
import { buildTrainData, ImageSet } from '../data/train-data';
import { shotGroup } from '../data/longtail/groups';
import { extractFeatures } from '../train/classification';
import { loadRunModel, RunCheckpoint } from '../train/run-model';
import { fmtTime } from '../train/progress';
import { Rng } from '../util/rng';
import { writeFileAtomic } from '../util/fs';
import { Embedding, EmbeddingSchema, embeddingFile } from './records';

export type EmbeddingMethod = 'tsne' | 'umap';

export interface EmbedOptions {
  method: EmbeddingMethod;
  /** Seeds the image sample and the embedding's initialisation (default 0). */
  seed?: number;
  /** Training images to embed, class-stratified (default 1200, at most the training set). */
  perTrain?: number;
  /** Test images to embed, class-stratified (default 800, at most the test set). */
  perTest?: number;
  /** t-SNE perplexity (default 30, capped below the number of points). */
  perplexity?: number;
  /** UMAP neighbourhood size (default 15, capped below the number of points). */
  neighbors?: number;
  /** Optimisation iterations (t-SNE steps, default 500; UMAP epochs, default 350). */
  iterations?: number;
  /** Which weights of the run (default 'final'). */
  checkpoint?: RunCheckpoint;
  /** Progress lines (the CLI writes them to stderr); none by default. */
  progress?: (line: string) => void;
  /** Also render <run>/embedding-<method>.svg (default true). */
  svg?: boolean;
}

export interface EmbedResult {
  embedding: Embedding;
  jsonFile: string;
  svgFile: string | null;
  /** The weights used, in words (loadRunModel's description). */
  model: string;
  seconds: number;
}

export const EMBED_DEFAULTS = { perTrain: 1200, perTest: 800, perplexity: 30, neighbors: 15 } as const;
export const DEFAULT_ITERATIONS: Record<EmbeddingMethod, number> = { tsne: 500, umap: 350 };

/** Classes with fewer images than this are taken whole whenever the budget allows (the few-shot threshold, SPEC §6). */
const FLOOR_PER_CLASS = 20;

/**
 * How many images of each class to embed out of `counts`, `budget` in all: every class at least
 * min(count, floor) — so few-shot classes (< 20) are taken whole — and above that floor in proportion to the
 * class's size, so a long-tailed training split still looks long-tailed. The floor shrinks (to ⌊budget / C⌋,
 * at least 1) only when the budget cannot hold it; never more than `budget` images unless C > budget.
 */
export function stratifiedQuota(counts: ArrayLike<number>, budget: number): number[] {
  const C = counts.length;
  const total = Array.from(counts).reduce((a, b) => a + b, 0);
  if (budget >= total) return Array.from(counts);
  let floor = FLOOR_PER_CLASS;
  const atScale = (s: number) =>
    Array.from(counts, (n) => Math.min(n, Math.max(Math.min(n, floor), Math.floor(s * n))));
  const sum = (q: number[]) => q.reduce((a, b) => a + b, 0);
  if (sum(atScale(0)) > budget) floor = Math.max(1, Math.floor(budget / C));
  // Largest proportional scale s ∈ [0, 1] whose quotas fit the budget (sum is monotone in s).
  let lo = 0;
  let hi = 1;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (sum(atScale(mid)) <= budget) lo = mid;
    else hi = mid;
  }
  return atScale(lo);
}

/** A seeded class-stratified sample of `targets` with the given per-class quotas (indices ascending). */
export function stratifiedSample(targets: Int32Array, quota: number[], rng: Rng): Int32Array {
  const byClass: number[][] = quota.map(() => []);
  for (let i = 0; i < targets.length; i++) byClass[targets[i]]?.push(i);
  const out: number[] = [];
  byClass.forEach((list, c) => {
    const p = rng.fork(c).permutation(list.length);
    for (let k = 0; k < Math.min(quota[c], list.length); k++) out.push(list[p[k]]);
  });
  return Int32Array.from(out.sort((a, b) => a - b));
}

function subset(set: ImageSet, indices: Int32Array): ImageSet {
  const per = set.shape[1] * set.shape[2] * set.shape[3];
  const images = new Uint8Array(indices.length * per);
  const targets = new Int32Array(indices.length);
  indices.forEach((i, k) => {
    images.set(set.images.subarray(i * per, (i + 1) * per), k * per);
    targets[k] = set.targets[i];
  });
  return { images, shape: [indices.length, set.shape[1], set.shape[2], set.shape[3]], targets };
}

function classCounts(targets: Int32Array, C: number): number[] {
  const n = new Array<number>(C).fill(0);
  for (const t of targets) n[t]++;
  return n;
}

/** Embeds n × D features (row-major) into 2-D with druidjs, reporting iterations with an ETA. */
export function embedPoints(
  features: Float32Array | Float64Array,
  n: number,
  o: {
    method: EmbeddingMethod;
    seed: number;
    perplexity: number;
    neighbors: number;
    iterations: number;
    progress?: (line: string) => void;
  },
): Float64Array[] {
  const D = features.length / n;
  const X: Float64Array[] = [];
  for (let i = 0; i < n; i++) X.push(Float64Array.from(features.subarray(i * D, (i + 1) * D)));
  // druidjs's Randomizer takes an integer seed; 0 is a valid one, but offset it so seed 0 is not special.
  const seed = o.seed + 1;
  const dr =
    o.method === 'tsne'
      ? new TSNE(X, { perplexity: o.perplexity, d: 2, seed })
      : new UMAP(X, { n_neighbors: o.neighbors, d: 2, seed });
  o.progress?.(`${o.method}: building the neighbourhood graph of ${n} points`);
  const steps = dr.generator(o.iterations); // initialises (affinities / kNN graph) on its first step
  let t0 = 0;
  let last = 0;
  for (let i = 1; !steps.next().done; i++) {
    const now = Date.now();
    if (i === 1) t0 = now; // time the optimisation steps only, after the graph is built
    if (o.progress && (now - last > 2000 || i === o.iterations)) {
      last = now;
      const per = i > 1 ? (now - t0) / 1000 / (i - 1) : 0;
      o.progress(`${o.method}: iteration ${i}/${o.iterations}, ETA ${fmtTime(per * (o.iterations - i))}`);
    }
  }
  const Y = dr.projection as unknown as ArrayLike<ArrayLike<number>>;
  return Array.from({ length: n }, (_, k) => Float64Array.from([Y[k][0], Y[k][1]]));
}

/**
 * The 2-D embedding of a finished run's train + test features; writes <run>/embedding-<method>.json (atomic)
 * and, unless `svg: false`, <run>/embedding-<method>.svg.
 */
export async function embedRun(runDir: string, opts: EmbedOptions): Promise<EmbedResult> {
  const t0 = Date.now();
  const method = opts.method;
  if (method !== 'tsne' && method !== 'umap') throw new Error(`embedding method must be tsne or umap, got '${method}'`);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`embedding seed must be an integer, got ${seed}`);
  const say = opts.progress ?? (() => undefined);
  const r = loadRunModel(runDir, opts.checkpoint ?? 'final');
  try {
    const info = r.info;
    const C = info.data.numClasses;
    const classNames = info.data.classNames ?? Array.from({ length: C }, (_, c) => String(c));
    // Shot groups by the labeled training counts (pseudo-labels are not training images of the class).
    const trainCounts = info.data.labeledCounts ?? info.data.clsNumList;
    const groups = trainCounts.map((n) => shotGroup(n));
    say(`embed: ${r.description}; loading the run's data (${r.config.data.dataset})`);
    const data = buildTrainData(r.config.data);
    // A 'concat' pseudo-label run appends the pool images after the labeled subset; embed the labeled ones.
    const nLabeled = trainCounts.reduce((a, b) => a + b, 0);
    const labeled = subset(
      data.train,
      Int32Array.from({ length: Math.min(nLabeled, data.train.targets.length) }, (_, i) => i),
    );
    const rng = new Rng(seed, 0x656d62);
    const splits: { split: 'train' | 'test'; set: ImageSet }[] = [];
    const budgets = { train: opts.perTrain ?? EMBED_DEFAULTS.perTrain, test: opts.perTest ?? EMBED_DEFAULTS.perTest };
    for (const [split, set] of [
      ['train', labeled],
      ['test', data.test],
    ] as const) {
      const budget = budgets[split];
      if (!(Number.isInteger(budget) && budget >= 0))
        throw new Error(`per-${split} count must be an integer ≥ 0, got ${budget}`);
      const quota = stratifiedQuota(classCounts(set.targets, C), budget);
      splits.push({
        split,
        set: subset(set, stratifiedSample(set.targets, quota, rng.fork(split === 'train' ? 1 : 2))),
      });
    }
    const n = splits.reduce((a, s) => a + s.set.targets.length, 0);
    if (n < 4) throw new Error(`embedding needs at least 4 images, got ${n}`);
    say(`embed: extracting features of ${splits.map((s) => `${s.set.targets.length} ${s.split}`).join(' + ')} images`);
    const parts: Float32Array[] = [];
    const labels: { label: number; split: 'train' | 'test' }[] = [];
    for (const s of splits) {
      if (s.set.targets.length === 0) continue;
      const f = extractFeatures(r.model, s.set, r.pipes.test);
      try {
        parts.push(Float32Array.from(f.features.toArray() as Float32Array));
      } finally {
        dispose([f.features, f.targets]);
      }
      for (const t of s.set.targets) labels.push({ label: t, split: s.split });
    }
    const features = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) {
      features.set(p, off);
      off += p.length;
    }
    // Neighbourhood sizes must stay below the number of points (perplexity ≈ effective neighbours).
    const perplexity = Math.min(opts.perplexity ?? EMBED_DEFAULTS.perplexity, Math.max(1, Math.floor((n - 1) / 3)));
    const neighbors = Math.min(opts.neighbors ?? EMBED_DEFAULTS.neighbors, n - 1);
    const iterations = opts.iterations ?? DEFAULT_ITERATIONS[method];
    if (!(Number.isInteger(iterations) && iterations > 0))
      throw new Error(`iterations must be a positive integer, got ${iterations}`);
    say(`embed: ${method} of ${n} points × ${features.length / n} features, ${iterations} iterations`);
    const Y = embedPoints(features, n, { method, seed, perplexity, neighbors, iterations, progress: say });
    const embedding: Embedding = EmbeddingSchema.parse({
      method,
      seed,
      options: {
        ...(method === 'tsne' ? { perplexity } : { neighbors }),
        iterations,
        checkpoint: opts.checkpoint ?? 'final',
        model: r.description,
        features: 'pooled backbone features (classifier-head input)',
        train: splits[0].set.targets.length,
        test: splits[1].set.targets.length,
        library: '@saehrimnir/druidjs',
      },
      classNames,
      groups,
      points: Y.map((p, i) => ({ x: p[0], y: p[1], label: labels[i].label, split: labels[i].split })),
    });
    const jsonFile = path.join(r.run.dir, embeddingFile(method));
    writeFileAtomic(jsonFile, JSON.stringify(embedding) + '\n');
    let svgFile: string | null = null;
    if (opts.svg ?? true) {
      svgFile = jsonFile.replace(/\.json$/, '.svg');
      writeFileAtomic(svgFile, await embeddingSvg(embedding, `${path.basename(r.run.dir)}: ${method} (seed ${seed})`));
    }
    const seconds = (Date.now() - t0) / 1000;
    say(`embed: wrote ${jsonFile}${svgFile ? ` and ${path.basename(svgFile)}` : ''} in ${fmtTime(seconds)}`);
    return { embedding, jsonFile, svgFile, model: r.description, seconds };
  } finally {
    r.model.dispose();
  }
}

/** The scatter plot of an embedding (report/charts.ts embeddingScatter, rendered by report/svg.ts). */
export async function embeddingSvg(e: Embedding, title: string): Promise<string> {
  const { embeddingScatter } = await import('../report/charts');
  const { renderSvg } = await import('../report/svg');
  return renderSvg(embeddingScatter(e.points, e.classNames, e.groups, title));
}
