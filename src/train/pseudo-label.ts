// Pseudo-label self-training (S1 §3; SPEC §4): a base model trained on the labeled long-tailed set labels the
// run's unlabeled pool (hard argmax labels, with the max softmax probability as confidence), and a final
// model is trained from scratch on labeled ∪ pseudo-labeled data (data.unlabeled.pseudoLabels).
//
// `pseudoLabel` writes the labels of one run's pool; `selfTrain` runs the whole chain — base run →
// pseudo-labels → final run, optionally for several rounds (round r labels the pool with round r − 1's
// model) — as ordinary runs inside one chain folder, reusing every finished part.
import * as fs from 'fs';
import * as path from 'path';
import { noGrad, tidy, dispose, cat, keep } from '../engine';
import type { Tensor } from '../engine';
import { DataLoader, InMemorySource, ShuffleSampler } from '../data/loader';
import { buildTrainData } from '../data/train-data';
import {
  PseudoLabels,
  PSEUDO_LABELS_FILE,
  keptIndices,
  keptPerClass,
  pseudoLabelQuality,
  writePseudoLabels,
  readPseudoLabels,
} from '../data/pseudo-labels';
import { loadRunModel, RunCheckpoint } from './run-model';
import { ConfigError, TrainConfig, TrainConfigInput, resolveConfig, resumeConfig } from './config';
import { RunDir } from './run-dir';
import { train, TrainOptions, TrainResult } from './trainer';
import { writeFileAtomic } from '../util/fs';

export interface PseudoLabelOptions {
  /** Keep only pseudo-labels with confidence ≥ threshold (0: all, as the paper). */
  threshold?: number;
  checkpoint?: RunCheckpoint;
  /** Where to write (default: pseudo-labels.json in the run, next to pool.json). */
  out?: string;
}

export interface PseudoLabelResult {
  file: string;
  labels: PseudoLabels;
  /** The model that labelled, in words. */
  model: string;
}

/** Labels the run's unlabeled pool with the run's model and writes the pseudo-label file atomically. */
export function pseudoLabel(runDir: string, o: PseudoLabelOptions = {}): PseudoLabelResult {
  const threshold = o.threshold ?? 0;
  if (!(threshold >= 0 && threshold <= 1)) throw new ConfigError(`--threshold: ${threshold} is not in [0, 1]`);
  const loaded = loadRunModel(runDir, o.checkpoint ?? 'final');
  const { run, info, config, model, pipes } = loaded;
  try {
    const u = config.data.unlabeled;
    if (!u || !info.data.pool) {
      throw new ConfigError(
        `${run.dir} has no unlabeled pool: train the base run with data.unlabeled set (e.g. --set data.unlabeled.k=5)`,
      );
    }
    // The pool is rebuilt from the run's own data settings (its pseudo-labels, if any, are not needed for it).
    const data = buildTrainData({ ...config.data, unlabeled: { ...u, pseudoLabels: undefined } });
    const pool = data.pool;
    if (!pool || pool.manifest.hash !== info.data.pool.hash) {
      throw new Error(
        `${run.file('run.json')}: the pool rebuilt from the run's settings does not match the one it recorded ` +
          `(${info.data.pool.hash.slice(0, 12)}…); were the data files changed?`,
      );
    }
    const { labels, confidences } = predictPool(model, pool.images, pipes.test);
    const kept = keptIndices({ confidences, threshold });
    const C = info.data.numClasses;
    const checkpointFile = o.checkpoint === 'best' ? 'best.safetensors' : 'model.safetensors';
    const p: PseudoLabels = {
      format: 1,
      poolHash: pool.manifest.hash,
      run: run.dir,
      checkpoint: o.checkpoint ?? 'final',
      modelSha256: run.checkpoints.manifest()?.files[checkpointFile]?.sha256 ?? '',
      numClasses: C,
      threshold,
      labels: Array.from(labels),
      confidences: Array.from(confidences),
      createdAt: new Date().toISOString(),
      quality: pseudoLabelQuality(labels, pool.trueTargets, kept, C),
      perClass: keptPerClass(labels, kept, C),
      kept: kept.length,
    };
    const file = o.out ?? run.file(PSEUDO_LABELS_FILE);
    writePseudoLabels(file, p);
    return { file, labels: p, model: loaded.description };
  } finally {
    model.dispose();
  }
}

/** Hard labels and max-softmax confidences of a set of images (eval mode, test pipeline). */
function predictPool(
  model: ReturnType<typeof loadRunModel>['model'],
  set: { images: Uint8Array; shape: [number, number, number, number]; targets: Int32Array },
  transform: (x: Tensor) => Tensor,
): { labels: Int32Array; confidences: Float32Array } {
  model.eval();
  const loader = new DataLoader(new InMemorySource(set), {
    sampler: new ShuffleSampler(set.targets.length, 0, false),
    batchSize: 256,
    transform: (x) => transform(x),
  });
  const confs: Tensor[] = [];
  const preds: Tensor[] = [];
  noGrad(() => {
    for (const b of loader.epoch(0)) {
      tidy(() => {
        const [c, y] = model.forward(b.x).softmax(1).maxDim(1);
        confs.push(keep(c));
        preds.push(keep(y));
      });
    }
  });
  try {
    const conf = tidy(() => Float32Array.from(cat(confs, { dim: 0 }).toArray() as Float32Array));
    const lab = tidy(() => Int32Array.from(cat(preds, { dim: 0 }).toDtype('int32').toArray() as Int32Array));
    return { labels: lab, confidences: conf };
  } finally {
    dispose([confs, preds]);
  }
}

/** A pseudo-label file as text: how many were kept, their class distribution and, when known, accuracy. */
export function formatPseudoLabels(r: PseudoLabelResult, classNames?: string[]): string {
  const p = r.labels;
  const pct = (v: number | null) => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);
  const lines = [
    `pseudo-labels: ${r.file}`,
    `model: ${r.model}`,
    `pool: ${p.labels.length} images; kept ${p.kept} with confidence ≥ ${p.threshold}`,
  ];
  const q = p.quality;
  if (q) {
    lines.push(
      `accuracy against the pool's true labels (${q.evaluated} relevant images): ${pct(q.accuracy)} overall, ` +
        `${pct(q.keptAccuracy)} of the kept`,
    );
  } else lines.push('accuracy: the pool has no known labels');
  lines.push('class  pseudo-labels  accuracy (true class)');
  for (let c = 0; c < p.numClasses; c++) {
    const name = classNames?.[c] ? ` ${classNames[c]}` : '';
    lines.push(
      `${String(c).padStart(5)}  ${String(p.perClass[c]).padStart(13)}  ${pct(q?.perClassAccuracy[c] ?? null)}${name}`,
    );
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ the chain

export interface SelfTrainOptions {
  /** The base model's recipe (default: the final recipe). */
  baseRecipe?: string;
  /** Rounds of pseudo-labelling and retraining (default 1). */
  rounds?: number;
  threshold?: number;
  log?: (line: string) => void;
  /** Passed to every train() call (hooks, callbacks, stopAfterEpochs). */
  train?: Omit<TrainOptions, 'resume' | 'overwrite' | 'data' | 'log'>;
}

export interface SelfTrainResult {
  dir: string;
  status: 'completed' | 'interrupted';
  base: string;
  rounds: { run: string; pseudoLabels: string; pseudoLabelAccuracy: number | null; result: TrainResult | null }[];
}

const CHAIN_FILE = 'chain.json';

/**
 * base (the config's data and data.unlabeled, recipe `baseRecipe`) → pseudo-labels of its pool → round 1
 * (the config's recipe on labeled ∪ pseudo-labeled) → … Each part is an ordinary run under
 * `<outDir>/<name>/`: a finished run is reused, an unfinished one resumed (under its own configuration; a
 * different one is refused), pseudo-labels are remade only when the model that made them changed.
 */
export async function selfTrain(
  config: TrainConfigInput | TrainConfig,
  o: SelfTrainOptions = {},
): Promise<SelfTrainResult> {
  const cfg = resolveConfig(config);
  if (!cfg.name) throw new ConfigError('self-training needs a name for its folder (name / --name)');
  if (!cfg.data.unlabeled) {
    throw new ConfigError(
      'self-training needs data.unlabeled (the pool to pseudo-label), e.g. --set data.unlabeled.k=5',
    );
  }
  if (cfg.data.unlabeled.pseudoLabels) {
    throw new ConfigError('data.unlabeled.pseudoLabels: self-training makes its own; leave it unset');
  }
  const rounds = o.rounds ?? 1;
  if (!(Number.isInteger(rounds) && rounds >= 1))
    throw new ConfigError(`--rounds: ${rounds} is not a positive integer`);
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const dir = path.resolve(cfg.outDir, cfg.name);
  fs.mkdirSync(dir, { recursive: true });
  const chain = {
    format: 1,
    config: cfg,
    baseRecipe: o.baseRecipe ?? cfg.method.recipe,
    rounds,
    threshold: o.threshold ?? 0,
  };
  checkChain(path.join(dir, CHAIN_FILE), chain);
  writeFileAtomic(path.join(dir, CHAIN_FILE), JSON.stringify(chain, null, 2));

  const part = async (name: string, c: TrainConfig): Promise<TrainResult | null> => {
    const runDir = path.join(dir, name);
    const sub = resolveConfig({ ...c, name, outDir: dir });
    if (fs.existsSync(path.join(runDir, 'run.json'))) {
      // A finished run returns its results at once; an unfinished one continues from its last checkpoint.
      const done = RunDir.open(runDir).readRun().status === 'completed';
      log(`[ltkit] self-train: ${done ? 'reusing the finished' : 'resuming the'} run ${runDir}`);
      return train(sub, { ...o.train, resume: true, log });
    }
    return train(sub, { ...o.train, log });
  };

  const result: SelfTrainResult = { dir, status: 'interrupted', base: path.join(dir, 'base'), rounds: [] };
  const base = await part('base', { ...cfg, method: { ...cfg.method, recipe: chain.baseRecipe } });
  if (!base || base.status !== 'completed') return result;
  let labeler = base.runDir;
  for (let r = 1; r <= rounds; r++) {
    const pl = freshPseudoLabels(labeler, chain.threshold, log);
    const name = `round${r}`;
    const c: TrainConfig = {
      ...cfg,
      data: { ...cfg.data, unlabeled: { ...cfg.data.unlabeled, pseudoLabels: pl.file } },
    };
    const res = await part(name, c);
    result.rounds.push({
      run: path.join(dir, name),
      pseudoLabels: pl.file,
      pseudoLabelAccuracy: pl.labels.quality?.accuracy ?? null,
      result: res,
    });
    if (!res || res.status !== 'completed') return result;
    labeler = res.runDir;
  }
  result.status = 'completed';
  return result;
}

/**
 * Refuses to continue a chain under another configuration (more rounds are fine): its runs and pseudo-labels
 * would mix two set-ups.
 */
function checkChain(file: string, now: { config: TrainConfig; baseRecipe: string; threshold: number }): void {
  if (!fs.existsSync(file)) return;
  let before: { config?: unknown; baseRecipe?: unknown; threshold?: unknown };
  try {
    before = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(
      `${file}: not valid JSON (${(e as Error).message}); remove the chain folder or choose another --name`,
    );
  }
  const differ: string[] = [];
  if (before.baseRecipe !== now.baseRecipe)
    differ.push(`base recipe (was ${String(before.baseRecipe)}, now ${now.baseRecipe})`);
  if (before.threshold !== now.threshold)
    differ.push(`threshold (was ${String(before.threshold)}, now ${now.threshold})`);
  // Settings that cannot change a result (progress, threads, …) may differ, as for --resume.
  resumeConfig(resolveConfig(before.config, `${file}: config`), now.config, file);
  if (differ.length > 0) {
    throw new ConfigError(
      `${file}: this chain was made with a different ${differ.join(', ')}; continue it with the same settings, ` +
        `or start another chain under a new --name`,
    );
  }
}

/** The labeler run's pseudo-labels: reused when they were made by its current weights at this threshold. */
function freshPseudoLabels(runDir: string, threshold: number, log: (l: string) => void): PseudoLabelResult {
  const file = path.join(runDir, PSEUDO_LABELS_FILE);
  if (fs.existsSync(file)) {
    const { labels } = readPseudoLabels(file);
    const sha = RunDir.open(runDir).checkpoints.manifest()?.files['model.safetensors']?.sha256;
    if (labels.modelSha256 === sha && labels.threshold === threshold && labels.checkpoint === 'final') {
      log(`[ltkit] self-train: reusing ${file}`);
      return { file, labels, model: `final model of ${runDir}` };
    }
  }
  const r = pseudoLabel(runDir, { threshold });
  log(formatPseudoLabels(r));
  return r;
}
