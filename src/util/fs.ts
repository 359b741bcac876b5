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
