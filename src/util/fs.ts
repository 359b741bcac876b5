// Durable file writes: what a kill -9 or a power cut can and cannot leave behind.
import * as fs from 'fs';
import * as path from 'path';
import { faultPoint, FaultPoint, FAULT_POINTS } from './fault';

/** Writes `data` to `file` and fsyncs it (the bytes are on disk when this returns). */
export function writeFileSynced(file: string, data: Buffer | string): void {
  const fd = fs.openSync(file, 'w');
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsyncs a folder, so that renames and new entries in it are durable. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces `file` atomically: a temporary beside it (fsynced), renamed over it, then the folder fsynced.
 * Readers see the old or the new content, never a part; a killed write leaves at most a `.tmp-` file,
 * which a failed write removes and which run directories clean up when they are opened.
 */
export function writeFileAtomic(file: string, data: Buffer | string): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSynced(tmp, data);
    const point = `atomic:${path.basename(file)}`;
    if ((FAULT_POINTS as readonly string[]).includes(point)) faultPoint(point as FaultPoint);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(dir);
}

/**
 * A lock file holding this process's pid: created exclusively; a lock whose process is gone (a crash, kill -9)
 * is taken over; a live holder makes `busy(pid)` the thrown error. Returns the release function.
 */
export function pidLock(file: string, busy: (pid: number) => Error): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw busy(pid); // this process too: a second user
      fs.rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`cannot take the lock ${file}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
