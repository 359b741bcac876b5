// Run directories (ARCHITECTURE.md "Runs are the interface"):
//   runs/<name>/run.json          resolved config, recipe, versions, git sha, subset hash, status
//   runs/<name>/metrics.jsonl     one JSON line per epoch / evaluation
//   runs/<name>/checkpoints/      last.safetensors (+ .optim.safetensors, .state.json), best.safetensors
// Every file is written atomically (temp file + rename), so a killed run never leaves a torn file.
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { writeFileAtomic } from '../engine/safetensors';

export class RunDir {
  constructor(readonly dir: string) {}

  static create(outDir: string, name: string): RunDir {
    const dir = path.resolve(outDir, name);
    fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
    return new RunDir(dir);
  }

  static open(dir: string): RunDir {
    const d = path.resolve(dir);
    if (!fs.existsSync(path.join(d, 'run.json'))) {
      throw new Error(`${d} is not an ltkit run directory (no run.json)`);
    }
    return new RunDir(d);
  }

  file(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  readRun<T = Record<string, unknown>>(): T {
    return JSON.parse(fs.readFileSync(this.file('run.json'), 'utf8')) as T;
  }

  writeRun(run: unknown): void {
    writeFileAtomic(this.file('run.json'), JSON.stringify(run, null, 2) + '\n');
  }

  updateRun(patch: Record<string, unknown>): void {
    this.writeRun({ ...this.readRun<Record<string, unknown>>(), ...patch });
  }

  appendMetrics(line: Record<string, unknown>): void {
    fs.appendFileSync(this.file('metrics.jsonl'), JSON.stringify(line) + '\n');
  }

  readMetrics(): Record<string, unknown>[] {
    const f = this.file('metrics.jsonl');
    if (!fs.existsSync(f)) return [];
    return fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Drops metric lines past `epoch` (a resumed run rewrites the epochs it repeats). */
  truncateMetrics(epoch: number): void {
    const keep = this.readMetrics().filter((m) => typeof m.epoch !== 'number' || (m.epoch as number) <= epoch);
    writeFileAtomic(this.file('metrics.jsonl'), keep.map((m) => JSON.stringify(m) + '\n').join(''));
  }
}

export function gitSha(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], {
      cwd: path.resolve(__dirname, '..', '..', '..'),
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
