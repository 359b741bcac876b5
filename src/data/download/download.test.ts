// Tests for download() (index.ts) over an injected catalog pointing at a local 127.0.0.1 server that serves archives
// built here in the official layouts (cifar-10-batches-py tar.gz, tiny-imagenet-200 zip, loose IDX .gz files).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  CATALOG,
  COMPLETE_MARKER,
  Catalog,
  ChecksumError,
  UnsafeEntryError,
  download,
  listDownloadable,
  validateEntry,
} from './index';
import { startServer, tarEntry, tarGz, TestServer, zipArchive } from './test-support';

const md5 = (b: Buffer): string => crypto.createHash('md5').update(b).digest('hex');
let srv: TestServer;
let tmp: string;
before(async () => {
  srv = await startServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-dl-'));
});
after(async () => {
  await srv.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const batch = crypto.randomBytes(300_000);
const cifarTgz = tarGz([
  tarEntry({ name: 'cifar-10-batches-py/', type: '5' }),
  tarEntry({ name: 'cifar-10-batches-py/batches.meta', data: 'label_names' }),
  tarEntry({ name: 'cifar-10-batches-py/data_batch_1', data: batch }),
  tarEntry({ name: 'cifar-10-batches-py/test_batch', data: 'test' }),
  tarEntry({ name: 'cifar-10-batches-py/readme.html', data: '<html>' }),
]);
const tinyZip = zipArchive([
  { name: 'tiny-imagenet-200/' },
  { name: 'tiny-imagenet-200/wnids.txt', data: 'n01443537\n' },
  { name: 'tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG', data: batch, method: 0 },
]);
const idxImages = zlib.gzipSync(
  Buffer.concat([Buffer.from([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2]), Buffer.from([1, 2, 3, 4])]),
);
const idxLabels = zlib.gzipSync(Buffer.from([0, 0, 8, 1, 0, 0, 0, 1, 7]));

let rootN = 0;
const freshRoot = (): string => path.join(tmp, `root${rootN++}`);
const count = (p: string): number => srv.requests.filter((r) => r.path === p).length;

function catalog(): Catalog {
  return {
    'cifar10-local': {
      description: 'CIFAR-10 layout',
      files: [{ url: `${srv.base}/cifar-10-python.tar.gz`, filename: 'cifar-10-python.tar.gz', md5: md5(cifarTgz) }],
      extract: 'tar.gz',
      folder: 'cifar-10-batches-py',
    },
    'tiny-local': {
      description: 'Tiny-ImageNet layout',
      files: [{ url: `${srv.base}/tiny-imagenet-200.zip`, filename: 'tiny-imagenet-200.zip', md5: md5(tinyZip) }],
      extract: 'zip',
      folder: 'tiny-imagenet-200',
    },
    'fmnist-local': {
      description: 'IDX files, the first only on a mirror, the second without checksum',
      files: [
        {
          url: `${srv.base}/dead/train-images-idx3-ubyte.gz`,
          mirrors: [`${srv.base}/mirror/train-images-idx3-ubyte.gz`],
          filename: 'train-images-idx3-ubyte.gz',
          md5: md5(idxImages),
        },
        { url: `${srv.base}/mirror/train-labels-idx1-ubyte.gz`, filename: 'train-labels-idx1-ubyte.gz' },
      ],
      extract: 'none',
      folder: 'fmnist',
    },
    'wrong-md5': {
      description: 'served bytes do not match',
      files: [{ url: `${srv.base}/cifar-10-python.tar.gz`, filename: 'c.tar.gz', md5: md5(Buffer.from('other')) }],
      extract: 'tar.gz',
      folder: 'cifar-10-batches-py',
    },
    evil: {
      description: 'path traversal inside a valid-checksum archive',
      files: [{ url: `${srv.base}/evil.tar.gz`, filename: 'evil.tar.gz', md5: md5(evilTgz) }],
      extract: 'tar.gz',
      folder: 'cifar-10-batches-py',
    },
  };
}
const evilTgz = tarGz([
  tarEntry({ name: 'cifar-10-batches-py/batches.meta', data: 'x' }),
  tarEntry({ name: 'cifar-10-batches-py/../../escaped', data: 'x' }),
]);

test('cifar-10 layout: download, checksum, extract, marker; second call makes no request', async () => {
  srv.routes.set('/cifar-10-python.tar.gz', { data: cifarTgz });
  const root = freshRoot();
  const lines: string[] = [];
  let lastProgress: [number, number | undefined, string] | undefined;
  const dir = await download('cifar10-local', {
    root,
    catalog: catalog(),
    log: (m) => lines.push(m),
    onProgress: (b, t, _r, f) => (lastProgress = [b, t, f]),
  });
  assert.equal(dir, path.join(root, 'cifar-10-batches-py'));
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    COMPLETE_MARKER,
    'batches.meta',
    'data_batch_1',
    'readme.html',
    'test_batch',
  ]);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'data_batch_1')), batch);
  assert.deepEqual(lastProgress, [cifarTgz.length, cifarTgz.length, 'cifar-10-python.tar.gz']);
  assert.deepEqual(fs.readdirSync(root), ['cifar-10-batches-py'], 'archive, staging and .downloads cleaned up');
  assert.ok(lines.some((l) => l.includes('extracted 4 files')));
  const before = srv.requests.length;
  assert.equal(await download('cifar10-local', { root, catalog: catalog() }), dir);
  assert.equal(srv.requests.length, before, 'idempotent: no request');
});

test('resume: a cut connection is resumed with Range and the result is exact', async () => {
  srv.routes.set('/cifar-10-python.tar.gz', { data: cifarTgz, cutAfter: 100_000 });
  const root = freshRoot();
  const n0 = count('/cifar-10-python.tar.gz');
  const dir = await download('cifar10-local', {
    root,
    catalog: catalog(),
    retries: 2,
    retryDelayMs: 0,
    keepArchives: true,
  });
  const rs = srv.requests.filter((r) => r.path === '/cifar-10-python.tar.gz').slice(n0);
  assert.equal(rs.length, 2);
  assert.match(rs[1].range ?? '', /^bytes=[1-9]\d*-$/);
  assert.deepEqual(fs.readFileSync(path.join(root, '.downloads', 'cifar-10-python.tar.gz')), cifarTgz);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'data_batch_1')), batch);
});

test('tiny-imagenet layout (zip)', async () => {
  srv.routes.set('/tiny-imagenet-200.zip', { data: tinyZip });
  const root = freshRoot();
  const dir = await download('tiny-local', { root, catalog: catalog() });
  assert.equal(fs.readFileSync(path.join(dir, 'wnids.txt'), 'utf8'), 'n01443537\n');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'train/n01443537/images/n01443537_0.JPEG')), batch);
  assert.ok(fs.existsSync(path.join(dir, COMPLETE_MARKER)));
});

test("extract 'none': loose files, mirror fallback, warning for a missing checksum", async () => {
  srv.routes.set('/mirror/train-images-idx3-ubyte.gz', { data: idxImages });
  srv.routes.set('/mirror/train-labels-idx1-ubyte.gz', { data: idxLabels });
  const root = freshRoot();
  const lines: string[] = [];
  const dir = await download('fmnist-local', { root, catalog: catalog(), log: (m) => lines.push(m), retryDelayMs: 0 });
  assert.deepEqual(fs.readFileSync(path.join(dir, 'train-images-idx3-ubyte.gz')), idxImages);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'train-labels-idx1-ubyte.gz')), idxLabels);
  assert.equal(count('/dead/train-images-idx3-ubyte.gz'), 1);
  assert.ok(lines.some((l) => /warning: no published checksum for train-labels/.test(l)));
  assert.ok(lines.some((l) => /HTTP 404.*trying .*mirror/.test(l)));
});

test('checksum mismatch: error names url/expected/actual, no dataset folder, no .part', async () => {
  srv.routes.set('/cifar-10-python.tar.gz', { data: cifarTgz });
  const root = freshRoot();
  await assert.rejects(download('wrong-md5', { root, catalog: catalog() }), (e: unknown) => {
    assert.ok(e instanceof ChecksumError);
    assert.ok(e.message.includes(`${srv.base}/cifar-10-python.tar.gz`));
    assert.ok(e.message.includes(md5(Buffer.from('other'))) && e.message.includes(md5(cifarTgz)));
    return true;
  });
  assert.equal(fs.existsSync(path.join(root, 'cifar-10-batches-py')), false);
  assert.deepEqual(fs.readdirSync(path.join(root, '.downloads')), []);
});

test('an archive with a traversal entry is refused and nothing is written', async () => {
  srv.routes.set('/evil.tar.gz', { data: evilTgz });
  const root = freshRoot();
  await assert.rejects(download('evil', { root, catalog: catalog() }), UnsafeEntryError);
  assert.equal(fs.existsSync(path.join(root, 'cifar-10-batches-py')), false);
  assert.equal(fs.existsSync(path.join(tmp, 'escaped')), false);
  assert.equal(fs.existsSync(path.join(root, 'escaped')), false);
  assert.deepEqual(fs.readdirSync(root), ['.downloads'], 'no dataset folder, staging or lock left');
});

test('a folder without the marker is not overwritten', async () => {
  srv.routes.set('/cifar-10-python.tar.gz', { data: cifarTgz });
  const root = freshRoot();
  fs.mkdirSync(path.join(root, 'cifar-10-batches-py'), { recursive: true });
  fs.writeFileSync(path.join(root, 'cifar-10-batches-py', 'mine'), 'user data');
  const n0 = srv.requests.length;
  await assert.rejects(download('cifar10-local', { root, catalog: catalog() }), /no \.complete marker/);
  assert.equal(srv.requests.length, n0);
  assert.equal(fs.readFileSync(path.join(root, 'cifar-10-batches-py', 'mine'), 'utf8'), 'user data');
});

test('a foreign file with the wrong checksum is never deleted', async () => {
  srv.routes.set('/mirror/train-images-idx3-ubyte.gz', { data: idxImages });
  srv.routes.set('/mirror/train-labels-idx1-ubyte.gz', { data: idxLabels });
  const root = freshRoot();
  const mine = path.join(root, 'fmnist', 'train-images-idx3-ubyte.gz');
  fs.mkdirSync(path.dirname(mine), { recursive: true });
  fs.writeFileSync(mine, 'recompressed elsewhere');
  await assert.rejects(download('fmnist-local', { root, catalog: catalog() }), /exists but its md5 is .*move it away/);
  assert.equal(fs.readFileSync(mine, 'utf8'), 'recompressed elsewhere');
  assert.equal(fs.existsSync(path.join(root, 'fmnist', COMPLETE_MARKER)), false);
});

test('a live lock refuses a concurrent download; a stale one is taken over', async () => {
  srv.routes.set('/tiny-imagenet-200.zip', { data: tinyZip });
  const root = freshRoot();
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, '.lock-tiny-local'), String(process.pid));
  await assert.rejects(
    download('tiny-local', { root, catalog: catalog() }),
    /another download of tiny-local is running/,
  );
  fs.writeFileSync(path.join(root, '.lock-tiny-local'), '2147483646'); // no such process
  await download('tiny-local', { root, catalog: catalog() });
  assert.deepEqual(fs.readdirSync(root), ['tiny-imagenet-200'], 'lock released');
});

test('unknown names list what is downloadable; the built-in catalog is complete', async () => {
  await assert.rejects(download('nope', { root: freshRoot() }), /unknown dataset "nope"; downloadable: cifar10, /);
  const names = listDownloadable().map((d) => d.name);
  for (const n of ['cifar10', 'cifar10-binary', 'cifar100', 'svhn', 'mnist', 'fashion-mnist', 'tiny-imagenet']) {
    assert.ok(names.includes(n), n);
  }
  for (const [name, e] of Object.entries(CATALOG)) {
    validateEntry(name, e);
    for (const f of e.files) assert.match(f.md5 ?? '', /^[0-9a-f]{32}$/, `${name}/${f.filename} has an md5`);
  }
  assert.equal(CATALOG.cifar10.files[0].md5, 'c58f30108f718f92721af3b95e74349a');
  assert.equal(listDownloadable().find((d) => d.name === 'tiny-imagenet')?.bytes, 248100043);
});
