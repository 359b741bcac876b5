// One process of the data-parallel rows of `npm run bench`. bench/main.ts starts it with torchrun's environment
// (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), the conventions `ltkit launch` sets:
//   WORLD_SIZE=1  the one-process reference: a plain ResNet-32 step at the global batch;
//   WORLD_SIZE=2  one rank of two: its share of the global batch, gradients averaged by src/dist's GradReducer
//                 (c10d's Reducer over a Gloo process group, as PyTorch's DistributedDataParallel) before SGD.
// Usage: node dist/bench/dist-step.js --batch <per-process batch> --steps N --threads T [--nchw] [--warmup W]
// Prints one JSON line (rank 0 only): the median over steps of the slowest rank's step time.
import { setNumThreads, tensor, tidy, noGrad } from '../src/engine';
import { GradReducer, distributedSupport, processGroupFromEnv } from '../src/dist';
import { median, resnet32Step, timeEach } from './step';

/** Null when this build can run process groups (Gloo), else why not (for the skipped row). */
export function whyNoDist(): string | null {
  const s = distributedSupport();
  return s.backends.includes('gloo') ? null : (s.why ?? 'no Gloo process group in this build');
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
}

function main(): void {
  const batch = arg('--batch', 64);
  const steps = arg('--steps', 8);
  const warmup = arg('--warmup', 2);
  setNumThreads(arg('--threads', 1));
  const channelsLast = !process.argv.includes('--nchw');
  const world = Number(process.env.WORLD_SIZE ?? '1');
  const group = world > 1 ? processGroupFromEnv() : null;
  let reducer: GradReducer | null = null;
  const rank = group?.rank ?? 0;
  // Every rank has its own slice of the global batch (seed 1 + rank); the weights start as rank 0's.
  const s = resnet32Step({
    batch,
    mode: { channelsLast, precision: 'fp32' },
    seed: 1 + rank,
    beforeBackward: (loss) => reducer?.prepareForBackward([loss]),
  });
  if (group) {
    // As DDP: rank 0's weights and buffers everywhere, then one reducer over the parameters.
    noGrad(() => group.broadcast([...s.model.parameters(), ...s.model.buffers()], 0));
    reducer = new GradReducer(group, s.model.parameters());
    group.barrier();
  }
  const times = timeEach(s.step, steps, warmup);
  // The slowest rank sets the pace: each step's maximum over ranks.
  const slowest = group
    ? tidy(() => {
        const t = tensor(times, [times.length], 'float64');
        group.allreduce([t], 'max');
        return Array.from(t.toArray() as Float64Array);
      })
    : times;
  reducer?.dispose();
  s.dispose();
  group?.destroy();
  const ms = median(slowest);
  if (rank === 0) {
    process.stdout.write(
      JSON.stringify({
        trainMsPerStep: ms,
        globalBatch: batch * world,
        trainImgPerSec: (batch * world * 1000) / ms,
        worldSize: world,
        channelsLast,
      }) + '\n',
    );
  }
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`bench/dist-step (rank ${process.env.RANK ?? 0}): ${(e as Error).stack ?? e}`);
    process.exit(1);
  }
}
