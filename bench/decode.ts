// `node dist/bench/decode.js <mode> DIR [N]` — the streamed data path's figures (run through bench/decode.sh,
// which also runs the PyTorch side, bench/decode_torch.py, in the same run):
//   gen DIR N [WxH]    write N synthetic JPEGs (class folders c0..c9; default varied 500×375 / 375×500 / 400×400,
//                      or one size, e.g. 64x64) — the same files both sides read;
//   speed DIR          decode + augment throughput at 224 (ltkit StreamLoader: sharp working square 256 →
//                      RandomResizedCrop 224 + flip + ColorJitter + Normalize, batch 64), img/s;
//   dump DIR K OUT     the test decode (Resize 256 + CenterCrop 224) of the first K images, raw RGB, for
//                      decode_torch.py to compare with PIL;
//   rss DIR            one epoch over the folder (decode + augment at crop 56 from a 64 working square),
//                      peak RSS and its growth.
// Threads: libtorch at 2 (setNumThreads), sharp's libuv pool at UV_THREADPOOL_SIZE (decode.sh sets 2).
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { setNumThreads } from '../src/engine';
import { loadImageFolder } from '../src/data/sources/image-folder';
import { ShuffleSampler } from '../src/data/loader';
import { StreamLoader, decodeFiles } from '../src/data/stream';
import { streamPipelines } from '../src/train/pipelines';
import { IMAGENET_STATS } from '../src/data/catalog';

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

function loaderFor(dir: string, crop: number, work: number, batch: number) {
  const src = loadImageFolder({ root: dir });
  const pipes = streamPipelines(
    { crop, ...{ mean: [...IMAGENET_STATS.mean], std: [...IMAGENET_STATS.std] }, colorJitter: true },
    true,
  );
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

async function epochTime(loader: StreamLoader, onBatch?: () => void): Promise<{ n: number; s: number }> {
  const t0 = performance.now();
  let n = 0;
  for await (const b of loader.asyncEpoch(0)) {
    n += b.indices.length;
    onBatch?.();
  }
  return { n, s: (performance.now() - t0) / 1000 };
}

async function main(): Promise<void> {
  const [mode, dir, a, b] = process.argv.slice(2);
  setNumThreads(2);
  if (mode === 'gen') return gen(dir, Number(a ?? 512), b);
  if (mode === 'speed') {
    const loader = loaderFor(dir, 224, 256, 64);
    await epochTime(loader); // warm-up (file cache, first allocations)
    const r = await epochTime(loader);
    console.log(JSON.stringify({ side: 'ltkit', images: r.n, seconds: r.s, imgPerSec: r.n / r.s }));
    return;
  }
  if (mode === 'dump') {
    const src = loadImageFolder({ root: dir });
    const paths = [...src.paths].slice(0, Number(a));
    const d = await decodeFiles(paths, { mode: 'test', size: 224, resize: 256 });
    fs.writeFileSync(b, d.data);
    fs.writeFileSync(b + '.json', JSON.stringify(paths));
    return;
  }
  if (mode === 'rss') {
    const loader = loaderFor(dir, 56, 64, 256);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const r = await epochTime(loader, () => (peak = Math.max(peak, process.memoryUsage().rss)));
    const maxRss = process.resourceUsage().maxRSS * 1024;
    console.log(
      JSON.stringify({
        images: r.n,
        seconds: r.s,
        imgPerSec: r.n / r.s,
        rssStartMiB: rss0 / 2 ** 20,
        rssPeakSampledMiB: peak / 2 ** 20,
        maxRssMiB: maxRss / 2 ** 20,
      }),
    );
    return;
  }
  throw new Error(`mode '${mode}': use gen | speed | dump | rss`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
