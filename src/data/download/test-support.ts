// Test support for the download machinery: byte-exact builders for ustar/GNU/pax tar and PKWARE zip archives
// (same specs as extract.ts, written independently of the reader) and a local HTTP server bound to 127.0.0.1 that
// serves them with RFC 9110 Range support and can cut a response mid-body or serve corrupted bytes.
import * as http from 'http';
import * as net from 'net';
import * as zlib from 'zlib';
import { crc32 } from './extract';

// ---------------------------------------------------------------- tar

export interface TarEntrySpec {
  name: string;
  /** '0' file (default), '5' dir, '2' symlink, '1' hardlink, 'L' GNU long name, 'x' pax header, ... */
  type?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  /** ustar prefix field (POSIX name split). */
  prefix?: string;
  /** 'ustar' (POSIX, default) or 'gnu' magic. */
  magic?: 'ustar' | 'gnu';
}

function octal(h: Buffer, off: number, len: number, v: number): void {
  h.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

export function tarHeader(e: TarEntrySpec, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  octal(h, 100, 8, e.mode ?? (e.type === '5' ? 0o755 : 0o644));
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, 1700000000);
  h.fill(0x20, 148, 156);
  h.write(e.type ?? '0', 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname, 157, 100, 'utf8');
  h.write(e.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000', 257, 8, 'latin1');
  if (e.prefix) h.write(e.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return h;
}

function pad512(b: Buffer): Buffer {
  const p = (512 - (b.length % 512)) % 512;
  return p ? Buffer.concat([b, Buffer.alloc(p)]) : b;
}

export function tarEntry(e: TarEntrySpec): Buffer {
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  return Buffer.concat([tarHeader(e, data.length), pad512(data)]);
}

/** A file whose name goes through a GNU 'L' record. */
export function tarGnuLong(name: string, data: Buffer | string): Buffer {
  return Buffer.concat([
    tarEntry({ name: '././@LongLink', type: 'L', data: name + '\0', magic: 'gnu' }),
    tarEntry({ name: name.slice(0, 99), data, magic: 'gnu' }),
  ]);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return len + body;
}

/** A file whose name goes through a pax 'x' header. */
export function tarPax(name: string, data: Buffer | string): Buffer {
  return Buffer.concat([
    tarEntry({ name: 'PaxHeaders/x', type: 'x', data: paxRecord('path', name) + paxRecord('mtime', '1700000000.5') }),
    tarEntry({ name: 'truncated-name', data }),
  ]);
}

export function tarArchive(parts: Buffer[]): Buffer {
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

export function tarGz(parts: Buffer[]): Buffer {
  return zlib.gzipSync(tarArchive(parts));
}

// ---------------------------------------------------------------- zip

export interface ZipEntrySpec {
  name: string;
  data?: Buffer | string;
  method?: 0 | 8;
  /** Unix mode put in the external attributes (host = Unix), e.g. 0o120777 for a symlink. */
  unixMode?: number;
}

export function zipArchive(entries: ZipEntrySpec[], opts: { corruptCrcOf?: string } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const method = e.method ?? 8;
    const comp = method === 8 ? zlib.deflateRawSync(data) : data;
    let crc = crc32(data);
    if (opts.corruptCrcOf === e.name) crc = (crc ^ 1) >>> 0;
    const name = Buffer.from(e.name, 'utf8');
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x800, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x800, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    const mode = e.unixMode ?? (e.name.endsWith('/') ? 0o040755 : 0o100644);
    ch.writeUInt32LE(((mode << 16) | (e.name.endsWith('/') ? 0x10 : 0)) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, comp);
    centrals.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

// ---------------------------------------------------------------- HTTP server

export interface Route {
  data: Buffer;
  /** Cut the connection after this many body bytes, for the first `cutTimes` requests (default 1). */
  cutAfter?: number;
  cutTimes?: number;
  /** Like cutAfter, but the connection stays open and silent (the client must time out). */
  stall?: boolean;
  /** Serve these bytes instead of `data` (same length), e.g. to fail the checksum. */
  wrong?: Buffer;
  /** Answer range requests with a plain 200 and the whole body. */
  ignoreRange?: boolean;
  /** Redirect (302) to this path instead. */
  redirect?: string;
  /** Reply with this status and no body. */
  status?: number;
}

export interface RequestLog {
  path: string;
  range?: string;
}

export interface TestServer {
  base: string;
  routes: Map<string, Route>;
  requests: RequestLog[];
  close(): Promise<void>;
}

/** Starts a server on 127.0.0.1, port 0. */
export async function startServer(routes: Record<string, Route> = {}): Promise<TestServer> {
  const map = new Map(Object.entries(routes));
  const requests: RequestLog[] = [];
  const served = new WeakMap<Route, number>(); // per route object, so re-setting a route resets it
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push({ path: p, range: req.headers.range });
    const r = map.get(p);
    if (!r) {
      res.writeHead(404).end();
      return;
    }
    if (r.status) {
      res.writeHead(r.status).end();
      return;
    }
    if (r.redirect) {
      res.writeHead(302, { location: r.redirect }).end();
      return;
    }
    const n = (served.get(r) ?? 0) + 1;
    served.set(r, n);
    const body = r.wrong ?? r.data;
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !r.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, {
        'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
      });
    } else {
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
    }
    const slice = body.subarray(start);
    if (r.cutAfter !== undefined && n <= (r.cutTimes ?? 1)) {
      res.write(slice.subarray(0, r.cutAfter), () => {
        if (!r.stall) setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(slice);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    base: `http://127.0.0.1:${addr.port}`,
    routes: map,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
