// `node dist/bench/decode.js <mode> DIR [N]` — the streamed data path's figures (run through bench/decode.sh,
// which also runs the PyTorch side, bench/decode_torch.py, in the same run):
//   gen DIR N [WxH]    write N synthetic JPEGs (class folders c0..c9; default varied 500×375 / 375×500 / 400×400,
//                      or one size, e.g. 64x64) — the same files both sides read;
//   speed DIR          decode + augment throughput at 224 (ltkit StreamLoader: sharp working square 256 →
//                      RandomResizedCrop 224 + flip + ColorJitter + Normalize, batch 64), img/s;
//   profile DIR        where that time goes: the decode worker alone (img/s, and CPU ms per image of the whole
//                      process, libuv's decode threads included) and each augmentation step alone on the main
//                      thread (CPU ms per image) — to set beside decode_torch.py's `profile`;
//   dump DIR K OUT     the test decode (Resize 256 + CenterCrop 224) of the first K images, raw RGB, for
//                      decode_torch.py to compare with PIL;
//   rss DIR [EPOCHS]   EPOCHS (default 2) epochs over the folder (decode + augment at crop 56 from a 64 working
//                      square, batch 256): RSS at the start, after the first batch, at the end of each epoch, and
//                      the peak, so that growth per epoch can be read off (memory must not grow with the folder).
// Threads: libtorch at 2 (setNumThreads; BENCH_THREADS=n to try another count), sharp's libuv pool at
// UV_THREADPOOL_SIZE (decode.sh sets 2).
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { setNumThreads, tensor, tidy, memory } from '../src/engine';
import { loadImageFolder } from '../src/data/sources/image-folder';
import { ShuffleSampler } from '../src/data/loader';
import { StreamLoader, decodeFiles, sharedDecoder } from '../src/data/stream';
import { streamPipelines } from '../src/train/pipelines';
import { IMAGENET_STATS } from '../src/data/catalog';
import { toFloat, normalize, colorJitter } from '../src/data/transforms/color';
import { randomResizedCrop, randomFlip } from '../src/data/transforms/geometric';
import { AugRng } from '../src/data/transforms/rng';
import type { Transform } from '../src/data/transforms/core';

async function gen(dir: string, n: number, size?: string): Promise<void> {
  const sizes = size
    ? [size.split('x').map(Number)]
    : [
        [500, 375],
        [375, 500],
        [400, 400],
      ];
  for (let i = 0; i < n; i++) {
    const [w, h] = sizes[i % sizes.length];
    const c = i % 10;
    const file = path.join(dir, `c${c}`, `${i}.jpg`);
    if (fs.existsSync(file)) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const px = Buffer.alloc(w * h * 3);
    for (let p = 0; p < w * h; p++) {
      const x = p % w;
      const y = (p / w) | 0;
      px[3 * p] = (x * 3 + c * 20 + ((x * y) % 17)) & 255;
      px[3 * p + 1] = (y * 2 + i) & 255;
      px[3 * p + 2] = ((x ^ y) + c * 40) & 255;
    }
    await sharp(px, { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(file);
  }
}

const MEAN = [...IMAGENET_STATS.mean];
const STD = [...IMAGENET_STATS.std];

function loaderFor(dir: string, crop: number, work: number, batch: number) {
  const src = loadImageFolder({ root: dir });
  const pipes = streamPipelines({ crop, mean: MEAN, std: STD, colorJitter: true }, true);
  return new StreamLoader(
    { paths: [...src.paths], targets: src.targets },
    {
      sampler: new ShuffleSampler(src.length, 0, true),
      batchSize: batch,
      decode: { mode: 'train', size: work },
      transform: pipes.train,
      prefetch: 2,
    },
  );
}

async function epochTime(loader: StreamLoader, epoch = 0, onBatch?: () => void): Promise<{ n: number; s: number }> {
  const t0 = performance.now();
  let n = 0;
  for await (const b of loader.asyncEpoch(epoch)) {
    n += b.indices.length;
    onBatch?.();
  }
  return { n, s: (performance.now() - t0) / 1000 };
}

/** CPU milliseconds used so far by the whole process (every thread). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const MiB = (b: number) => +(b / 2 ** 20).toFixed(1);

async function profile(dir: string): Promise<void> {
  const src = loadImageFolder({ root: dir });
  const paths = [...src.paths];
  const B = 64;
  const spec = { mode: 'train' as const, size: 256 };
  // Decode alone, through the worker, 2 batches in flight as the loader keeps them.
  const dec = sharedDecoder();
  const decodeAll = async () => {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < paths.length; i += B) {
      pending.push(dec.decodeBatch(paths.slice(i, i + B), spec));
      if (pending.length >= 3) await pending.shift();
    }
    await Promise.all(pending);
  };
  await decodeAll(); // warm-up
  let c0 = cpuMs();
  let t0 = performance.now();
  await decodeAll();
  const decode = {
    imgPerSec: +(paths.length / ((performance.now() - t0) / 1000)).toFixed(1),
    cpuMsPerImg: +((cpuMs() - c0) / paths.length).toFixed(2),
  };
  // Each augmentation step alone, on one decoded batch, as compose() runs them (step i draws from fork(i)).
  const d = await dec.decodeBatch(paths.slice(0, B), spec);
  const steps: [string, Transform][] = [
    ['toFloat', toFloat()],
    ['randomResizedCrop', randomResizedCrop(224)],
    ['flip', randomFlip(0.5)],
    ['colorJitter', colorJitter(0.4, 0.4, 0.4, 0)],
    ['normalize', normalize(MEAN, STD)],
  ];
  const reps = 6;
  const cpu: Record<string, number> = Object.fromEntries(steps.map(([k]) => [k, 0]));
  for (let r = 0; r <= reps; r++) {
    tidy(() => {
      let x = tensor(d.data, [B, 256, 256, 3], 'uint8');
      const rng = new AugRng(0, 0, r);
      steps.forEach(([k, t], i) => {
        const c = cpuMs();
        x = t(x, rng.fork(i));
        if (r > 0) cpu[k] += (cpuMs() - c) / B / reps; // r = 0 warms up
      });
    });
  }
  for (const k of Object.keys(cpu)) cpu[k] = +cpu[k].toFixed(2);
  const total = +Object.values(cpu)
    .reduce((a, b) => a + b, 0)
    .toFixed(2);
  c0 = cpuMs();
  t0 = performance.now();
  const r = await epochTime(loaderFor(dir, 224, 256, B));
  const pipelineCpu = +((cpuMs() - c0) / r.n).toFixed(2);
  console.log(
    JSON.stringify({
      side: 'ltkit',
      decodeWorker: decode,
      augmentCpuMsPerImg: { ...cpu, total },
      loaderCpuMsPerImg: pipelineCpu,
      loaderImgPerSec: +(r.n / r.s).toFixed(1),
    }),
  );
}

async function rss(dir: string, epochs: number): Promise<void> {
  const loader = loaderFor(dir, 56, 64, 256);
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  let first = 0;
  const ends: number[] = [];
  const t0 = performance.now();
  let n = 0;
  for (let e = 0; e < epochs; e++) {
    const r = await epochTime(loader, e, () => {
      const now = process.memoryUsage().rss;
      if (!first) first = now;
      peak = Math.max(peak, now);
    });
    n += r.n;
    ends.push(process.memoryUsage().rss);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(
    JSON.stringify({
      images: loader.length,
      epochs,
      imgPerSec: +(n / s).toFixed(1),
      rssStartMiB: MiB(rss0),
      rssAfterFirstBatchMiB: MiB(first),
      rssEpochEndMiB: ends.map(MiB),
      rssPeakSampledMiB: MiB(peak),
      maxRssMiB: MiB(process.resourceUsage().maxRSS * 1024),
      growthLastEpochMiB: epochs > 1 ? MiB(ends[epochs - 1] - ends[epochs - 2]) : null,
      liveTensors: memory().numTensors,
    }),
  );
}

async function main(): Promise<void> {
  const [mode, dir, a, b] = process.argv.slice(2);
  setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
  if (mode === 'gen') return gen(dir, Number(a ?? 512), b);
  if (mode === 'speed') {
    const loader = loaderFor(dir, 224, 256, 64);
    await epochTime(loader); // warm-up (file cache, first allocations)
    const r = await epochTime(loader);
    console.log(JSON.stringify({ side: 'ltkit', images: r.n, seconds: r.s, imgPerSec: r.n / r.s }));
    return;
  }
  if (mode === 'profile') return profile(dir);
  if (mode === 'dump') {
    const src = loadImageFolder({ root: dir });
    const paths = [...src.paths].slice(0, Number(a));
    const d = await decodeFiles(paths, { mode: 'test', size: 224, resize: 256 });
    fs.writeFileSync(b, d.data);
    fs.writeFileSync(b + '.json', JSON.stringify(paths));
    return;
  }
  if (mode === 'rss') return rss(dir, Number(a ?? 2));
  throw new Error(`mode '${mode}': use gen | speed | profile | dump | rss`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
