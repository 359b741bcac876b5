// A training process for the data-parallel tests: `node dp-worker.js '<json>'` trains the JSON's `config`
// with `train()` (stopping after `stopAfterEpochs` when given, resuming when `resume`), and prints one JSON
// line with the result's status. Under `ltkit launch` each rank runs it with torchrun's variables.
import { train } from './trainer';
import { environmentGroup } from './parallel';
import { shuffledAcrossRanks } from '../ssp/moco';
import { randn, manualSeed, tidy } from '../engine';
import { Rng } from '../util/rng';
import { resolveConfig } from './config';
import { buildTrainData } from '../data/train-data';
import { batchPipelines } from './pipelines';
import { create as createModel } from '../models';
import { extractFeatures } from './classification';

/**
 * MoCo's shuffle across ranks with a per-image function: every rank must get f of its own images back, while
 * the images it forwarded itself came from both ranks.
 */
function shuffleCheck(): void {
  const group = environmentGroup()!;
  manualSeed(100 + group.rank);
  const x = randn([6, 3]);
  const forwarded: number[][] = [];
  const f = (t: typeof x) => {
    forwarded.push(
      ...(t.toArray() as Float32Array).reduce((rows: number[][], v, i) => {
        if (i % 3 === 0) rows.push([]);
        rows[rows.length - 1].push(v);
        return rows;
      }, []),
    );
    return t.mul(2).add(1);
  };
  const y = shuffledAcrossRanks(x, group, 2, f, new Rng(7));
  const err = tidy(() => y.sub(x.mul(2).add(1)).abs().amax().item());
  const own = new Set(Array.from({ length: 6 }, (_, i) => (x.toArray() as Float32Array)[3 * i]));
  const foreign = forwarded.filter((r) => !own.has(r[0])).length;
  process.stdout.write(JSON.stringify({ rank: group.rank, err, forwarded: forwarded.length, foreign }) + '\n');
}

/**
 * Features of a 15-image set (odd: the second rank's part is one short) extracted by both ranks together and by
 * each alone: the gathered rows must be the whole set's, in order.
 */
function featuresCheck(): void {
  const group = environmentGroup()!;
  const cfg = resolveConfig({
    data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 5, imgMax: 6, testPerClass: 3 } },
  });
  const data = buildTrainData(cfg.data);
  const imageShape = data.test.shape.slice(1) as [number, number, number];
  const pipes = batchPipelines({ imageShape, mean: data.mean, std: data.std }, false);
  manualSeed(3);
  const model = createModel('resnet8', { numClasses: 5, inChannels: imageShape[2] });
  const whole = extractFeatures(model, data.test, pipes.test);
  const parts = extractFeatures(model, data.test, pipes.test, { group });
  const err = tidy(() => parts.features.sub(whole.features).abs().amax().item());
  const targets = JSON.stringify(parts.targets.toList()) === JSON.stringify(whole.targets.toList());
  const [n, rows] = [whole.features.shape[0], parts.features.shape[0]];
  process.stdout.write(JSON.stringify({ rank: group.rank, n, rows, err, targets }) + '\n');
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as {
    kind?: 'shuffle' | 'features';
    config: Record<string, unknown>;
    stopAfterEpochs?: number;
    resume?: boolean;
  };
  if (job.kind === 'shuffle') return shuffleCheck();
  if (job.kind === 'features') return featuresCheck();
  const r = await train(job.config, { stopAfterEpochs: job.stopAfterEpochs, resume: job.resume, log: () => undefined });
  process.stdout.write(
    JSON.stringify({ rank: Number(process.env.RANK ?? 0), status: r.status, final: r.final }) + '\n',
  );
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`dp-worker: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
