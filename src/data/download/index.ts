// `ltkit data download <name>`: fetches every file of a catalog entry (resumable, MD5-verified, see fetch.ts),
// extracts archives atomically (see extract.ts) and marks the dataset folder with `.complete`, so a second call is a
// no-op without any network request. Layout under the data root:
//   <root>/<folder>/            the dataset, as the official archive lays it out (e.g. cifar-10-batches-py/)
//   <root>/<folder>/.complete   written last (before the final rename for archives): the folder is whole
//   <root>/.downloads/          archives and their .part files while downloading
import * as fs from 'fs';
import * as path from 'path';
import { CATALOG, Catalog, CatalogEntry, CatalogFile, validateEntry } from './catalog';
import { ChecksumError, downloadFile } from './fetch';
import { extractArchive } from './extract';
import { pidLock } from '../../util/fs';

export { CATALOG, validateEntry } from './catalog';
export type { Catalog, CatalogEntry, CatalogFile, ExtractKind } from './catalog';
export { downloadFile, md5File, formatProgress, ChecksumError, HttpError } from './fetch';
export type { DownloadFileOptions, DownloadFileResult, ProgressFn } from './fetch';
export { extractArchive, detectFormat, safeEntryPath, UnsafeEntryError } from './extract';
export type { ArchiveFormat, ExtractOptions, ExtractResult } from './extract';

export const COMPLETE_MARKER = '.complete';

export interface DownloadOptions {
  /** Data root; default $LTKIT_DATA_ROOT or ./data. */
  root?: string;
  /** Progress of the file being fetched: bytes so far, total (if known), bytes/s, file name. */
  onProgress?: (bytes: number, total: number | undefined, rate: number, file: string) => void;
  /** Human-readable status lines (start, skip, warnings, extraction). */
  log?: (msg: string) => void;
  /** Catalog to look the name up in; default the built-in CATALOG (tests inject local URLs). */
  catalog?: Catalog;
  signal?: AbortSignal;
  /** Network retries per file and source (see downloadFile). */
  retries?: number;
  retryDelayMs?: number;
  /** Keep the downloaded archives in <root>/.downloads after extraction. Default false. */
  keepArchives?: boolean;
}

export interface DownloadableInfo {
  name: string;
  description: string;
  folder: string;
  /** Sum of the published sizes, when every file's size is known. */
  bytes?: number;
}

export function defaultDataRoot(): string {
  return path.resolve(process.env.LTKIT_DATA_ROOT || 'data');
}

/** Names and one-line descriptions of every downloadable dataset, for help text. */
export function listDownloadable(catalog: Catalog = CATALOG): DownloadableInfo[] {
  return Object.entries(catalog).map(([name, e]) => {
    const sizes = e.files.map((f) => f.size);
    const bytes = sizes.every((s) => s !== undefined)
      ? sizes.reduce((a, b) => (a as number) + (b as number), 0)
      : undefined;
    return { name, description: e.description, folder: e.folder, bytes };
  });
}

/** Downloads (if needed) and extracts dataset `name`; returns the absolute dataset folder. Idempotent. */
export async function download(name: string, opts: DownloadOptions = {}): Promise<string> {
  const catalog = opts.catalog ?? CATALOG;
  const entry: CatalogEntry | undefined = Object.prototype.hasOwnProperty.call(catalog, name)
    ? catalog[name]
    : undefined;
  if (!entry) {
    throw new Error(`unknown dataset ${JSON.stringify(name)}; downloadable: ${Object.keys(catalog).join(', ')}`);
  }
  validateEntry(name, entry);
  if (entry.extract !== 'none' && entry.files.length !== 1) {
    throw new Error(`catalog ${name}: an archive entry must have exactly one file`);
  }
  const log = opts.log ?? (() => undefined);
  const root = path.resolve(opts.root ?? defaultDataRoot());
  const dir = path.join(root, entry.folder);
  if (fs.existsSync(path.join(dir, COMPLETE_MARKER))) {
    log(`${name}: already present in ${dir}`);
    return dir;
  }

  fs.mkdirSync(root, { recursive: true });
  const unlock = lock(path.join(root, `.lock-${name}`), name);
  try {
    return await fetchAndExtract(name, entry, root, dir, opts, log);
  } finally {
    unlock();
  }
}

async function fetchAndExtract(
  name: string,
  entry: CatalogEntry,
  root: string,
  dir: string,
  opts: DownloadOptions,
  log: (m: string) => void,
): Promise<string> {
  if (entry.extract === 'none') {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of entry.files) await fetchOne(f, path.join(dir, f.filename), opts, log);
    writeMarker(dir, name);
    log(`${name}: ready in ${dir}`);
    return dir;
  }

  if (fs.existsSync(dir)) {
    throw new Error(
      `${dir} exists but has no ${COMPLETE_MARKER} marker (not made by ltkit data download, or from an older run); ` +
        'move or delete it and run the download again',
    );
  }
  const downloads = path.join(root, '.downloads');
  fs.mkdirSync(downloads, { recursive: true });
  const file = entry.files[0];
  const archive = path.join(downloads, file.filename);
  await fetchOne(file, archive, opts, log);

  const staging = path.join(root, `.staging-${name}`);
  fs.rmSync(staging, { recursive: true, force: true }); // left by an interrupted run
  log(`${name}: extracting ${file.filename}`);
  try {
    const r = await extractArchive(archive, staging, { format: entry.extract });
    const inner = path.join(staging, entry.folder);
    if (!fs.existsSync(inner) || !fs.statSync(inner).isDirectory()) {
      const top = fs.readdirSync(staging).slice(0, 10).join(', ');
      throw new Error(`${file.filename} does not contain the folder ${entry.folder}/ (top level: ${top || 'empty'})`);
    }
    writeMarker(inner, name);
    fs.renameSync(inner, dir); // the commit point: dir appears whole, marker included
    log(`${name}: extracted ${r.files} files (${(r.bytes / 1e6).toFixed(1)} MB) into ${dir}`);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  if (!opts.keepArchives) {
    fs.rmSync(archive, { force: true });
    try {
      fs.rmdirSync(downloads); // only when empty
    } catch {
      /* other downloads in progress or kept */
    }
  }
  return dir;
}

/**
 * One download of a dataset at a time per root: `<root>/.lock-<name>` holds the owner's pid. A lock whose process is
 * gone (crash, kill -9) is taken over; a live one makes this call fail instead of racing on the same .part file.
 */
function lock(file: string, name: string): () => void {
  return pidLock(file, (pid) => new Error(`another download of ${name} is running (pid ${pid}; lock ${file})`));
}

function writeMarker(dir: string, name: string): void {
  fs.writeFileSync(path.join(dir, COMPLETE_MARKER), `${name} ${new Date().toISOString()}\n`);
}

/** Fetches one catalog file, trying its mirrors in order; the last source's error is thrown. */
async function fetchOne(f: CatalogFile, dest: string, opts: DownloadOptions, log: (m: string) => void): Promise<void> {
  if (!f.md5) log(`warning: no published checksum for ${f.filename}; it will not be verified`);
  const sources = [f.url, ...(f.mirrors ?? [])];
  for (let i = 0; i < sources.length; i++) {
    const url = sources[i];
    try {
      if (!fs.existsSync(dest)) log(`downloading ${url}`);
      const r = await downloadFile(url, dest, {
        md5: f.md5,
        signal: opts.signal,
        retries: opts.retries,
        retryDelayMs: opts.retryDelayMs,
        sizeHint: f.size,
        replaceMismatch: false, // a mismatching file was put there by someone else: never delete it
        onProgress: opts.onProgress && ((b, t, rate) => opts.onProgress?.(b, t, rate, f.filename)),
      });
      log(r.skipped ? `${f.filename}: present, checksum ok` : `${f.filename}: ${r.bytes} bytes, md5 ${r.md5}`);
      return;
    } catch (e) {
      if (opts.signal?.aborted || i === sources.length - 1 || fs.existsSync(dest)) throw e;
      const why = e instanceof ChecksumError ? 'checksum mismatch' : (e as Error).message;
      log(`${url} failed (${why}); trying ${sources[i + 1]}`);
    }
  }
}
