import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { NdArray, PyDict, PyTuple, unpickle } from './pickle';
import { DataFormatError } from './types';
import { FORMATS } from './test-fixtures';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const bin = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

test('unpickle: scalars, containers, memo, LONG1, BINFLOAT, _codecs.encode bytes (Python 3 protocol 2)', () => {
  // pickle.dumps({'a':[1,-2,2**40,-2**70,1.5,None,True,False,(),(1,),(1,2),(1,2,3),(1,2,3,4)],b'k':b'xy','s':'héllo'}, 2)
  const p = bin(
    '\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01J\xfe\xff\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\t\x00\x00\x00\x00\x00\x00\x00\x00\xc0G?\xf8\x00\x00\x00\x00\x00\x00N\x88\x89)K\x01\x85q\x03K\x01K\x02\x86q\x04K\x01K\x02K\x03\x87q\x05(K\x01K\x02K\x03K\x04tq\x06ec_codecs\nencode\nq\x07X\x01\x00\x00\x00kq\x08X\x06\x00\x00\x00latin1q\t\x86q\nRq\x0bh\x07X\x02\x00\x00\x00xyq\x0ch\t\x86q\rRq\x0eX\x01\x00\x00\x00sq\x0fX\x06\x00\x00\x00h\xc3\xa9lloq\x10u.',
  );
  const d = unpickle(p);
  assert.ok(d instanceof PyDict);
  const a = d.get('a') as unknown[];
  assert.deepEqual(a.slice(0, 8), [1, -2, 2 ** 40, -(2n ** 70n), 1.5, null, true, false]);
  assert.deepEqual(
    (a.slice(8) as PyTuple[]).map((t) => t.items),
    [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]],
  );
  assert.deepEqual(d.get('k'), new Uint8Array([0x78, 0x79])); // bytes key found by its text
  assert.equal(d.get('s'), 'héllo');
});

test('unpickle: numpy arrays — Fortran order + big-endian int32 (protocol 2), int64 (protocol 4, FRAME/MEMOIZE)', () => {
  const f = unpickle(
    hex(
      '8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b024b0386710a636e756d70790a64747970650a710b58020000006934710c898887710d52710e284b0358010000003e710f4e4e4e4affffffff4affffffff4b0074711062886803581800000000000000000000030000000100000004000000020000000571116805867112527113747114622e',
    ),
  );
  assert.ok(f instanceof NdArray);
  assert.deepEqual(f.shape, [2, 3]);
  assert.deepEqual([...f.toNumbers()], [0, 1, 2, 3, 4, 5]);
  const g = unpickle(
    hex(
      '800495a0000000000000008c156e756d70792e636f72652e6d756c74696172726179948c0c5f7265636f6e7374727563749493948c056e756d7079948c076e6461727261799493944b0085944301629487945294284b014b03859468038c0564747970659493948c02693894898887945294284b038c013c944e4e4e4affffffff4affffffff4b007494628943180500000000000000fdffffffffffffff0700000000000000947494622e',
    ),
  );
  assert.ok(g instanceof NdArray);
  assert.equal(g.dtype?.str, 'i8');
  assert.deepEqual([...g.toNumbers()], [5, -3, 7]);
});

test('unpickle refuses os.system (protocols 2 and 4) without running anything', () => {
  const marker = '/tmp/ltkit-pickle-pwned';
  fs.rmSync(marker, { force: true });
  for (const f of ['os_system_p2.pkl', 'os_system_p4.pkl']) {
    const file = path.join(FORMATS, 'evil', f);
    assert.throws(
      () => unpickle(fs.readFileSync(file), { file }),
      (e: unknown) =>
        e instanceof DataFormatError &&
        e.message.includes(f) &&
        /global 'posix\.system' is not allowed/.test(e.message),
    );
  }
  assert.equal(fs.existsSync(marker), false);
});

test('unpickle rejects other globals, opcodes, protocols, object arrays and malformed streams', () => {
  const bad: [Uint8Array, RegExp][] = [
    [bin('\x80\x02cbuiltins\neval\nX\x04\x00\x00\x001+1\x85R.'), /global 'builtins\.eval' is not allowed/],
    [bin('\x80\x02c__builtin__\ngetattr\n.'), /global '__builtin__\.getattr' is not allowed/],
    [bin('\x80\x02(ios\nsystem\nX\x02\x00\x00\x00ls.'), /unsupported opcode 0x69/], // INST
    [bin('\x80\x05N.'), /unsupported pickle protocol 5/],
    [bin('\x80\x02cnumpy\ndtype\ncnumpy\ndtype\n\x85R.'), /_reconstruct|REDUCE|cannot|dtype/],
    [bin('\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85C\x01b\x87R.'), /only numpy\.ndarray/],
    [bin('\x80\x02X\xff\x00\x00\x00ab'), /truncated/],
    [bin('\x80\x02K\x01'), /truncated \(no STOP/],
    [bin('\x80\x02h\x05.'), /memo key 5 missing/],
    [bin('\x80\x02.'), /stack underflow/],
    [bin('\x80\x02K\x01K\x02.'), /items left on the stack/],
    // numpy object array (dtype 'O8'): refused before any element is touched
    [
      hex(
        '8002636e756d70792e636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7100636e756d70790a6e6461727261790a71014b00857102635f636f646563730a656e636f64650a7103580100000062710458060000006c6174696e317105867106527107877108527109284b014b0285710a636e756d70790a64747970650a710b58020000004f38710c898887710d52710e284b0358010000007c710f4e4e4e4affffffff4affffffff4b3f74711062895d7111284b004b0065747112622e',
      ),
      /unsupported numpy dtype 'O8'/,
    ],
  ];
  for (const [buf, re] of bad) {
    assert.throws(
      () => unpickle(buf, { file: 'x.pkl' }),
      (e: unknown) => e instanceof DataFormatError && e.message.startsWith('x.pkl: ') && re.test(e.message),
      re.source,
    );
  }
});
