// Tests for extract.ts: ustar/GNU/pax tar(.gz) and stored/deflate zip round trips, interop with the system tar/zip
// when present, and the safety rules: traversal, absolute paths and links are refused with nothing written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawnSync } from 'child_process';
import { UnsafeEntryError, crc32, detectFormat, extractArchive, safeEntryPath } from './extract';
import { tarArchive, tarEntry, tarGnuLong, tarGz, tarPax, zipArchive } from './test-support';

let tmp: string;
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-extract-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function write(name: string, data: Buffer): string {
  const p = path.join(tmp, `${n++}-${name}`);
  fs.writeFileSync(p, data);
  return p;
}

/** Relative path → content of every regular file under dir (sorted). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  (function walk(d: string, rel: string) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out[r] = fs.readFileSync(path.join(d, e.name), 'latin1');
    }
  })(dir, '');
  return out;
}

const big = crypto.randomBytes(3 * 1024 * 1024 + 17).toString('latin1');
const longName = 'cifar-10-batches-py/' + 'd'.repeat(120) + '/file-with-a-long-name.bin';
const paxName = 'cifar-10-batches-py/pax/' + 'p'.repeat(150) + '/ünïcode.txt';

test('tar.gz: ustar files and dirs, prefix field, GNU long name, pax path, multi-MB file', async () => {
  const archive = write(
    'a.tar.gz',
    tarGz([
      tarEntry({ name: 'cifar-10-batches-py/', type: '5' }),
      tarEntry({ name: 'cifar-10-batches-py/batches.meta', data: 'meta' }),
      tarEntry({ name: 'cifar-10-batches-py/data_batch_1', data: Buffer.from(big, 'latin1') }),
      tarEntry({ name: 'readme.html', prefix: 'cifar-10-batches-py/deep', data: '<html>' }),
      tarEntry({ name: 'cifar-10-batches-py/run.sh', data: '#!/bin/sh\n', mode: 0o755 }),
      tarGnuLong(longName, 'long'),
      tarPax(paxName, 'pax'),
      tarEntry({ name: './cifar-10-batches-py/./empty', data: '' }),
    ]),
  );
  assert.equal(detectFormat(archive), 'tar.gz');
  const target = path.join(tmp, 'out-a');
  const r = await extractArchive(archive, target);
  assert.equal(r.files, 7);
  assert.deepEqual(tree(target), {
    'cifar-10-batches-py/batches.meta': 'meta',
    'cifar-10-batches-py/data_batch_1': big,
    'cifar-10-batches-py/deep/readme.html': '<html>',
    'cifar-10-batches-py/run.sh': '#!/bin/sh\n',
    [longName]: 'long',
    [paxName]: 'pax',
    'cifar-10-batches-py/empty': '',
  });
  assert.ok(fs.statSync(path.join(target, 'cifar-10-batches-py/run.sh')).mode & 0o100);
  assert.deepEqual(
    fs.readdirSync(tmp).filter((f) => f.includes('.extract-')),
    [],
    'no temporary folder left',
  );
});

test('plain .tar is detected and extracted', async () => {
  const archive = write('b.tar', tarArchive([tarEntry({ name: 'x/y.txt', data: 'y' })]));
  assert.equal(detectFormat(archive), 'tar');
  const target = path.join(tmp, 'out-b');
  await extractArchive(archive, target);
  assert.deepEqual(tree(target), { 'x/y.txt': 'y' });
});

test('zip: stored and deflate entries, directories, CRC checked', async () => {
  const entries = [
    { name: 'tiny-imagenet-200/', data: '' },
    { name: 'tiny-imagenet-200/wnids.txt', data: 'n01443537\nn01629819\n', method: 8 as const },
    { name: 'tiny-imagenet-200/words.txt', data: 'n01443537\tgoldfish\n', method: 0 as const },
    { name: 'tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG', data: Buffer.from(big, 'latin1') },
    { name: 'tiny-imagenet-200/val/empty.txt', data: '' },
  ];
  const archive = write('c.zip', zipArchive(entries));
  assert.equal(detectFormat(archive), 'zip');
  const target = path.join(tmp, 'out-c');
  const r = await extractArchive(archive, target);
  assert.equal(r.files, 4);
  assert.deepEqual(tree(target), {
    'tiny-imagenet-200/wnids.txt': 'n01443537\nn01629819\n',
    'tiny-imagenet-200/words.txt': 'n01443537\tgoldfish\n',
    'tiny-imagenet-200/train/n01443537/images/n01443537_0.JPEG': big,
    'tiny-imagenet-200/val/empty.txt': '',
  });

  const bad = write('bad-crc.zip', zipArchive(entries, { corruptCrcOf: 'tiny-imagenet-200/words.txt' }));
  await assert.rejects(extractArchive(bad, path.join(tmp, 'out-c2')), /CRC-32 mismatch/);
  assert.equal(fs.existsSync(path.join(tmp, 'out-c2')), false);
});

test('crc32 matches zlib', () => {
  const b = crypto.randomBytes(10000);
  assert.equal(crc32(b), zlib.crc32(b));
  assert.equal(crc32(Buffer.alloc(0)), 0);
});

test('safeEntryPath normalizes inside paths and refuses escapes', () => {
  assert.equal(safeEntryPath('./a//b/./c'), 'a/b/c');
  assert.equal(safeEntryPath('a/../b'), 'b');
  assert.equal(safeEntryPath('./'), '');
  for (const bad of ['../evil', 'a/../../evil', '/abs', '\\abs', 'C:/x', 'a\\..\\..\\x', 'a\0b']) {
    assert.throws(() => safeEntryPath(bad), UnsafeEntryError, bad);
  }
});

/** Asserts that extracting `archive` throws UnsafeEntryError and writes nothing, inside or outside the target. */
async function assertRefused(archive: string, label: string): Promise<void> {
  const box = fs.mkdtempSync(path.join(tmp, 'box-'));
  const target = path.join(box, 'sub', 'target');
  fs.mkdirSync(path.dirname(target));
  await assert.rejects(extractArchive(archive, target), UnsafeEntryError, label);
  assert.equal(fs.existsSync(target), false, `${label}: target not created`);
  assert.deepEqual(fs.readdirSync(path.dirname(target)), [], `${label}: no temp folder left`);
  assert.deepEqual(fs.readdirSync(box), ['sub'], `${label}: nothing written beside the target`);
  assert.equal(fs.existsSync('/abs-ltkit-evil'), false);
}

test('tar: ../evil, /abs, deep escape, symlink to /etc, hardlink are refused; nothing is written', async () => {
  const ok = tarEntry({ name: 'good/file', data: 'fine' }); // written first, then the bad entry
  const cases: [string, Buffer][] = [
    ['dotdot', tarGz([ok, tarEntry({ name: '../evil', data: 'x' })])],
    ['abs', tarGz([ok, tarEntry({ name: '/abs-ltkit-evil', data: 'x' })])],
    ['deep', tarGz([ok, tarEntry({ name: 'good/../../../evil', data: 'x' })])],
    ['symlink', tarGz([ok, tarEntry({ name: 'good/etc', type: '2', linkname: '/etc' })])],
    [
      'symlink-then-write',
      tarGz([tarEntry({ name: 'l', type: '2', linkname: '..' }), tarEntry({ name: 'l/evil', data: 'x' })]),
    ],
    ['hardlink', tarGz([ok, tarEntry({ name: 'good/pw', type: '1', linkname: '/etc/passwd' })])],
    ['gnu-long-dotdot', tarGz([ok, tarGnuLong('../' + 'e'.repeat(120), 'x')])],
    ['pax-abs', tarGz([ok, tarPax('/abs-ltkit-evil', 'x')])],
    ['fifo', tarGz([tarEntry({ name: 'fifo', type: '6' })])],
  ];
  for (const [label, data] of cases) await assertRefused(write(label + '.tar.gz', data), label);
});

test('zip: ../evil, /abs and symlink entries are refused before anything is written', async () => {
  const ok = { name: 'good/file', data: 'fine' };
  const cases: [string, Buffer][] = [
    ['dotdot', zipArchive([ok, { name: '../evil', data: 'x' }])],
    ['abs', zipArchive([ok, { name: '/abs-ltkit-evil', data: 'x' }])],
    ['backslash', zipArchive([ok, { name: '..\\evil', data: 'x' }])],
    ['symlink', zipArchive([ok, { name: 'good/etc', data: '/etc', unixMode: 0o120777 }])],
  ];
  for (const [label, data] of cases) await assertRefused(write(label + '.zip', data), label);
});

test('corrupt input: bad tar checksum, truncated gzip, zip64 marker, existing target', async () => {
  const t = tarArchive([tarEntry({ name: 'a', data: 'a' })]);
  t[0] ^= 1; // breaks the header checksum
  await assert.rejects(extractArchive(write('bad.tar', t), path.join(tmp, 'o1'), { format: 'tar' }), /checksum/);
  const gz = tarGz([tarEntry({ name: 'a', data: crypto.randomBytes(100000) })]);
  await assert.rejects(extractArchive(write('trunc.tar.gz', gz.subarray(0, gz.length / 2)), path.join(tmp, 'o2')));
  assert.equal(fs.existsSync(path.join(tmp, 'o2')), false);
  const z = zipArchive([{ name: 'a', data: 'a' }]);
  const eocd = z.length - 22;
  const z64 = Buffer.concat([z.subarray(0, eocd), Buffer.alloc(20), z.subarray(eocd)]);
  z64.writeUInt32LE(0x07064b50, eocd);
  await assert.rejects(extractArchive(write('z64.zip', z64), path.join(tmp, 'o3')), /zip64/);
  const ok = write('ok.tar', tarArchive([tarEntry({ name: 'a', data: 'a' })]));
  fs.mkdirSync(path.join(tmp, 'exists'));
  await assert.rejects(extractArchive(ok, path.join(tmp, 'exists')), /already exists/);
});

function have(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

test('interop: archives made by the system tar (gnu, pax) and zip', async (t) => {
  if (!have('tar') || !have('zip')) return t.skip('system tar/zip not installed');
  const src = fs.mkdtempSync(path.join(tmp, 'src-'));
  const files: Record<string, string> = {
    'cifar-100-python/meta': 'meta',
    'cifar-100-python/train': big,
    [`cifar-100-python/${'q'.repeat(90)}/${'r'.repeat(90)}/x.txt`]: 'nested long',
  };
  for (const [rel, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), data, 'latin1');
  }
  for (const fmt of ['gnu', 'pax', 'ustar']) {
    const archive = path.join(tmp, `sys-${fmt}.tar.gz`);
    const r = spawnSync('tar', [`--format=${fmt}`, '-czf', archive, '-C', src, 'cifar-100-python']);
    if (r.status !== 0) {
      assert.equal(fmt, 'ustar', `tar --format=${fmt} failed: ${r.stderr}`); // ustar cannot hold a 190-char path
      continue;
    }
    const target = path.join(tmp, `sys-out-${fmt}`);
    await extractArchive(archive, target);
    assert.deepEqual(tree(target), files, fmt);
  }
  const zipPath = path.join(tmp, 'sys.zip');
  const z = spawnSync('zip', ['-qr', zipPath, 'cifar-100-python'], { cwd: src });
  assert.equal(z.status, 0, String(z.stderr));
  const target = path.join(tmp, 'sys-out-zip');
  await extractArchive(zipPath, target);
  assert.deepEqual(tree(target), files);
});
