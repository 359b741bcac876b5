// What a report reads: run directories only (ARCHITECTURE.md "Runs are the interface"). A run directory is
// one with run.json; every file is read through its schema (train/run-dir.ts, analysis/records.ts), and a
// malformed file is an error that names it. Optional parts (final-metrics.json of an unfinished run,
// analysis.jsonl, embedding-<method>.json) are simply absent.
import * as fs from 'fs';
import * as path from 'path';
import { RunDir, RunJson, MetricsLine, FinalMetrics, parseRunFile, RunFileError } from '../train/run-dir';
import {
  ANALYSIS_FILE,
  AnalysisRecord,
  AnalysisRecordSchema,
  Embedding,
  EmbeddingSchema,
  embeddingFile,
} from '../analysis/records';
import type { ClassificationSummary } from '../eval/metrics';

export interface RunData {
  dir: string;
  /** The run's path relative to the common folder of the report's runs (its folder name for one run). */
  name: string;
  run: RunJson;
  metrics: MetricsLine[];
  /** final-metrics.json, or null while the run has not finished its stages. */
  final: FinalMetrics | null;
  analysis: AnalysisRecord[];
  embeddings: Embedding[];
  /** Things a reader should know (a torn last line dropped, …). */
  warnings: string[];
}

const EMBEDDING_METHODS = ['tsne', 'umap'] as const;

/** True when `dir` is a run directory (holds run.json). */
export function isRunDir(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'run.json'));
}

/**
 * The run directories named by `paths`: a run directory stands for itself; any other folder for every run
 * directory under it, recursively (a run directory's own subfolders are not searched: they are its parts).
 * Sorted by path, duplicates removed.
 */
export function findRunDirs(paths: string[]): string[] {
  if (paths.length === 0) throw new RunFileError('report: give at least one run directory or folder of runs');
  const out = new Set<string>();
  for (const p of paths) {
    const abs = path.resolve(p);
    if (!fs.existsSync(abs)) throw new RunFileError(`${p}: no such file or folder`);
    if (!fs.statSync(abs).isDirectory()) throw new RunFileError(`${p}: not a folder (expected a run directory)`);
    const found: string[] = [];
    const walk = (d: string): void => {
      if (isRunDir(d)) {
        found.push(d);
        return;
      }
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory() && !e.name.startsWith('.')) walk(path.join(d, e.name));
      }
    };
    walk(abs);
    if (found.length === 0) throw new RunFileError(`${p}: no run directories (folders with run.json) in it`);
    for (const f of found) out.add(f);
  }
  return [...out].sort();
}

/** The longest folder path every one of `dirs` is inside of. */
export function commonFolder(dirs: string[]): string {
  let common = dirs[0].split(path.sep);
  for (const d of dirs.slice(1)) {
    const parts = d.split(path.sep);
    let i = 0;
    while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(path.sep) || path.sep;
}

/** Reads a JSON-lines file through `parse`; a torn last line (a kill mid-append) is dropped with a warning. */
function readJsonLines<T>(file: string, parse: (line: string, where: string) => T, warnings: string[]): T[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.push(parse(l, `:${i + 1}`));
    } catch (e) {
      const torn = i === lines.length - 1 && !text.endsWith('\n');
      if (!torn) throw e;
      warnings.push(`${file}:${i + 1}: dropped a torn last line`);
    }
  });
  return out;
}

/** Loads one run directory; `name` is how the report calls it. */
export function loadRun(dir: string, name: string): RunData {
  const rd = RunDir.open(dir);
  const warnings: string[] = [];
  const run = rd.readRun();
  const metrics = rd.readMetrics({ repair: (w) => warnings.push(w) });
  const final = fs.existsSync(rd.file('final-metrics.json')) ? rd.readFinal() : null;
  const analysisFile = rd.file(ANALYSIS_FILE);
  const analysis = readJsonLines(
    analysisFile,
    (l, where) => parseRunFile(AnalysisRecordSchema, l, analysisFile, where),
    warnings,
  );
  const embeddings: Embedding[] = [];
  for (const m of EMBEDDING_METHODS) {
    const f = rd.file(embeddingFile(m));
    if (fs.existsSync(f)) embeddings.push(parseRunFile(EmbeddingSchema, fs.readFileSync(f, 'utf8'), f));
  }
  return { dir: rd.dir, name, run, metrics, final, analysis, embeddings, warnings };
}

/** Finds and loads the runs of `paths`, each named by its path below their common folder. */
export function loadRuns(paths: string[]): { root: string; runs: RunData[] } {
  const dirs = findRunDirs(paths);
  const root = dirs.length === 1 ? path.dirname(dirs[0]) : commonFolder(dirs);
  return { root, runs: dirs.map((d) => loadRun(d, path.relative(root, d) || path.basename(d))) };
}

/** A value of the run's resolved config at a dotted path (undefined when absent). */
export function configValue(run: RunData, key: string): unknown {
  let v: unknown = run.run.config;
  for (const k of key.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

/** The summary the run's final model got on the test split: final-metrics.json, else none. */
export function finalSummary(r: RunData): ClassificationSummary | null {
  return r.final?.final ?? null;
}

/** The selected epoch's test summary (final-metrics.json best), and its epoch. */
export function bestSummary(r: RunData): { epoch: number; summary: ClassificationSummary } | null {
  const b = r.final?.best;
  return b && b.test ? { epoch: b.epoch, summary: b.test } : null;
}

/** The latest epoch line with a test evaluation (what an unfinished run has so far). */
export function latestTest(r: RunData): { stage: string; epoch: number; summary: ClassificationSummary } | null {
  for (let i = r.metrics.length - 1; i >= 0; i--) {
    const m = r.metrics[i];
    if (m.type === 'epoch' && m.test) return { stage: m.stage, epoch: m.epoch, summary: m.test };
  }
  return null;
}

/** True for a self-supervised pre-training run (its metrics are a kNN monitor, not a classifier's). */
export function isPretraining(r: RunData): boolean {
  const m = configValue(r, 'pretrain.method');
  return typeof m === 'string' && m !== 'none';
}
