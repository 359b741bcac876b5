// Safe, atomic extraction of .tar, .tar.gz/.tgz and .zip archives, Node built-ins only (zlib, fs).
// Tar: POSIX.1-1988 ustar headers (name/prefix split), the GNU 'L'/'K' long-name records and POSIX.1-2001 pax
// 'x' extended headers (path, linkpath, size) — see the GNU tar manual, "Basic Tar Format", and IEEE 1003.1 pax.
// Zip: PKWARE APPNOTE.TXT 6.3 — end-of-central-directory record, central directory, local headers; methods 0
// (stored) and 8 (deflate, via zlib.inflateRawSync); CRC-32 checked; zip64, encryption and multi-disk refused.
// Safety: every entry path is normalized and must stay inside the target (no absolute paths, no `..` escaping);
// symlinks, hardlinks and device files are refused outright, which is what makes the lexical path check sufficient.
// Atomicity: entries are written into a fresh temporary sibling of the target, renamed onto the target only when the
// whole archive was read; any error removes the temporary folder, so the target is either absent or complete.
import * as fs from 'fs';
import * as path from 'path';
import * as stream from 'stream';
import * as zlib from 'zlib';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'zip';

export interface ExtractOptions {
  /** Archive format; detected from magic bytes then the file name when omitted. */
  format?: ArchiveFormat;
  /** Refuse archives that would expand to more than this many bytes (zip-bomb guard). Default 64 GiB. */
  maxBytes?: number;
}

export interface ExtractResult {
  files: number;
  dirs: number;
  bytes: number;
}

/** An archive entry that would write outside the target, or a kind of entry we refuse (links, devices). */
export class UnsafeEntryError extends Error {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super(`unsafe archive entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = 'UnsafeEntryError';
  }
}

/**
 * Normalizes an archive entry name to a relative POSIX path inside the target. Returns '' for names that denote
 * the target itself ('./', '.'). Throws UnsafeEntryError for absolute paths, drive letters, NUL bytes and any `..`
 * that climbs above the target. Backslashes count as separators (Windows-made zips).
 */
export function safeEntryPath(name: string): string {
  if (name.includes('\0')) throw new UnsafeEntryError(name, 'NUL byte in name');
  if (/^[/\\]/.test(name) || /^[a-zA-Z]:/.test(name)) throw new UnsafeEntryError(name, 'absolute path');
  const out: string[] = [];
  for (const seg of name.split(/[/\\]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw new UnsafeEntryError(name, 'path escapes the target directory');
      out.pop();
    } else out.push(seg);
  }
  return out.join('/');
}

export function detectFormat(file: string): ArchiveFormat {
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  let n: number;
  try {
    n = fs.readSync(fd, head, 0, 512, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  if (n >= 4 && head.readUInt32LE(0) === 0x06054b50) return 'zip'; // empty zip
  if (n >= 262 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  const lower = file.toLowerCase();
  if (lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return 'tar.gz';
  if (lower.endsWith('.zip')) return 'zip';
  if (lower.endsWith('.tar')) return 'tar';
  throw new Error(`cannot tell the archive format of ${file}`);
}

/**
 * Extracts `archive` into `target`, which must not exist yet. All-or-nothing: on any error (unsafe entry, corrupt
 * data, I/O) `target` is not created and the temporary folder is removed.
 */
export async function extractArchive(
  archive: string,
  target: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  target = path.resolve(target);
  if (fs.existsSync(target)) throw new Error(`extract target already exists: ${target}`);
  const format = opts.format ?? detectFormat(archive);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.extract-`));
  const sink = new Sink(tmp, opts.maxBytes ?? 64 * 2 ** 30);
  try {
    if (format === 'zip') extractZip(archive, sink);
    else await extractTar(archive, format === 'tar.gz', sink);
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return { files: sink.files, dirs: sink.dirs, bytes: sink.bytes };
}

/** Writes entries under the temporary root; owns the path checks and the size budget. */
class Sink {
  files = 0;
  dirs = 0;
  bytes = 0;
  constructor(
    readonly root: string,
    readonly maxBytes: number,
  ) {}

  /** Absolute path for an entry name, or null for the root itself. */
  resolve(name: string): string | null {
    const rel = safeEntryPath(name);
    if (rel === '') return null;
    const full = path.join(this.root, ...rel.split('/'));
    if (!full.startsWith(this.root + path.sep)) throw new UnsafeEntryError(name, 'path escapes the target directory');
    return full;
  }

  dir(name: string): void {
    const full = this.resolve(name);
    if (full) fs.mkdirSync(full, { recursive: true });
    this.dirs++;
  }

  /** Opens a regular file for writing (parents created). */
  open(name: string, mode: number, size: number): number {
    const full = this.resolve(name);
    if (!full) throw new UnsafeEntryError(name, 'file entry names the target directory itself');
    this.budget(size);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    this.files++;
    return fs.openSync(full, 'w', mode & 0o111 ? 0o755 : 0o644);
  }

  budget(size: number): void {
    this.bytes += size;
    if (this.bytes > this.maxBytes) throw new Error(`archive expands to more than ${this.maxBytes} bytes; refused`);
  }
}

// ---------------------------------------------------------------- tar

/** Pulls exact byte counts out of an async stream of Buffers. */
class ByteReader {
  private chunks: Buffer[] = [];
  private len = 0;
  private ended = false;
  offset = 0; // bytes consumed so far, for error messages
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    const r = await this.it.next();
    if (r.done) {
      this.ended = true;
      return false;
    }
    if (r.value.length) {
      this.chunks.push(r.value);
      this.len += r.value.length;
    }
    return true;
  }

  /** Exactly n bytes, or null at a clean end of stream; throws on a truncated read. */
  async read(n: number): Promise<Buffer | null> {
    while (this.len < n) if (!(await this.pull())) break;
    if (this.len === 0 && n > 0) return null;
    if (this.len < n) throw new Error(`tar: unexpected end of archive at byte ${this.offset + this.len}`);
    return this.take(n);
  }

  /** Between 1 and n bytes (n > 0); throws at end of stream. */
  async readSome(n: number): Promise<Buffer> {
    while (this.len === 0)
      if (!(await this.pull())) throw new Error(`tar: unexpected end of archive at byte ${this.offset}`);
    return this.take(Math.min(n, this.len));
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.readSome(n)).length;
  }

  private take(n: number): Buffer {
    let out: Buffer;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      this.chunks[0] = this.chunks[0].subarray(n);
      if (this.chunks[0].length === 0) this.chunks.shift();
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, n);
      this.chunks = all.length > n ? [all.subarray(n)] : [];
    }
    this.len -= n;
    this.offset += n;
    return out;
  }
}

function cString(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString('utf8');
}

/** Tar numeric field: octal text, or GNU base-256 when the high bit of the first byte is set. */
function tarNumber(b: Buffer, off: number, len: number, what: string): number {
  if (b[off] & 0x80) {
    if (b[off] === 0xff) throw new Error(`tar: negative ${what}`);
    let v = b[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i];
    if (!Number.isSafeInteger(v)) throw new Error(`tar: ${what} too large`);
    return v;
  }
  const s = b
    .toString('latin1', off, off + len)
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: bad ${what} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function tarChecksumOk(h: Buffer): boolean {
  const stored = tarNumber(h, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return stored === unsigned || stored === signed;
}

/** pax records: "<len> <key>=<value>\n", len counting the whole record. */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(data.toString('latin1', i, sp), 10);
    if (!(len > 0) || i + len > data.length) throw new Error('tar: corrupt pax header');
    const rec = data.toString('utf8', sp + 1, i + len - 1); // drop trailing '\n'
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

const MAX_META = 1 << 20; // cap on GNU long-name and pax header payloads

async function extractTar(archive: string, gz: boolean, sink: Sink): Promise<void> {
  const file = fs.createReadStream(archive);
  const src: NodeJS.ReadableStream = gz ? stream.pipeline(file, zlib.createGunzip(), () => undefined) : file;
  const it = (src as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const r = new ByteReader(it);
  try {
    await readTarEntries(r, sink);
  } finally {
    await it.return?.(); // destroys the streams when we stop early
    file.destroy();
  }
}

async function readTarEntries(r: ByteReader, sink: Sink): Promise<void> {
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const at = r.offset;
    const h = await r.read(512);
    if (!h) return; // end of stream without the zero blocks: tolerated, like GNU tar
    if (h.every((v) => v === 0)) return; // end-of-archive marker
    if (!tarChecksumOk(h)) throw new Error(`tar: bad header checksum at byte ${at} (not a tar file or corrupt)`);
    const type = h[156] === 0 ? '0' : String.fromCharCode(h[156]);
    let size = tarNumber(h, 124, 12, 'size');
    const pad = (n: number): number => (512 - (n % 512)) % 512;

    if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
      if (size > MAX_META) throw new Error(`tar: ${type} header of ${size} bytes is too large`);
      const data = (await r.read(size)) ?? Buffer.alloc(0);
      await r.skip(pad(size));
      if (type === 'L') longName = cString(data, 0, data.length);
      else if (type === 'K') longLink = cString(data, 0, data.length);
      else if (type === 'x') pax = { ...pax, ...parsePax(data) };
      // 'g' (global pax) carries no per-entry path; its keys are ignored.
      continue;
    }

    const ustar = h.toString('latin1', 257, 263) === 'ustar\0'; // GNU writes "ustar  \0" and has no prefix field
    let name = cString(h, 0, 100);
    const prefix = ustar ? cString(h, 345, 155) : '';
    if (prefix) name = prefix + '/' + name;
    name = pax.path ?? longName ?? name;
    const link = pax.linkpath ?? longLink ?? cString(h, 157, 100);
    if (pax.size !== undefined) {
      size = Number(pax.size);
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`tar: bad pax size ${pax.size}`);
    }
    longName = longLink = undefined;
    pax = {};

    switch (type) {
      case '0':
      case '7': {
        if (name.endsWith('/')) {
          // pre-POSIX tars mark directories only by the trailing slash
          sink.dir(name);
          await r.skip(size + pad(size));
          break;
        }
        const fd = sink.open(name, tarNumber(h, 100, 8, 'mode'), size);
        try {
          let left = size;
          while (left > 0) {
            const buf = await r.readSome(Math.min(left, 1 << 20));
            fs.writeSync(fd, buf);
            left -= buf.length;
          }
        } finally {
          fs.closeSync(fd);
        }
        await r.skip(pad(size));
        break;
      }
      case '5':
        sink.dir(name);
        await r.skip(size + pad(size));
        break;
      case '1':
      case '2':
        sink.resolve(name); // report an unsafe name first if it is one
        throw new UnsafeEntryError(name, `${type === '1' ? 'hard' : 'sym'}link to ${JSON.stringify(link)} refused`);
      case 'V': // GNU volume label: no file
        await r.skip(size + pad(size));
        break;
      case '3':
      case '4':
      case '6':
        throw new UnsafeEntryError(name, 'device or FIFO entries are refused');
      default:
        throw new Error(`tar: unsupported entry type ${JSON.stringify(type)} for ${JSON.stringify(name)}`);
    }
  }
}

// ---------------------------------------------------------------- zip

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export function crc32(b: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  csize: number;
  usize: number;
  offset: number;
  mode: number;
  isDir: boolean;
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = fs.readSync(fd, b, got, len - got, pos + got);
    if (n === 0) throw new Error(`zip: unexpected end of file at byte ${pos + got}`);
    got += n;
  }
  return b;
}

function readZipDirectory(fd: number, fileSize: number): ZipEntry[] {
  const tailLen = Math.min(fileSize, 22 + 0xffff);
  const tail = readAt(fd, fileSize - tailLen, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50 && i + 22 + tail.readUInt16LE(i + 20) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('zip: end of central directory not found (not a zip file or truncated)');
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === 0x07064b50) {
    throw new Error('zip: zip64 archives are not supported');
  }
  const disk = tail.readUInt16LE(eocd + 4);
  const cdDisk = tail.readUInt16LE(eocd + 6);
  const count = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new Error('zip: zip64 archives are not supported');
  }
  if (disk !== 0 || cdDisk !== 0) throw new Error('zip: multi-disk archives are not supported');
  if (cdOffset + cdSize > fileSize) throw new Error('zip: central directory lies outside the file');
  const cd = readAt(fd, cdOffset, cdSize);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50)
      throw new Error(`zip: corrupt central directory entry ${i}`);
    const madeBy = cd.readUInt16LE(p + 4);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    const csize = cd.readUInt32LE(p + 20);
    const usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const external = cd.readUInt32LE(p + 38);
    const offset = cd.readUInt32LE(p + 42);
    const raw = cd.subarray(p + 46, p + 46 + nameLen);
    const name = raw.toString(flags & 0x800 ? 'utf8' : 'latin1');
    p += 46 + nameLen + extraLen + commentLen;
    if (csize === 0xffffffff || usize === 0xffffffff || offset === 0xffffffff) {
      throw new Error(`zip: zip64 entry ${JSON.stringify(name)} is not supported`);
    }
    if (flags & 0x1) throw new Error(`zip: encrypted entry ${JSON.stringify(name)} is not supported`);
    const unixMode = madeBy >> 8 === 3 ? external >>> 16 : 0;
    const fmt = unixMode & 0o170000;
    if (fmt === 0o120000) throw new UnsafeEntryError(name, 'symlink refused');
    if (fmt !== 0 && fmt !== 0o100000 && fmt !== 0o040000) throw new UnsafeEntryError(name, 'special file refused');
    const isDir = name.endsWith('/') || name.endsWith('\\') || fmt === 0o040000 || (external & 0x10) !== 0;
    if (!isDir && method !== 0 && method !== 8) {
      throw new Error(`zip: compression method ${method} of ${JSON.stringify(name)} is not supported`);
    }
    entries.push({ name, method, crc, csize, usize, offset, mode: unixMode & 0o777, isDir });
  }
  return entries;
}

function extractZip(archive: string, sink: Sink): void {
  const fd = fs.openSync(archive, 'r');
  try {
    const entries = readZipDirectory(fd, fs.fstatSync(fd).size);
    // Validate every name and the total size before writing a single byte.
    let total = 0;
    for (const e of entries) {
      sink.resolve(e.name);
      total += e.usize;
    }
    if (total > sink.maxBytes) throw new Error(`archive expands to more than ${sink.maxBytes} bytes; refused`);
    for (const e of entries) {
      if (e.isDir) {
        sink.dir(e.name);
        continue;
      }
      const lh = readAt(fd, e.offset, 30);
      if (lh.readUInt32LE(0) !== 0x04034b50) throw new Error(`zip: bad local header for ${JSON.stringify(e.name)}`);
      const start = e.offset + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      const comp = readAt(fd, start, e.csize);
      let data: Buffer;
      try {
        data = e.method === 0 ? comp : zlib.inflateRawSync(comp, { maxOutputLength: Math.max(e.usize, 1) });
      } catch (err) {
        throw new Error(`zip: cannot inflate ${JSON.stringify(e.name)}: ${(err as Error).message}`);
      }
      if (data.length !== e.usize) throw new Error(`zip: size mismatch for ${JSON.stringify(e.name)}`);
      if (crc32(data) !== e.crc) throw new Error(`zip: CRC-32 mismatch for ${JSON.stringify(e.name)}`);
      const out = sink.open(e.name, e.mode, 0);
      try {
        fs.writeSync(out, data);
      } finally {
        fs.closeSync(out);
      }
      sink.bytes += data.length;
    }
  } finally {
    fs.closeSync(fd);
  }
}
