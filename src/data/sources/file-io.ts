// Small filesystem helpers shared by the loaders: every failure becomes a DataFormatError naming the file.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { DataFormatError } from './types';

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Reads a whole file; a missing or unreadable file is a DataFormatError. */
export function readFileChecked(p: string): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new DataFormatError(p, 'missing file');
  }
  if (!st.isFile()) throw new DataFormatError(p, 'not a regular file');
  try {
    return fs.readFileSync(p);
  } catch (e) {
    throw new DataFormatError(p, `cannot read: ${(e as Error).message}`);
  }
}

/** Reads a file, gunzipping it when it starts with the gzip magic 1f 8b. */
export function readMaybeGzip(p: string): Uint8Array {
  const raw = readFileChecked(p);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return zlib.gunzipSync(raw);
    } catch (e) {
      throw new DataFormatError(p, `corrupt or truncated gzip data: ${(e as Error).message}`);
    }
  }
  if (p.endsWith('.gz')) throw new DataFormatError(p, 'wrong magic: .gz file without the gzip signature 1f 8b');
  return raw;
}

/** Non-empty trimmed lines of a text file. */
export function readLines(p: string): string[] {
  const text = Buffer.from(readFileChecked(p)).toString('utf8');
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}

/** Python-style sort of names (by UTF-16 code unit, like `sorted()` for BMP strings). */
export function sortNames(names: string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
