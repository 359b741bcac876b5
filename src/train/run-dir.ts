// Run directories — the interface between training and everything that reads results (ARCHITECTURE.md
// "Runs are the interface"):
//   runs/<name>/run.json            resolved config, recipe, stages, data facts, versions, status
//   runs/<name>/metrics.jsonl       one line per epoch of every stage, and one per completed stage
//   runs/<name>/final-metrics.json  the final model's evaluation, the best epoch's, each stage's
//   runs/<name>/checkpoints/        crash-consistent checkpoints (checkpoint.ts)
//   runs/<name>/analysis.jsonl      opt-in analyses, one line per analysis and epoch (analysis/records.ts)
// Every file is read through a schema: an error names the file (and the line or key). Whole files are
// written atomically; metrics lines are appended, and a line torn by a kill is dropped on resume.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { z } from 'zod';
import { writeFileAtomic, pidLock } from '../util/fs';
import { faultDue, faultPoint, die } from '../util/fault';
import { CheckpointStore } from './checkpoint';
import type { GradScalerState } from '../engine/amp';
import type { ClassificationSummary } from '../eval/metrics';
import type { StageSummary } from './loop';
import { ANALYSIS_FILE, AnalysisRecord, AnalysisRecordSchema } from '../analysis/records';

const num = z.number().finite();
/** An evaluation summary (eval/metrics.ts); the fields every reader uses are checked. */
const Summary = z.custom<ClassificationSummary>(
  (v) =>
    typeof v === 'object' &&
    v !== null &&
    Number.isInteger((v as ClassificationSummary).numClasses) &&
    ((v as ClassificationSummary).top1 === null || Number.isFinite((v as ClassificationSummary).top1)),
  { message: 'not an evaluation summary (numClasses, top1)' },
);
const Headline = z.object({
  top1: num.nullable(),
  top5: num.nullable(),
  balancedAccuracy: num.nullable(),
  macroF1: num.nullable(),
  many: num.nullable(),
  medium: num.nullable(),
  few: num.nullable(),
  ece: num.nullable().optional(),
});

export const RUN_FORMAT = 1;

export const RunJsonSchema = z.object({
  format: z.literal(RUN_FORMAT),
  status: z.enum(['running', 'interrupted', 'completed', 'failed']),
  /** Why a failed run stopped (an error's message); it resumes from its last checkpoint. */
  error: z.string().optional(),
  /** The fully resolved training config (checked again by the config schema when used). */
  config: z.record(z.unknown()),
  recipe: z.object({
    text: z.string(),
    components: z.array(z.string()),
    slots: z.record(z.string().nullable()),
  }),
  /** The encoder the model started from (model.initFrom / ssp-*; init-report.json has every key), or null. */
  init: z
    .object({ source: z.string(), file: z.string(), loaded: z.number().int(), skipped: z.number().int() })
    .nullable()
    .optional(),
  /** The run's stages in order, e.g. ['train', 'crt']. */
  stages: z.array(z.string()).min(1),
  data: z.object({
    dataset: z.string(),
    numClasses: z.number().int().positive(),
    classNames: z.array(z.string()),
    clsNumList: z.array(z.number().int().nonnegative()),
    trainSize: z.number().int().nonnegative(),
    valSize: z.number().int().nonnegative(),
    testSize: z.number().int().nonnegative(),
    subsetHash: z.string(),
    /** The seed that picked the subset (`data.subsetSeed`); the training seed is `config.seed`. */
    subsetSeed: z.number().int().nonnegative(),
    /** [H, W, C] of the training images, and their normalisation: what eval/predict rebuild the input from. */
    imageShape: z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]),
    mean: z.array(num),
    std: z.array(num),
    /** The labeled subset's per-class counts (clsNumList also counts pseudo-labels). */
    labeledCounts: z.array(z.number().int().nonnegative()).optional(),
    /** The unlabeled pool (pool.json has its images), or null. */
    pool: z
      .object({
        hash: z.string(),
        total: z.number().int().nonnegative(),
        relevantTotal: z.number().int().nonnegative(),
        outOfTaskTotal: z.number().int().nonnegative(),
      })
      .nullable()
      .optional(),
    /** The pseudo-labels the run trained with, or null. */
    pseudoLabels: z
      .object({
        file: z.string(),
        sha256: z.string(),
        threshold: z.number(),
        kept: z.number().int().nonnegative(),
        perClass: z.array(z.number().int().nonnegative()),
        use: z.enum(['concat', 'stream']),
      })
      .nullable()
      .optional(),
  }),
  versions: z.object({ ltkit: z.string(), libtorch: z.string(), node: z.string(), gitSha: z.string().nullable() }),
  /** The precision the run computes in, resolved from train.precision ('auto' → what this machine chose). */
  precision: z.enum(['fp32', 'bf16', 'fp16']).optional(),
  /** How many processes trained it (ltkit launch / torchrun), on which device each (rank 0's), SyncBatchNorm. */
  world: z.object({ size: z.number().int().positive(), device: z.string(), syncBatchNorm: z.boolean() }).optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Epochs of the main stage completed. */
  epochsDone: z.number().int().nonnegative().optional(),
  final: Headline.nullable().optional(),
  best: Headline.extend({ epoch: z.number().int() }).nullable().optional(),
});
export type RunJson = z.infer<typeof RunJsonSchema>;

export const EpochLineSchema = z.object({
  type: z.literal('epoch'),
  stage: z.string(),
  epoch: z.number().int().nonnegative(),
  lr: num,
  loss: num,
  lossTerms: z.record(num),
  trainAcc: num.nullable(),
  imgPerSec: num,
  seconds: num,
  plan: z.record(z.unknown()).optional(),
  test: Summary.optional(),
  val: Summary.optional(),
});
export const StageLineSchema = z.object({
  type: z.literal('stage'),
  stage: z.string(),
  /** What the stage's finish recorded (e.g. τ-norm's τ). */
  result: z.record(z.unknown()),
  test: Summary.nullable(),
  val: Summary.nullable(),
});
export const MetricsLineSchema = z.discriminatedUnion('type', [EpochLineSchema, StageLineSchema]);
export type MetricsLine = z.infer<typeof MetricsLineSchema>;

export const StageSummarySchema = z.object({
  name: z.string(),
  result: z.record(z.unknown()),
  test: Summary.nullable(),
  val: Summary.nullable(),
});

const BestSchema = z.object({ epoch: z.number().int(), test: Summary.nullable(), val: Summary.nullable() });

/** A checkpoint's state.json (where the run stands; hooks.ts RunState). */
export const RunStateSchema = z.object({
  stagesDone: z.number().int().nonnegative(),
  epoch: z.number().int().min(-1),
  best: BestSchema.extend({ stage: z.number().int().nonnegative(), score: num }).nullable(),
  stages: z.array(StageSummarySchema),
  optimizer: z.unknown().optional(),
  scaler: z
    .object({
      scale: z.number().positive().finite(),
      growthFactor: num,
      backoffFactor: num,
      growthInterval: z.number().int().positive(),
      growthTracker: z.number().int().nonnegative(),
    })
    .optional(),
});

/** Where a run stands — what a checkpoint's state.json holds (validated by RunStateSchema). */
export interface RunState {
  /** Stages completed; the stage running now has this index. */
  stagesDone: number;
  /** Last completed epoch of the running stage (-1: none yet). */
  epoch: number;
  /** The selected epoch of a stage with `selectBest`. */
  best: {
    stage: number;
    epoch: number;
    score: number;
    test: ClassificationSummary | null;
    val: ClassificationSummary | null;
  } | null;
  /** Summaries of the completed stages. */
  stages: StageSummary[];
  /** The running stage's optimizer metadata (its tensors are in optimizer.safetensors). */
  optimizer?: unknown;
  /** The running stage's fp16 gradient scaler (engine/amp.ts GradScaler), in fp16 runs. */
  scaler?: GradScalerState;
}
export const FinalMetricsSchema = z.object({
  /** The final model (after every stage) on the test split. */
  final: Summary.nullable(),
  /** The selected epoch of the main stage (by validation top-1, else test top-1). */
  best: BestSchema.nullable(),
  stages: z.array(StageSummarySchema),
});
export type FinalMetrics = z.infer<typeof FinalMetricsSchema>;

export class RunFileError extends Error {}

/** Parses `text` of `file` through `schema`; errors name the file (and `where`, e.g. a line). */
export function parseRunFile<T>(schema: z.ZodType<T>, text: string, file: string, where = ''): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new RunFileError(`${file}${where}: not valid JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new RunFileError(`${file}${where}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
  }
  return r.data;
}

/** A run name is a relative path inside outDir ('a/b' allowed; no '..', no absolute path, no empty part). */
export function checkRunName(name: string): void {
  const parts = name.split(/[\\/]/);
  if (path.isAbsolute(name) || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new RunFileError(`run name '${name}' must be a relative path inside outDir (no '..', '.', or leading '/')`);
  }
}

export class RunDir {
  readonly checkpoints: CheckpointStore;
  /** run.json as this process last read or wrote it (updates start from it, not from the file). */
  private run: RunJson | null = null;

  constructor(readonly dir: string) {
    this.checkpoints = new CheckpointStore(path.join(dir, 'checkpoints'));
  }

  /**
   * A new run directory `outDir/name`. An existing run there is refused (its results would be mixed
   * with the new ones) unless `overwrite`, which deletes it first.
   */
  static create(outDir: string, name: string, o: { overwrite?: boolean } = {}): RunDir {
    checkRunName(name);
    const dir = path.resolve(outDir, name);
    // A folder holding only temporaries (and the lock) is a run killed before its run.json existed: it is
    // reused, unless a live process holds it.
    const contents = fs.existsSync(dir)
      ? fs.readdirSync(dir).filter((f) => !/\.tmp-\d+$/.test(f) && f !== 'run.lock')
      : [];
    if (contents.length > 0) {
      if (o.overwrite)
        new RunDir(dir).lock()(); // refuses a run another process is training
      else {
        let n = 2;
        while (fs.existsSync(`${dir}-${n}`)) n++;
        throw new RunFileError(
          `run '${name}' already exists in ${dir}: continue it with --resume, replace it with --overwrite, ` +
            `or choose another name (e.g. --name ${name}-${n})`,
        );
      }
    }
    if (fs.existsSync(dir)) new RunDir(dir).lock()(); // refuses a run another process is training
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    return new RunDir(dir);
  }

  /** An existing run directory (for resume, eval, predict, reports). */
  static open(dir: string): RunDir {
    const d = path.resolve(dir);
    if (!fs.existsSync(path.join(d, 'run.json'))) {
      throw new RunFileError(`${d} is not an ltkit run directory (no run.json)`);
    }
    return new RunDir(d);
  }

  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /**
   * Marks the run as in use by this process (`run.lock` holds the pid), so a second `train` or `--resume` of
   * the same run cannot write into it at the same time. A lock left by a process that no longer exists (a
   * kill) is taken over. Returns the release function.
   */
  lock(): () => void {
    const file = this.file('run.lock');
    return pidLock(
      file,
      (pid) => new RunFileError(`${this.dir} is in use by process ${pid} (${file}); wait for it or stop it`),
    );
  }

  /** Removes temporaries of killed writes (`*.tmp-*`) and checkpoints no manifest names. */
  removeStale(): void {
    for (const f of fs.readdirSync(this.dir)) {
      if (/\.tmp-\d+$/.test(f)) fs.rmSync(this.file(f), { force: true });
    }
    this.checkpoints.removeStale();
  }

  readRun(): RunJson {
    const f = this.file('run.json');
    let text: string;
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch (e) {
      throw new RunFileError(`${f}: unreadable (${(e as Error).message})`);
    }
    this.run = parseRunFile(RunJsonSchema, text, f);
    return this.run;
  }

  writeRun(run: RunJson): void {
    this.run = RunJsonSchema.parse(run);
    writeFileAtomic(this.file('run.json'), JSON.stringify(this.run, null, 2) + '\n');
  }

  /** Updates run.json from the copy this process holds (a file damaged meanwhile is replaced, not read). */
  updateRun(patch: Partial<RunJson>): void {
    this.writeRun({ ...(this.run ?? this.readRun()), ...patch });
  }

  appendMetrics(line: MetricsLine): void {
    const text = JSON.stringify(line) + '\n';
    if (faultDue('metrics:torn')) {
      fs.appendFileSync(this.file('metrics.jsonl'), text.slice(0, text.length >> 1));
      die();
    }
    fs.appendFileSync(this.file('metrics.jsonl'), text);
    faultPoint('metrics:appended');
  }

  /** Every metrics line, validated; `repair` drops a torn last line (a kill mid-append) instead of failing. */
  readMetrics(o: { repair?: (warning: string) => void } = {}): MetricsLine[] {
    const f = this.file('metrics.jsonl');
    if (!fs.existsSync(f)) return [];
    const text = fs.readFileSync(f, 'utf8');
    const lines = text.split('\n');
    const out: MetricsLine[] = [];
    lines.forEach((l, i) => {
      if (l.trim() === '') return;
      const last = i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === '');
      try {
        out.push(parseRunFile(MetricsLineSchema, l, f, `:${i + 1}`));
      } catch (e) {
        const torn = last && !text.endsWith('\n');
        if (!(o.repair && torn)) throw e;
        o.repair(`${f}:${i + 1}: dropped a torn last line (${(e as Error).message.split(': ').pop()})`);
      }
    });
    return out;
  }

  /** Rewrites metrics.jsonl with the lines `keep` accepts (a resumed run drops what it will redo). */
  rewriteMetrics(keep: (l: MetricsLine) => boolean, repair?: (warning: string) => void): void {
    const kept = this.readMetrics({ repair }).filter(keep);
    writeFileAtomic(this.file('metrics.jsonl'), kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  /** Appends one analysis line (analysis/records.ts) to analysis.jsonl. */
  appendAnalysis(record: AnalysisRecord): void {
    fs.appendFileSync(this.file(ANALYSIS_FILE), JSON.stringify(AnalysisRecordSchema.parse(record)) + '\n');
  }

  /** Every analysis line, validated; `repair` drops a torn last line (a kill mid-append) instead of failing. */
  readAnalysis(o: { repair?: (warning: string) => void } = {}): AnalysisRecord[] {
    return readJsonLines(this.file(ANALYSIS_FILE), AnalysisRecordSchema, o.repair);
  }

  /** Rewrites analysis.jsonl with the lines `keep` accepts (a resumed run drops what it will redo). */
  rewriteAnalysis(keep: (r: AnalysisRecord) => boolean, repair?: (warning: string) => void): void {
    if (!fs.existsSync(this.file(ANALYSIS_FILE))) return;
    const kept = this.readAnalysis({ repair }).filter(keep);
    writeFileAtomic(this.file(ANALYSIS_FILE), kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }

  /** The current checkpoint's state (verified against the manifest, validated), or null before the first. */
  readState(): RunState | null {
    const store = this.checkpoints;
    const file = store.file('state.json');
    if (!file) return null;
    return parseRunFile(RunStateSchema, store.read('state.json').toString('utf8'), file) as unknown as RunState;
  }

  readFinal(): FinalMetrics {
    const f = this.file('final-metrics.json');
    return parseRunFile(FinalMetricsSchema, fs.readFileSync(f, 'utf8'), f);
  }

  writeFinal(m: FinalMetrics): void {
    writeFileAtomic(this.file('final-metrics.json'), JSON.stringify(m, null, 2) + '\n');
  }
}

/** The lines of a JSON-lines file through `schema` (none if the file is absent); a torn last line is repaired or an error. */
function readJsonLines<T>(f: string, schema: z.ZodType<T>, repair?: (warning: string) => void): T[] {
  if (!fs.existsSync(f)) return [];
  const text = fs.readFileSync(f, 'utf8');
  const lines = text.split('\n');
  const out: T[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.push(parseRunFile(schema, l, f, `:${i + 1}`));
    } catch (e) {
      const torn = i === lines.length - 1 && !text.endsWith('\n');
      if (!(repair && torn)) throw e;
      repair(`${f}:${i + 1}: dropped a torn last line (${(e as Error).message.split(': ').pop()})`);
    }
  });
  return out;
}

export function gitSha(): string | null {
  const root = path.resolve(__dirname, '..', '..', '..');
  // Only ltkit's own checkout has a commit of ltkit: installed under a project's node_modules, the repository
  // around it is the user's, whose HEAD says nothing about the ltkit that ran.
  if (!fs.existsSync(path.join(root, '.git'))) return null;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function ltkitVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}
