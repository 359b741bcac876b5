// Streamed file data: sharp decoding (test geometry, grey/alpha → RGB, bad files), the prefetching loader
// (decoding overlaps the step; memory flat over many batches), the ImageNet-LT list layout and own folders
// through train(), and the messages for missing files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { memory } from '../../engine';
import { ShuffleSampler } from '../loader';
import { StreamLoader } from './stream-loader';
import { WorkerDecoder } from './worker-decoder';
import { decodeFiles, resizedShape, roundHalfEven, DecodedBatch, DecodeSpec, ImageDecoder } from './decode';
import { buildTrainData } from '../train-data';
import { resolveConfig } from '../../train/config';
import { train } from '../../train/trainer';
import { streamPipelines } from '../../train/pipelines';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-stream-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** A w×h JPEG (or PNG) of one colour per class with a gradient, so crops differ. */
async function writeImage(file: string, w: number, h: number, c: number, fmt: 'jpeg' | 'png' = 'jpeg') {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      px[o] = (60 * c + x) % 256;
      px[o + 1] = (200 - 50 * c + y) % 256;
      px[o + 2] = (40 + 70 * c) % 256;
    }
  const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  await (fmt === 'jpeg' ? img.jpeg({ quality: 90 }) : img.png()).toFile(file);
}

/** An ImageNet-LT-style tree: root/train/n0000000c/*.JPEG + ImageNet_LT_{train,val,test}.txt. */
async function imagenetTree(root: string, perClass: number[], opts: { bad?: boolean } = {}) {
  const lines: Record<string, string[]> = { train: [], val: [], test: [] };
  const sizes = [
    [50, 40],
    [36, 64],
    [80, 45],
    [40, 40],
  ];
  let k = 0;
  for (const [c, n] of perClass.entries()) {
    for (const split of ['train', 'val', 'test'] as const) {
      const m = split === 'train' ? n : 2;
      for (let j = 0; j < m; j++, k++) {
        const rel = `${split}/n0000000${c}/img_${j}.JPEG`;
        const [w, h] = sizes[k % sizes.length];
        await writeImage(path.join(root, rel), w, h, c, k % 5 === 4 ? 'png' : 'jpeg');
        lines[split].push(`${rel} ${c}`);
      }
    }
  }
  if (opts.bad) {
    const trunc = 'train/n00000000/truncated.JPEG';
    const full = fs.readFileSync(path.join(root, lines.train[0].split(' ')[0]));
    fs.writeFileSync(path.join(root, trunc), full.subarray(0, Math.floor(full.length / 2)));
    fs.writeFileSync(path.join(root, 'train/n00000001/notanimage.JPEG'), 'hello');
    lines.train.push(`${trunc} 0`, 'train/n00000001/notanimage.JPEG 1');
  }
  for (const s of ['train', 'val', 'test'])
    fs.writeFileSync(path.join(root, `ImageNet_LT_${s}.txt`), lines[s].join('\n') + '\n');
}

test('decode: torchvision Resize/CenterCrop geometry, grey and alpha images become RGB, bad files reported', async () => {
  assert.deepEqual(resizedShape(375, 500, 256), [256, 341]);
  assert.deepEqual(resizedShape(500, 333, 256), [384, 256]);
  assert.equal(roundHalfEven(16.5), 16);
  assert.equal(roundHalfEven(17.5), 18);
  const dir = path.join(tmp, 'decode');
  fs.mkdirSync(dir, { recursive: true });
  await writeImage(path.join(dir, 'a.jpg'), 90, 60, 1);
  await sharp(Buffer.alloc(30 * 50, 128), { raw: { width: 30, height: 50, channels: 1 } })
    .png()
    .toFile(path.join(dir, 'grey.png'));
  await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } })
    .png()
    .toFile(path.join(dir, 'alpha.png'));
  fs.writeFileSync(path.join(dir, 'bad.jpg'), 'not a jpeg');
  const full = fs.readFileSync(path.join(dir, 'a.jpg'));
  fs.writeFileSync(path.join(dir, 'trunc.jpg'), full.subarray(0, full.length >> 1));
  const paths = ['a.jpg', 'grey.png', 'alpha.png', 'bad.jpg', 'trunc.jpg', 'missing.jpg'].map((f) => path.join(dir, f));
  const spec: DecodeSpec = { mode: 'test', size: 24, resize: 28 };
  const b = await decodeFiles(paths, spec);
  assert.equal(b.data.length, 6 * 24 * 24 * 3);
  assert.deepEqual(
    b.errors.map((e) => e === null),
    [true, true, true, false, false, false],
  );
  // The grey image has equal channels; the alpha one is RGB (alpha dropped).
  const g = b.data.subarray(24 * 24 * 3, 2 * 24 * 24 * 3);
  assert.ok(g[0] === g[1] && g[1] === g[2] && Math.abs(g[0] - 128) <= 1);
  // Decoding into a recycled buffer (old pixels in it) gives the same bytes: the failed images' slots are zeroed.
  const used = new Uint8Array(b.data.length).fill(255);
  const again = await decodeFiles(paths, spec, used);
  assert.equal(again.data, used);
  assert.deepEqual(Buffer.from(again.data), Buffer.from(b.data));
  assert.match(b.errors[3] ?? '', /unsupported image format/);
  // The worker gives the same bytes, synchronously and asynchronously.
  const w = new WorkerDecoder();
  try {
    const s = w.waitSync(w.submit(paths, spec));
    assert.deepEqual(
      s.errors.map((e) => e === null),
      b.errors.map((e) => e === null),
    );
    assert.deepEqual(Buffer.from(s.data), Buffer.from(b.data));
    const a = await w.decodeBatch(paths.slice(0, 1), spec);
    assert.deepEqual(Buffer.from(a.data), Buffer.from(b.data.subarray(0, 24 * 24 * 3)));
  } finally {
    w.close();
  }
});

/** A decoder stub: the bytes of a constant image after `delayMs`, recording when each batch was asked for. */
function slowDecoder(delayMs: number, started: number[]): ImageDecoder {
  return {
    decodeBatch(paths: readonly string[], spec: DecodeSpec): Promise<DecodedBatch> {
      started.push(performance.now());
      return new Promise((resolve) =>
        setTimeout(
          () =>
            resolve({
              data: new Uint8Array(paths.length * spec.size * spec.size * 3).fill(100),
              size: spec.size,
              errors: paths.map(() => null),
            }),
          delayMs,
        ),
      );
    },
  };
}

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('decoding overlaps the step: batch i+1 is requested before step i ends; time ≈ max, not the sum', async () => {
  const n = 8;
  const D = 120; // decode time per batch
  const S = 120; // synchronous step time
  const started: number[] = [];
  const stepEnd: number[] = [];
  const files = { paths: Array.from({ length: n * 4 }, (_, i) => `x${i}.jpg`), targets: new Int32Array(n * 4) };
  const loader = new StreamLoader(files, {
    sampler: new ShuffleSampler(n * 4, 0, false),
    batchSize: 4,
    decode: { mode: 'train', size: 8 },
    decoder: slowDecoder(D, started),
    prefetch: 2,
  });
  const t0 = performance.now();
  let steps = 0;
  for await (const b of loader.asyncEpoch(0)) {
    assert.equal(b.x.shape[0], 4);
    busy(S);
    stepEnd.push(performance.now());
    steps++;
  }
  const total = performance.now() - t0;
  assert.equal(steps, n);
  for (let i = 0; i + 1 < n; i++)
    assert.ok(started[i + 1] < stepEnd[i], `decode ${i + 1} started after step ${i} ended`);
  // Serial would be n·(D + S) = 1920 ms; overlapped ≈ D + n·S = 1080 ms.
  assert.ok(total < 0.8 * n * (D + S), `total ${total.toFixed(0)} ms is not below 0.8 × the serial ${n * (D + S)} ms`);
});

test('memory stays flat over many streamed batches of the ImageNet train pipeline (live tensors, RSS)', async () => {
  // The trainer's streamed pipeline (RandomResizedCrop + flip + ColorJitter + Normalize) through both paths.
  // Three things once made RSS climb here for many epochs (26 MiB over the 80 batches measured below): ColorJitter
  // ran on sub-batches of random sizes (the caching CPU allocator then kept a block of every size it had seen),
  // every batch's pixel buffer became garbage on the main thread, and every image's file bytes and pixels
  // garbage in the decode worker, each freed only when V8 got round to collecting it.
  const dir = path.join(tmp, 'mem');
  const N = 64;
  const paths: string[] = [];
  for (let i = 0; i < N; i++) {
    const p = path.join(dir, `${i}.jpg`);
    await writeImage(p, 96 + (i % 7) * 9, 96 + (i % 5) * 11, i % 3);
    paths.push(p);
  }
  const pipes = streamPipelines(
    { crop: 80, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], colorJitter: true },
    true,
  );
  const loader = new StreamLoader(
    { paths, targets: Int32Array.from(paths, (_, i) => i % 3) },
    {
      sampler: new ShuffleSampler(N, 1, true),
      batchSize: 32,
      decode: { mode: 'train', size: 96 },
      transform: pipes.train,
    },
  );
  const gc = () => (globalThis as { gc?: () => void }).gc?.();
  const before = memory().numTensors;
  const rss: number[] = [];
  const epochs = 30;
  for (let e = 0; e < epochs; e++) {
    for await (const b of loader.asyncEpoch(e)) assert.deepEqual(b.x.shape, [32, 3, 80, 80]);
    for (const b of loader.epoch(e)) assert.equal(b.y.shape[0], 32);
    gc();
    rss.push(process.memoryUsage().rss / 2 ** 20);
  }
  assert.equal(memory().numTensors, before, `live tensors after ${epochs * 4} batches`);
  // After a warm-up of 10 epochs (40 batches: thread pools, JIT, first allocations), RSS may wobble, not climb.
  const growth = Math.max(...rss.slice(10)) - rss[9];
  const trace = rss.map((r) => r.toFixed(0)).join(' ');
  assert.ok(growth < 16, `RSS grew ${growth.toFixed(1)} MiB over ${(epochs - 10) * 4} batches after warm-up: ${trace}`);
});

test('ImageNet-LT list layout trains ResNet-10 at crop 32 through train(); bad images reported by path', async () => {
  const root = path.join(tmp, 'imagenet');
  await imagenetTree(root, [12, 6, 3], { bad: true });
  const lines: string[] = [];
  const r = await train(
    {
      name: 'inlt',
      outDir: path.join(tmp, 'runs'),
      data: { dataset: 'imagenet-lt', root, cropSize: 32, workSize: 40, testResize: 36 },
      model: { name: 'resnet10' },
      optim: { lr: 0.2 * (8 / 512), weightDecay: 5e-4 },
      schedule: { type: 'cosine', warmupEpochs: 0 },
      train: { epochs: 2, batchSize: 8, maxStepsPerEpoch: 3, progress: 'on' },
      threads: 1,
    },
    { log: (l) => lines.push(l) },
  );
  const text = lines.join('\n');
  assert.equal(r.status, 'completed', text);
  assert.ok(r.final && (r.final.top1 ?? -1) >= 0);
  assert.match(text, /labels 0\.\.2 only — training 3 of imagenet-lt's 1000 classes/);
  assert.match(text, /long-tail profile: 3 classes, 23 training images, ρ = n_max\/n_min = 4\.3/);
  assert.match(text, /truncated\.JPEG/);
  assert.match(text, /notanimage\.JPEG/);
  // Each bad image is reported once, though it is met in both epochs.
  assert.equal((text.match(/skipping unreadable image .*truncated\.JPEG/g) ?? []).length, 1);
  const info = JSON.parse(fs.readFileSync(path.join(r.runDir, 'run.json'), 'utf8'));
  assert.deepEqual(info.data.imageShape, [32, 32, 3]);
  assert.equal(info.data.valSize, 6);
  // badImages: fail stops with the file's name.
  await assert.rejects(
    train(
      {
        name: 'inlt-fail',
        outDir: path.join(tmp, 'runs'),
        data: { dataset: 'imagenet-lt', root, cropSize: 32, badImages: 'fail' },
        model: { name: 'resnet10' },
        train: { epochs: 1, batchSize: 32, progress: 'off' },
        threads: 1,
      },
      { log: () => undefined },
    ),
    /(truncated|notanimage)\.JPEG: cannot decode image/,
  );
});

test('a missing list file or data.root is named in the message', () => {
  const root = path.join(tmp, 'empty-root');
  fs.mkdirSync(root, { recursive: true });
  const d = (dataset: string, r?: string) => resolveConfig({ data: { dataset, root: r } }).data;
  assert.throws(
    () => buildTrainData(d('imagenet-lt', root)),
    (e: Error) => {
      assert.match(e.message, /missing split list ImageNet_LT_train\.txt/);
      assert.ok(e.message.includes(path.join(root, 'ImageNet_LT_train.txt')));
      assert.ok(e.message.includes(path.join(root, 'ImageNet_LT', 'ImageNet_LT_train.txt')));
      return true;
    },
  );
  assert.throws(() => buildTrainData(d('inat2018')), /data\.root: data set 'inat2018' needs data\.root/);
  assert.throws(() => buildTrainData(d('places-lt', root)), /Places_LT_train\.txt/);
  assert.throws(() => buildTrainData(d(`folder:${path.join(root, 'nope')}`)), /image folder .*nope does not exist/);
  assert.throws(() => resolveConfig({ data: { dataset: 'imagenet' } }), /folder:<dir>/);
});

test('own folder: stratified, seeded validation and test splits; trains two steps', async () => {
  const dir = path.join(tmp, 'own');
  const perClass = { cat: 30, dog: 10, eel: 3 };
  for (const [c, n] of Object.entries(perClass))
    for (let j = 0; j < n; j++) await writeImage(path.join(dir, c, `${j}.jpg`), 30 + j, 34, c.length + j);
  const cfg = resolveConfig({ data: { dataset: `folder:${dir}`, cropSize: 16, valFraction: 0.2, testFraction: 0.2 } });
  const a = buildTrainData(cfg.data);
  const f = a.files!;
  assert.deepEqual(a.classNames, ['cat', 'dog', 'eel']);
  // Per class: test floor(0.2·n) (kept ≥ 1 for training), then val floor(0.2·rest).
  assert.deepEqual(a.clsNumList, [20, 7, 3]);
  const count = (t: Int32Array) => [0, 1, 2].map((c) => t.filter((x) => x === c).length);
  assert.deepEqual(count(f.test.targets), [6, 2, 0]);
  assert.deepEqual(count(f.val!.targets), [4, 1, 0]);
  const all = new Set([...f.train.paths, ...f.val!.paths, ...f.test.paths]);
  assert.equal(all.size, 43, 'the three splits are disjoint and cover the folder');
  // Seeded: the same seed gives the same split, another seed another.
  assert.deepEqual(buildTrainData(cfg.data).files!.test.paths, f.test.paths);
  const other = buildTrainData({ ...cfg.data, subsetSeed: 5 }).files!.test.paths;
  assert.notDeepEqual(other, f.test.paths);
  const lines: string[] = [];
  const r = await train(
    {
      name: 'own',
      outDir: path.join(tmp, 'runs'),
      data: { dataset: `folder:${dir}`, cropSize: 16 },
      model: { name: 'resnet10' },
      train: { epochs: 1, batchSize: 8, maxStepsPerEpoch: 2, progress: 'on' },
      threads: 1,
    },
    { log: (l) => lines.push(l) },
  );
  assert.equal(r.status, 'completed', lines.join('\n'));
  assert.match(lines.join('\n'), /many-shot \(>100\): 0 classes, medium \(20–100\): 1, few-shot \(<20\): 2/);
});
