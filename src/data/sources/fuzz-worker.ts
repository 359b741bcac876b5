// Fuzzing the file readers (run by fuzz.test.ts in a child process, so a native crash or a hang shows as the
// child dying or timing out): every reader gets seeded mutations of a valid file — bit flips, interesting
// bytes, length fields overwritten, truncations, duplicated chunks, mostly in the header — and must either
// parse or throw an Error; anything else thrown is counted. Prints one JSON line of counts per reader.
//   node dist/src/data/sources/fuzz-worker.js [cases per reader] [seed]
import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import { Rng } from '../../util/rng';
import { dispose } from '../../engine';
import { parseSafetensors } from '../../engine/safetensors';
import { readIdx } from './idx';
import { unpickle } from './pickle';
import { readMat5 } from './mat5';
import { decodeImage } from './image-decode';

const FORMATS = path.resolve(__dirname, '..', '..', '..', '..', 'fixtures', 'data', 'formats');
const OPS = path.resolve(__dirname, '..', '..', '..', '..', 'fixtures', 'ops');

function png(): Buffer {
  const p = new PNG({ width: 7, height: 5 });
  for (let i = 0; i < p.data.length; i++) p.data[i] = (i * 37) & 255;
  return PNG.sync.write(p);
}

function jpg(): Buffer {
  const w = 16;
  const h = 12;
  const d = Buffer.alloc(w * h * 4);
  for (let i = 0; i < d.length; i++) d[i] = (i * 13) & 255;
  return Buffer.from(jpeg.encode({ data: d, width: w, height: h }, 80).data);
}

/** The readers and one valid file for each. */
const READERS: { name: string; seed: () => Buffer; read: (b: Buffer) => unknown }[] = [
  {
    name: 'safetensors',
    seed: () => fs.readFileSync(path.join(OPS, 'safetensors_ref.safetensors')),
    read: (b) => dispose(Object.values(parseSafetensors(b, 'fuzz.safetensors').tensors)),
  },
  {
    name: 'idx',
    seed: () => fs.readFileSync(path.join(FORMATS, 'mnist', 'train-images-idx3-ubyte')),
    read: (b) => readIdx(b, 'fuzz.idx'),
  },
  {
    name: 'pickle',
    seed: () => fs.readFileSync(path.join(FORMATS, 'cifar10', 'cifar-10-batches-py', 'data_batch_1')),
    read: (b) => unpickle(b, { file: 'fuzz.pkl' }),
  },
  {
    name: 'mat5',
    seed: () => fs.readFileSync(path.join(FORMATS, 'svhn', 'test_32x32.mat')),
    read: (b) => readMat5(b, 'fuzz.mat'),
  },
  { name: 'png', seed: png, read: (b) => decodeImage(b, 'fuzz.png') },
  { name: 'jpeg', seed: jpg, read: (b) => decodeImage(b, 'fuzz.jpg') },
];

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff];
const BIG = [0, 1, 0x7fffffff, 0xffffffff, 0x10000, 0xfffffffe];

function mutate(src: Buffer, r: Rng): Buffer {
  let b = Buffer.from(src);
  // Headers hold the lengths and types: mutate there half of the time.
  const at = () => (r.bernoulli(0.5) ? r.int(0, Math.min(b.length, 64)) : r.int(0, b.length));
  const rounds = r.int(1, 4);
  for (let k = 0; k < rounds && b.length > 0; k++) {
    switch (r.int(0, 6)) {
      case 0:
        for (let j = r.int(1, 9); j > 0; j--) {
          const i = at();
          b[i] ^= 1 << r.int(0, 8);
        }
        break;
      case 1:
        b[at()] = INTERESTING[r.int(0, INTERESTING.length)];
        break;
      case 2: {
        const i = Math.min(at(), Math.max(0, b.length - 4));
        if (b.length >= 4) {
          const v = BIG[r.int(0, BIG.length)];
          if (r.bernoulli(0.5)) b.writeUInt32BE(v, i);
          else b.writeUInt32LE(v, i);
        }
        break;
      }
      case 3:
        b = b.subarray(0, r.int(0, b.length));
        break;
      case 4: {
        const i = at();
        const n = r.int(1, 64);
        b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + n), b.subarray(i)]);
        break;
      }
      default: {
        const i = at();
        b = Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + r.int(1, 16)))]);
      }
    }
  }
  return b;
}

function main(): void {
  const cases = Number(process.argv[2] ?? 600);
  const seed = Number(process.argv[3] ?? 1);
  for (const reader of READERS) {
    const valid = reader.seed();
    reader.read(valid); // the seed file itself must parse
    const r = new Rng(seed, reader.name.length);
    const counts = { reader: reader.name, cases, parsed: 0, errors: 0, nonErrors: [] as string[], slowestMs: 0 };
    for (let c = 0; c < cases; c++) {
      const buf = mutate(valid, r);
      const t0 = Date.now();
      try {
        reader.read(buf);
        counts.parsed++;
      } catch (e) {
        if (e instanceof Error) counts.errors++;
        else counts.nonErrors.push(`case ${c}: threw ${typeof e} ${String(e).slice(0, 80)}`);
      }
      counts.slowestMs = Math.max(counts.slowestMs, Date.now() - t0);
    }
    process.stdout.write(JSON.stringify(counts) + '\n');
  }
}

main();
