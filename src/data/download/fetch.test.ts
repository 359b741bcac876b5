// Tests for fetch.ts against a local 127.0.0.1 server: full download, resume (same call and across calls) with a
// Range header, 200-restart, 416-complete, redirects, checksum mismatch, skip-if-present, HTTP errors, abort.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ChecksumError, HttpError, downloadFile, formatProgress, md5File } from './fetch';
import { startServer, TestServer } from './test-support';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
const blob = crypto.randomBytes(200_000);
let srv: TestServer;
let tmp: string;

before(async () => {
  srv = await startServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-fetch-'));
});
after(async () => {
  await srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function route(name: string, r: Parameters<TestServer['routes']['set']>[1]): string {
  srv.routes.set('/' + name, r);
  return `${srv.base}/${name}`;
}
const reqs = (name: string) => srv.requests.filter((r) => r.path === '/' + name);

test('downloads, verifies md5, reports progress, leaves no .part', async () => {
  const url = route('full', { data: blob });
  const dest = path.join(tmp, 'full.bin');
  const seen: [number, number | undefined][] = [];
  const r = await downloadFile(url, dest, { md5: md5(blob), onProgress: (b, t) => seen.push([b, t]) });
  assert.equal(r.skipped, false);
  assert.equal(r.md5, md5(blob));
  assert.deepEqual(fs.readFileSync(dest), blob);
  assert.equal(fs.existsSync(dest + '.part'), false);
  assert.deepEqual(seen.at(-1), [blob.length, blob.length]);
});

test('resumes within one call after the connection is cut, with a Range header', async () => {
  const url = route('cut', { data: blob, cutAfter: 70_000 });
  const dest = path.join(tmp, 'cut.bin');
  await downloadFile(url, dest, { md5: md5(blob), retries: 2, retryDelayMs: 0 });
  const rs = reqs('cut');
  assert.equal(rs.length, 2);
  assert.equal(rs[0].range, undefined);
  const m = /^bytes=(\d+)-$/.exec(rs[1].range ?? '');
  assert.ok(m, `second request carried Range: ${rs[1].range}`);
  assert.ok(Number(m[1]) > 0 && Number(m[1]) <= 70_000);
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('resumes a .part left by an earlier failed call', async () => {
  const url = route('cut2', { data: blob, cutAfter: 50_000 });
  const dest = path.join(tmp, 'cut2.bin');
  await assert.rejects(downloadFile(url, dest, { md5: md5(blob), retries: 0 }));
  const partLen = fs.statSync(dest + '.part').size;
  assert.ok(partLen > 0 && partLen <= 50_000);
  assert.equal(fs.existsSync(dest), false);
  await downloadFile(url, dest, { md5: md5(blob), retries: 0 });
  assert.equal(reqs('cut2')[1].range, `bytes=${partLen}-`);
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('a stalled connection times out and is resumed', async () => {
  const url = route('stall', { data: blob, cutAfter: 30_000, stall: true });
  const dest = path.join(tmp, 'stall.bin');
  await downloadFile(url, dest, { md5: md5(blob), retries: 1, retryDelayMs: 0, timeoutMs: 300 });
  assert.match(reqs('stall')[1].range ?? '', /^bytes=[1-9]\d*-$/);
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('a 200 answer to a Range request restarts the file', async () => {
  const url = route('norange', { data: blob, ignoreRange: true });
  const dest = path.join(tmp, 'norange.bin');
  fs.writeFileSync(dest + '.part', blob.subarray(0, 1234));
  await downloadFile(url, dest, { md5: md5(blob) });
  assert.equal(reqs('norange')[0].range, 'bytes=1234-');
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('416 on a complete .part finishes without a body', async () => {
  const url = route('done', { data: blob });
  const dest = path.join(tmp, 'done.bin');
  fs.writeFileSync(dest + '.part', blob);
  await downloadFile(url, dest, { md5: md5(blob) });
  assert.equal(reqs('done').length, 1);
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('a .part longer than the file is discarded and fetched again', async () => {
  const url = route('long', { data: blob });
  const dest = path.join(tmp, 'long.bin');
  fs.writeFileSync(dest + '.part', Buffer.concat([blob, Buffer.from('junk')]));
  await downloadFile(url, dest, { md5: md5(blob), retryDelayMs: 0 });
  assert.deepEqual(fs.readFileSync(dest), blob);
});

test('checksum mismatch deletes the .part and names url, expected and actual', async () => {
  const wrong = Buffer.from(blob);
  wrong[100] ^= 0xff;
  const url = route('wrong', { data: blob, wrong });
  const dest = path.join(tmp, 'wrong.bin');
  await assert.rejects(downloadFile(url, dest, { md5: md5(blob) }), (e: unknown) => {
    assert.ok(e instanceof ChecksumError);
    assert.match(e.message, new RegExp(url.replace(/[.]/g, '\\.')));
    assert.ok(e.message.includes(md5(blob)) && e.message.includes(md5(wrong)));
    return true;
  });
  assert.equal(fs.existsSync(dest), false);
  assert.equal(fs.existsSync(dest + '.part'), false);
});

test('skips when dest exists with the right checksum; refetches a corrupt dest', async () => {
  const url = route('skip', { data: blob });
  const dest = path.join(tmp, 'skip.bin');
  fs.writeFileSync(dest, blob);
  const r = await downloadFile(url, dest, { md5: md5(blob) });
  assert.equal(r.skipped, true);
  assert.equal(reqs('skip').length, 0);
  fs.writeFileSync(dest, 'corrupt');
  const r2 = await downloadFile(url, dest, { md5: md5(blob) });
  assert.equal(r2.skipped, false);
  assert.equal(reqs('skip').length, 1);
  assert.equal(await md5File(dest), md5(blob));
});

test('follows redirects, at most 5', async () => {
  route('target', { data: blob });
  route('r1', { data: blob, redirect: '/r2' });
  route('r2', { data: blob, redirect: `${srv.base}/target` });
  const dest = path.join(tmp, 'redir.bin');
  await downloadFile(`${srv.base}/r1`, dest, { md5: md5(blob) });
  assert.deepEqual(fs.readFileSync(dest), blob);
  const loop = route('loop', { data: blob, redirect: '/loop' });
  await assert.rejects(downloadFile(loop, path.join(tmp, 'loop.bin'), { retries: 0 }), /too many redirects/);
  assert.equal(reqs('loop').length, 6);
});

test('404 fails at once; 503 is retried a bounded number of times', async () => {
  await assert.rejects(
    downloadFile(`${srv.base}/missing`, path.join(tmp, 'm.bin'), { retryDelayMs: 0 }),
    (e: unknown) => {
      return e instanceof HttpError && e.status === 404;
    },
  );
  assert.equal(reqs('missing').length, 1);
  const url = route('busy', { data: blob, status: 503 });
  await assert.rejects(downloadFile(url, path.join(tmp, 'b.bin'), { retries: 2, retryDelayMs: 0 }), /HTTP 503/);
  assert.equal(reqs('busy').length, 3);
});

test('an aborted signal stops the download', async () => {
  const url = route('abort', { data: blob });
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(downloadFile(url, path.join(tmp, 'a.bin'), { signal: ac.signal }));
  assert.equal(reqs('abort').length, 0);
});

test('formatProgress', () => {
  assert.equal(formatProgress(50e6, 100e6, 1e6), '50.0/100.0 MB  50.0%  1.0 MB/s  ETA 50s');
  assert.equal(formatProgress(1e6, undefined, 2e6), '1.0 MB  2.0 MB/s');
  assert.match(formatProgress(0, 200e6, 1e6), /ETA 3m20s$/);
});
