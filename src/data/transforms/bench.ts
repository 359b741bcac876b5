// Micro-benchmark of the CIFAR training augmentation (called by `npm run bench`).
import { tensor, tidy, getNumThreads, setNumThreads } from '../../engine';
import { AugRng } from './rng';
import { cifarTrain } from './presets';

export interface AugBenchResult {
  batch: number;
  iters: number;
  threads: number;
  /** Mean wall time per batch: uint8 NHWC bytes → tensor → pad-crop + flip + normalize (float32 NCHW). */
  msPerBatch: number;
  /** Of which the tensor creation from the byte buffer. */
  msTensorFromBytes: number;
  imagesPerSec: number;
}

/** Times the CIFAR train pipeline on random 32×32×3 uint8 batches (after 5 warm-up iterations). */
export function benchAugmentation(o: { batch?: number; iters?: number; threads?: number } = {}): AugBenchResult {
  const batch = o.batch ?? 128;
  const iters = o.iters ?? 200;
  const prev = getNumThreads();
  if (o.threads !== undefined) setNumThreads(o.threads);
  try {
    const bytes = new Uint8Array(batch * 32 * 32 * 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const t = cifarTrain();
    const run = (step: number): number => {
      const t0 = process.hrtime.bigint();
      tidy(() => {
        const x = tensor(bytes, [batch, 32, 32, 3], 'uint8');
        return void t(x, new AugRng(0, 0, step));
      });
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    for (let i = 0; i < 5; i++) run(i);
    let total = 0;
    for (let i = 0; i < iters; i++) total += run(i);
    let create = 0;
    for (let i = 0; i < iters; i++) {
      const t0 = process.hrtime.bigint();
      tidy(() => void tensor(bytes, [batch, 32, 32, 3], 'uint8'));
      create += Number(process.hrtime.bigint() - t0) / 1e6;
    }
    const ms = total / iters;
    return {
      batch,
      iters,
      threads: getNumThreads(),
      msPerBatch: ms,
      msTensorFromBytes: create / iters,
      imagesPerSec: (batch * 1000) / ms,
    };
  } finally {
    setNumThreads(prev);
  }
}

if (require.main === module) {
  const r = benchAugmentation({ batch: Number(process.argv[2] ?? 128), iters: Number(process.argv[3] ?? 200) });
  console.log(
    `augmentation cifarTrain batch ${r.batch} threads ${r.threads}: ${r.msPerBatch.toFixed(3)} ms/batch ` +
      `(${Math.round(r.imagesPerSec)} images/s; tensor-from-bytes ${r.msTensorFromBytes.toFixed(3)} ms)`,
  );
}
