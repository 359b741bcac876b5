// Resumable, checksum-verified HTTP(S) download to a file, Node built-ins only.
// Follows RFC 9110 §14 (Range requests: `Range: bytes=N-`, 206 + Content-Range, 416 when N is past the end, a 200
// meaning the server ignored the range) and §15.4 (redirects, at most 5). The body goes to `<dest>.part`; after
// the MD5 (RFC 1321) matches, the part file is renamed onto `dest`, so `dest` only ever holds a complete file.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';

/** (bytes on disk so far, total bytes or undefined when unknown, bytes/s over this call). */
export type ProgressFn = (bytes: number, total: number | undefined, rate: number) => void;

export interface DownloadFileOptions {
  md5?: string;
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Extra attempts after a network failure (connection cut, timeout, 5xx); each resumes the .part. Default 3. */
  retries?: number;
  /** Delay before attempt k is k * retryDelayMs. Default 1000. */
  retryDelayMs?: number;
  /** Socket idle timeout in ms. Default 30000. */
  timeoutMs?: number;
  /** Size hint for progress when the server sends no length. */
  sizeHint?: number;
  /** Minimum ms between progress callbacks (the final one is always sent). Default 100. */
  progressIntervalMs?: number;
  /**
   * What to do when `dest` already exists with a different MD5: true (default) deletes and fetches it again;
   * false throws, leaving the file alone (it did not come from us: our files only appear after verification).
   */
  replaceMismatch?: boolean;
}

export interface DownloadFileResult {
  path: string;
  bytes: number;
  /** MD5 of the file on disk. */
  md5: string;
  /** True when dest already existed with a matching checksum and nothing was fetched. */
  skipped: boolean;
}

export class ChecksumError extends Error {
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`checksum mismatch for ${url}: expected md5 ${expected}, got ${actual}`);
    this.name = 'ChecksumError';
  }
}

export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`HTTP ${status} for ${url}`);
    this.name = 'HttpError';
  }
  /** 408, 429 and 5xx may succeed on a later attempt. */
  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const MAX_REDIRECTS = 5;

export async function md5File(file: string): Promise<string> {
  const h = crypto.createHash('md5');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/** Removes a file if present. */
function unlinkQuiet(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error('download aborted');
  e.name = 'AbortError';
  return e;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(t);
      reject(abortError(signal as AbortSignal));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** One GET; resolves with the response headers (body unread). */
function get(url: URL, headers: http.OutgoingHttpHeaders, timeoutMs: number, signal?: AbortSignal) {
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : null;
    if (!mod) return reject(new Error(`unsupported protocol in ${url.href}`));
    const req = mod.get(url, { headers, signal }, resolve);
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no data from ${url.href} for ${timeoutMs} ms`)));
  });
}

/** GET with redirects followed (max 5); returns the final response and its URL. */
async function getFollow(
  url: string,
  headers: http.OutgoingHttpHeaders,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ res: http.IncomingMessage; url: string }> {
  let cur = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await get(cur, headers, timeoutMs, signal);
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
      res.resume(); // drain the redirect body so the socket is freed
      if (hop >= MAX_REDIRECTS) throw new Error(`too many redirects (> ${MAX_REDIRECTS}) starting at ${url}`);
      cur = new URL(res.headers.location, cur);
      continue;
    }
    return { res, url: cur.href };
  }
}

/** Parses `bytes a-b/total` or `bytes * /total`. */
function parseContentRange(v: string | undefined): { start?: number; total?: number } {
  if (!v) return {};
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return {};
  return { start: m[1] !== undefined ? Number(m[1]) : undefined, total: m[2] !== '*' ? Number(m[2]) : undefined };
}

class RetryableError extends Error {}

/**
 * Downloads `url` to `dest`. Resumes `<dest>.part` left by an earlier call or attempt; verifies `md5` when given.
 * Skips the network entirely when `dest` exists and matches `md5` (or exists and no md5 is given).
 */
export async function downloadFile(
  url: string,
  dest: string,
  opts: DownloadFileOptions = {},
): Promise<DownloadFileResult> {
  const expected = opts.md5?.toLowerCase();
  if (fs.existsSync(dest)) {
    const actual = await md5File(dest);
    if (!expected || actual === expected) return { path: dest, bytes: fileSize(dest), md5: actual, skipped: true };
    if (opts.replaceMismatch === false) {
      throw new Error(
        `${dest} exists but its md5 is ${actual}, expected ${expected} for ${url}; move it away to download`,
      );
    }
    unlinkQuiet(dest); // stale or corrupt: fetch it again
  }
  const part = dest + '.part';
  const retries = opts.retries ?? 3;
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 30000;
  const interval = opts.progressIntervalMs ?? 100;
  const t0 = Date.now();
  let fetched = 0; // bytes received during this call, for the rate
  let lastReport = 0;
  const report = (bytes: number, total: number | undefined, force: boolean): void => {
    if (!opts.onProgress) return;
    const now = Date.now();
    if (!force && now - lastReport < interval) return;
    lastReport = now;
    opts.onProgress(bytes, total, fetched / Math.max((now - t0) / 1000, 1e-3));
  };

  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw abortError(opts.signal);
    try {
      await attemptOnce();
      break;
    } catch (e) {
      const retryable = e instanceof RetryableError || (e instanceof HttpError && e.retryable) || isNetworkError(e);
      if (opts.signal?.aborted || !retryable || attempt >= retries) throw e;
      await sleep(retryDelayMs * (attempt + 1), opts.signal);
    }
  }

  const actual = await md5File(part);
  if (expected && actual !== expected) {
    unlinkQuiet(part);
    throw new ChecksumError(url, expected, actual);
  }
  fs.renameSync(part, dest);
  return { path: dest, bytes: fileSize(dest), md5: actual, skipped: false };

  async function attemptOnce(): Promise<void> {
    let offset = Math.max(fileSize(part), 0);
    const headers: http.OutgoingHttpHeaders = { 'user-agent': 'ltkit', 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const { res, url: finalUrl } = await getFollow(url, headers, timeoutMs, opts.signal);
    const status = res.statusCode ?? 0;
    let total: number | undefined;
    if (status === 416) {
      // Range past the end: the part file is already whole (or longer than the file, then start over).
      res.resume();
      const cr = parseContentRange(res.headers['content-range']);
      if (cr.total !== undefined && offset > cr.total) {
        unlinkQuiet(part);
        throw new RetryableError(`partial file longer than ${finalUrl} (${offset} > ${cr.total}); restarting`);
      }
      report(offset, cr.total ?? offset, true);
      return;
    }
    if (status === 206) {
      const cr = parseContentRange(res.headers['content-range']);
      if (cr.start !== offset) {
        res.resume();
        unlinkQuiet(part);
        throw new RetryableError(`server resumed ${finalUrl} at ${cr.start} instead of ${offset}; restarting`);
      }
      total = cr.total;
    } else if (status === 200) {
      offset = 0; // server ignored the Range header: the body is the whole file
      const len = Number(res.headers['content-length']);
      total = Number.isFinite(len) && res.headers['content-length'] !== undefined ? len : undefined;
    } else {
      res.resume();
      throw new HttpError(finalUrl, status);
    }
    total ??= opts.sizeHint;
    const bodyLen = res.headers['content-length'] !== undefined ? Number(res.headers['content-length']) : undefined;

    const fh = await fs.promises.open(part, offset > 0 ? 'a' : 'w');
    let received = 0;
    try {
      for await (const chunk of res) {
        const buf = chunk as Buffer;
        await fh.write(buf);
        received += buf.length;
        fetched += buf.length;
        report(offset + received, total, false);
      }
    } finally {
      await fh.close();
    }
    if (!res.complete || (bodyLen !== undefined && received < bodyLen)) {
      throw new RetryableError(`connection to ${finalUrl} closed after ${offset + received} bytes`);
    }
    report(offset + received, total ?? offset + received, true);
  }
}

function isNetworkError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError') return false;
  const code = (e as NodeJS.ErrnoException).code;
  return (
    code === 'ECONNRESET' ||
    code === 'ECONNREFUSED' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'EAI_AGAIN' ||
    code === 'EHOSTUNREACH' ||
    code === 'ENETUNREACH' ||
    code === 'ECONNABORTED' ||
    code === 'UND_ERR_SOCKET' ||
    /^no data from|aborted|socket hang up/i.test(e.message)
  );
}

/** "12.3/170.5 MB  7.2%  1.4 MB/s  ETA 1m58s" — for a progress line. */
export function formatProgress(bytes: number, total: number | undefined, rate: number): string {
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  let s = total ? `${mb(bytes)}/${mb(total)} MB  ${((100 * bytes) / total).toFixed(1)}%` : `${mb(bytes)} MB`;
  s += `  ${mb(rate)} MB/s`;
  if (total && rate > 0 && bytes < total) {
    const eta = Math.round((total - bytes) / rate);
    s += `  ETA ${eta >= 60 ? `${Math.floor(eta / 60)}m${String(eta % 60).padStart(2, '0')}s` : `${eta}s`}`;
  }
  return s;
}
