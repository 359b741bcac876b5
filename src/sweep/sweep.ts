// `ltkit sweep <grid.yaml>`: trains every point of a grid (grid.ts) as its own `ltkit train` (or
// `ltkit self-train`) child process, N at a time with the libtorch threads split between them, then writes
// the comparison report of the grid's runs (report/report.ts).
// Resumable: run it again and a finished run is skipped, an unfinished one resumes from its last checkpoint
// (`train --resume`: its run.json's configuration), and a run whose saved configuration differs from its grid
// point's is refused before anything starts — a sweep never overwrites a run.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn, ChildProcess } from 'child_process';
import { ConfigError } from '../core/errors';
import { RESUME_FREE_KEYS, TrainConfig, resolveConfig } from '../train/config';
import { RunDir } from '../train/run-dir';
import { parseRecipe } from '../methods';
import { writeFileAtomic } from '../util/fs';
import { expandGrid, Grid, GridPoint } from './grid';
import { writeReport, ReportFiles } from '../report/report';

export interface SweepOptions {
  /** Runs at once (child processes); default 1. */
  jobs?: number;
  /** List the grid points and what a sweep would do with each, then stop. */
  dryRun?: boolean;
  /** The runs folder (overrides the grid file's outDir). */
  outDir?: string;
  /** Dotted `key=value` overrides of the grid's base (not of its axes). */
  sets?: string[];
  /** Progress lines (default stderr). */
  log?: (line: string) => void;
  /** Skip the report at the end. */
  noReport?: boolean;
}

/** What a sweep found or did with a point. */
export type PointStatus = 'new' | 'resume' | 'completed' | 'skipped' | 'failed' | 'interrupted' | 'conflict';

export interface SweepPointResult {
  name: string;
  dir: string;
  status: PointStatus;
  /** Why: a conflict's differences, a failure's exit code and log. */
  detail?: string;
  seconds?: number;
}

export interface SweepResult {
  grid: string;
  dir: string;
  status: 'completed' | 'failed' | 'interrupted' | 'dry-run';
  points: SweepPointResult[];
  report: ReportFiles | null;
}

function repoRoot(): string {
  return path.resolve(__dirname, '..', '..', '..');
}

/** Dotted leaf keys of a config and their values as JSON. */
function leaves(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined) out.set(prefix, JSON.stringify(v));
  return out;
}

/** The settings in which a saved run differs from its grid point (result-neutral settings aside). */
function differences(saved: TrainConfig, wanted: TrainConfig): string[] {
  const a = leaves(saved);
  const b = leaves(wanted);
  return [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k) && !RESUME_FREE_KEYS.some((f) => k === f || k.startsWith(f + '.')))
    .sort()
    .map((k) => `${k} (run: ${a.get(k) ?? 'unset'}, grid: ${b.get(k) ?? 'unset'})`);
}

/** The run directory whose completion finishes a point (self-train: the chain's last round). */
function finalRunDir(p: GridPoint, dir: string): string {
  return p.mode === 'self-train' ? path.join(dir, 'round1') : dir;
}

/** Where a point stands: new, finished, to resume, or trained with another configuration. */
function inspectPoint(g: Grid, p: GridPoint): SweepPointResult {
  const dir = path.join(g.outDir, p.name);
  const res = (status: PointStatus, detail?: string) => ({ name: p.name, dir, status, detail });
  let saved: TrainConfig;
  let savedFile: string;
  if (p.mode === 'self-train') {
    savedFile = path.join(dir, 'chain.json');
    if (!fs.existsSync(savedFile)) return res('new');
    let chain: { config?: unknown };
    try {
      chain = JSON.parse(fs.readFileSync(savedFile, 'utf8')) as { config?: unknown };
    } catch (e) {
      throw new ConfigError(`${savedFile}: not valid JSON (${(e as Error).message})`);
    }
    saved = resolveConfig(chain.config, `${savedFile}: config`);
  } else {
    savedFile = path.join(dir, 'run.json');
    if (!fs.existsSync(savedFile)) return res('new');
    saved = resolveConfig(RunDir.open(dir).readRun().config, `${savedFile}: config`);
  }
  const diff = differences(saved, p.config);
  if (diff.length) return res('conflict', `${savedFile} differs in ${diff.join('; ')}`);
  const last = finalRunDir(p, dir);
  if (!fs.existsSync(path.join(last, 'run.json'))) return res('resume', 'not started');
  const run = RunDir.open(last).readRun();
  if (run.status === 'completed') return res('completed');
  return res('resume', `${run.status}, ${run.epochsDone ?? 0}/${String(p.config.train.epochs)} epochs`);
}

const fmtTime = (s: number) => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${sec} s` : `${sec} s`;
};

/**
 * What decides the pre-training run a point's ssp-* component shares with other points (trainer.ts
 * pretrainingConfig hashes these and more: equal keys here cover every point that may share one), or null.
 * Two points with one key never train at once: they would both try to train that run.
 */
function sharedPretraining(p: GridPoint): string | null {
  const slot = parseRecipe(p.config.method.recipe).bySlot.get('pretrain');
  if (!slot) return null;
  const c = p.config;
  return JSON.stringify([slot.name, c.outDir, c.seed, { ...c.data, unlabeled: undefined }, c.model.name]);
}

/** Runs (or lists, with dryRun) the sweep of a grid file. */
export async function runSweep(file: string, o: SweepOptions = {}): Promise<SweepResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const g = expandGrid(file, { outDir: o.outDir, sets: o.sets });
  const gridDir = path.join(g.outDir, g.name);
  const jobs = Math.max(1, Math.floor(o.jobs ?? 1));
  if (!Number.isInteger(o.jobs ?? 1) || (o.jobs ?? 1) < 1)
    throw new ConfigError(`--jobs: ${o.jobs} is not a positive integer`);
  const inspected = g.points.map((p) => inspectPoint(g, p));
  const result: SweepResult = { grid: file, dir: gridDir, status: 'dry-run', points: inspected, report: null };

  if (o.dryRun) {
    log(
      `[sweep] ${g.name}: ${g.points.length} grid points under ${gridDir}${g.description ? ` — ${g.description}` : ''}`,
    );
    g.points.forEach((p, i) => {
      const x = inspected[i];
      const coords = Object.entries(p.coords)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ');
      log(`  ${x.status.padEnd(9)} ${p.name}  (${p.mode}; ${coords})${x.detail ? `: ${x.detail}` : ''}`);
    });
    return result;
  }
  const conflicts = inspected.filter((x) => x.status === 'conflict');
  if (conflicts.length) {
    throw new ConfigError(
      `${file}: ${conflicts.length} run${conflicts.length > 1 ? 's were' : ' was'} trained with another configuration ` +
        `than ${conflicts.length > 1 ? 'their grid points' : 'its grid point'}; a sweep never overwrites a run. ` +
        `Restore the grid, give it another name (name:) or --out, or remove the run:\n` +
        conflicts.map((c) => `  ${c.name}: ${c.detail}`).join('\n'),
    );
  }

  // Each child gets an equal share of the cores, unless the grid sets threads itself.
  const threads = Math.max(1, Math.floor(os.cpus().length / jobs));
  const configDir = path.join(gridDir, '.configs');
  const logDir = path.join(gridDir, '.logs');
  fs.mkdirSync(configDir, { recursive: true });
  fs.mkdirSync(logDir, { recursive: true });
  const flat = (name: string) => name.replace(/[\\/]/g, '__');
  const todo = g.points.map((p, i) => ({ p, r: inspected[i] })).filter((x) => x.r.status !== 'completed');
  for (const x of inspected) if (x.status === 'completed') x.status = 'skipped';
  const skipped = g.points.length - todo.length;
  log(
    `[sweep] ${g.name}: ${g.points.length} runs under ${gridDir}: ${skipped} finished (skipped), ` +
      `${todo.filter((x) => x.r.status === 'resume').length} to resume, ${todo.filter((x) => x.r.status === 'new').length} new; ` +
      `${jobs} at a time, ${threads} thread${threads > 1 ? 's' : ''} each`,
  );
  writeFileAtomic(
    path.join(gridDir, 'sweep.json'),
    JSON.stringify(
      {
        format: 1,
        grid: path.resolve(file),
        name: g.name,
        points: g.points.map((p) => ({ name: p.name, mode: p.mode, coords: p.coords })),
      },
      null,
      2,
    ) + '\n',
  );

  // Children run in process groups of their own, so a terminal's Ctrl-C reaches the sweep alone; the sweep
  // passes it on once to every running child (SIGTERM too), which stops after its current step — its last
  // checkpoint stays and the next sweep resumes it.
  let stopping = false;
  const children = new Set<ChildProcess>();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopping)
      log(`[sweep] ${sig}: no new runs start; the running ones stop after their step (their checkpoints stay)`);
    stopping = true;
    for (const c of children) c.kill('SIGINT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const durations: number[] = [];
  const busy = new Set<string>();
  let done = 0;
  let started = 0;
  const queue = [...todo];
  const running = new Set<Promise<void>>();

  const launch = (x: (typeof todo)[number]): Promise<void> => {
    const { p, r } = x;
    const cfg = structuredClone(p.config) as Record<string, unknown>;
    if (p.config.threads === undefined) cfg.threads = threads;
    const cfgFile = path.join(configDir, flat(p.name) + '.json');
    writeFileAtomic(cfgFile, JSON.stringify(cfg, null, 2) + '\n');
    const cli = path.join(repoRoot(), 'bin', 'ltkit.js');
    const resume = p.mode === 'train' && r.status === 'resume' && fs.existsSync(path.join(r.dir, 'run.json'));
    const args =
      p.mode === 'self-train'
        ? ['self-train', '--config', cfgFile, '--name', p.name]
        : resume
          ? [
              'train',
              '--name',
              p.name,
              '--resume',
              '--set',
              `outDir=${g.outDir}`,
              '--set',
              `threads=${String(cfg.threads)}`,
            ]
          : ['train', '--config', cfgFile, '--name', p.name];
    const logFile = path.join(logDir, flat(p.name) + '.log');
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n# ${new Date().toISOString()} ltkit ${args.join(' ')}\n`);
    const t0 = Date.now();
    started++;
    log(`[sweep] start ${started}/${todo.length} ${p.name}${resume ? ` (resuming: ${r.detail})` : ''}`);
    const child = spawn(process.execPath, [cli, ...args], {
      stdio: ['ignore', fd, fd],
      env: process.env,
      detached: true,
    });
    children.add(child);
    return new Promise<void>((resolve) => {
      const finish = (code: number | null, signal: string | null, error?: Error) => {
        children.delete(child);
        fs.closeSync(fd);
        const seconds = (Date.now() - t0) / 1000;
        r.seconds = seconds;
        done++;
        if (code === 0) {
          r.status = 'completed';
          durations.push(seconds);
          let top1 = '';
          try {
            const run = RunDir.open(finalRunDir(p, r.dir)).readRun();
            const f = run.final?.top1;
            const b = run.best?.top1;
            if (typeof f === 'number') top1 = `: final top-1 ${(100 * f).toFixed(2)}%`;
            if (typeof b === 'number') top1 += `, best ${(100 * b).toFixed(2)}%`;
          } catch {
            // the numbers are a courtesy; the report reads the run properly
          }
          const left = todo.length - done;
          const mean = durations.reduce((a, c) => a + c, 0) / durations.length;
          const eta = left === 0 ? '' : `, ETA ${fmtTime((mean * left) / jobs)}`;
          log(`[sweep] done  ${done}/${todo.length} ${p.name} in ${fmtTime(seconds)}${top1} · ${left} left${eta}`);
        } else if (code === 130 || signal === 'SIGINT') {
          r.status = 'interrupted';
          r.detail = `stopped; run the sweep again to resume (log: ${logFile})`;
          log(`[sweep] stopped ${p.name} (resumable)`);
          stopping = true;
        } else {
          r.status = 'failed';
          const tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5).join('\n    ');
          r.detail = `${error ? error.message : signal ? `killed by ${signal}` : `exit code ${code}`}; log: ${logFile}`;
          log(`[sweep] FAILED ${p.name} (${r.detail}):\n    ${tail}`);
        }
        resolve();
      };
      child.on('error', (e) => finish(null, null, e));
      child.on('exit', (code, signal) => finish(code, signal));
    });
  };

  try {
    while (queue.length || running.size) {
      while (!stopping && running.size < jobs) {
        // The next point whose shared pre-training run no running point is training.
        const i = queue.findIndex((x) => {
          const k = sharedPretraining(x.p);
          return k === null || !busy.has(k);
        });
        if (i < 0) break;
        const [x] = queue.splice(i, 1);
        const key = sharedPretraining(x.p);
        if (key) busy.add(key);
        const task: Promise<void> = launch(x).then(() => {
          running.delete(task);
          if (key) busy.delete(key);
        });
        running.add(task);
      }
      if (running.size === 0) break;
      await Promise.race(running);
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const x of queue) x.r.status = 'interrupted';
  const failed = inspected.filter((x) => x.status === 'failed');
  const stopped = inspected.filter((x) => x.status === 'interrupted');
  result.status = failed.length ? 'failed' : stopped.length ? 'interrupted' : 'completed';
  log(
    `[sweep] ${g.name}: ${inspected.filter((x) => x.status === 'completed' || x.status === 'skipped').length}/${g.points.length} runs finished` +
      (failed.length ? `, ${failed.length} failed (${failed.map((x) => x.name).join(', ')})` : '') +
      (stopped.length ? `, ${stopped.length} stopped or not started (run the sweep again to continue)` : ''),
  );

  if (!o.noReport) {
    const dirs = inspected.map((x) => x.dir).filter((d) => fs.existsSync(d) && fs.readdirSync(d).length > 0);
    const withRuns = dirs.filter((d) => fs.existsSync(path.join(d, 'run.json')) || hasRunInside(d));
    if (withRuns.length) {
      result.report = await writeReport(withRuns, {
        out: path.join(gridDir, 'report.html'),
        title: `Sweep ${g.name}${g.description ? ` — ${g.description}` : ''}`,
      });
      log(`[sweep] report: ${result.report.html} (and .md, .csv)`);
    }
  }
  return result;
}

/** A self-train chain folder holding at least one run. */
function hasRunInside(dir: string): boolean {
  return fs.readdirSync(dir).some((f) => fs.existsSync(path.join(dir, f, 'run.json')));
}
