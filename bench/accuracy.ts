// `npm run accuracy -- --recipes ce,ldam+drw,mfw --seeds 3 [--imb exp,step] [--epochs 80] [--out runs]`:
// the FMNIST-LT protocol (ResNet-8, ρ = 100, the CIFAR schedule with a 5-epoch warm-up) for several
// training seeds on one fixed long-tailed subset (data.subsetSeed), then mean ± std (sample) of the final
// top-1 and of many / medium / few per recipe, as a Markdown table. Each run is an ordinary run directory
// (<out>/accuracy/<imb>-<recipe>-seed<k>); an interrupted script continues where it stopped (completed
// runs are read back, a killed one resumes). Not part of `npm test`: 80 epochs take minutes per run.
import * as fs from 'fs';
import * as path from 'path';
import { train, TrainResult } from '../src/train/trainer';
import type { ClassificationSummary } from '../src/eval/metrics';
import { headline } from '../src/eval/headline';

interface Options {
  recipes: string[];
  seeds: number;
  imb: ('exp' | 'step')[];
  epochs: number;
  warmup: number;
  model: string;
  out: string;
  subsetSeed: number;
  threads?: number;
  json: boolean;
}

const USAGE = `usage: npm run accuracy -- [--recipes ce,ldam+drw,mfw] [--seeds 3] [--imb exp|step|exp,step] [--epochs 80]
                            [--warmup 5] [--model resnet8] [--subset-seed 0] [--threads N] [--out runs] [--json]`;

function parse(argv: string[]): Options {
  const o: Options = {
    recipes: ['ce', 'ldam+drw', 'mfw'],
    seeds: 3,
    imb: ['exp'],
    epochs: 80,
    warmup: 5,
    model: 'resnet8',
    out: 'runs',
    subsetSeed: 0,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return x;
    };
    const int = (x: string) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} expects a non-negative integer, got '${x}'`);
      return n;
    };
    if (a === '--recipes') o.recipes = v().split(',');
    else if (a === '--seeds') o.seeds = Math.max(1, int(v()));
    else if (a === '--imb') {
      const list = v().split(',');
      if (list.some((x) => x !== 'exp' && x !== 'step')) throw new Error(`--imb takes exp, step or exp,step`);
      o.imb = list as ('exp' | 'step')[];
    } else if (a === '--epochs') o.epochs = Math.max(1, int(v()));
    else if (a === '--warmup') o.warmup = int(v());
    else if (a === '--model') o.model = v();
    else if (a === '--out') o.out = v();
    else if (a === '--subset-seed') o.subsetSeed = int(v());
    else if (a === '--threads') o.threads = Math.max(1, int(v()));
    else if (a === '--json') o.json = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  return o;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));
/** mean ± std in percent; '—' for a shot group the profile does not have (step imbalance has no medium classes). */
const cell = (xs: number[]) =>
  xs.some((x) => Number.isNaN(x)) ? '—' : `${(100 * mean(xs)).toFixed(2)} ± ${(100 * std(xs)).toFixed(2)}`;

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const jobs = o.imb.flatMap((imb) =>
    o.recipes.flatMap((recipe) => Array.from({ length: o.seeds }, (_, seed) => ({ imb, recipe, seed }))),
  );
  const say = (s: string) => process.stderr.write(s + '\n');
  say(
    `[accuracy] FMNIST-LT ρ=100, ${o.model}, ${o.epochs} epochs (warm-up ${o.warmup}), subset seed ${o.subsetSeed}: ` +
      `${jobs.length} runs in ${path.resolve(o.out, 'accuracy')}`,
  );
  const results = new Map<string, ClassificationSummary[]>();
  const t0 = Date.now();
  for (const [k, j] of jobs.entries()) {
    const name = `accuracy/${j.imb}-${j.recipe.replace(/\+/g, '_')}-seed${j.seed}`;
    const exists = fs.existsSync(path.join(o.out, name, 'run.json'));
    const tag = `[${k + 1}/${jobs.length}] ${j.imb} ${j.recipe} seed ${j.seed}`;
    const done = (Date.now() - t0) / 1000;
    const eta = k > 0 ? ` (about ${Math.round(((done / k) * (jobs.length - k)) / 60)} min left)` : '';
    say(`${tag}${exists ? ': continuing the existing run' : ''}${eta}`);
    const r: TrainResult = await train(
      {
        name,
        outDir: o.out,
        seed: j.seed,
        threads: o.threads,
        data: { dataset: 'fmnist-lt', rho: 100, imbType: j.imb, subsetSeed: o.subsetSeed },
        model: { name: o.model },
        method: { recipe: j.recipe },
        schedule: { warmupEpochs: o.warmup },
        train: { epochs: o.epochs, batchSize: 128, progress: 'off' },
      },
      { resume: exists },
    );
    if (r.status !== 'completed' || !r.final) throw new Error(`${name} did not complete`);
    const key = `${j.imb}\t${j.recipe}`;
    results.set(key, [...(results.get(key) ?? []), r.final]);
    const h = headline(r.final);
    say(`${tag}: top-1 ${(100 * (h?.top1 ?? 0)).toFixed(2)}%`);
  }

  const rows = [...results].map(([key, runs]) => {
    const [imb, recipe] = key.split('\t');
    const hs = runs.map((s) => headline(s)!);
    const col = (f: (h: NonNullable<ReturnType<typeof headline>>) => number | null) => hs.map((h) => f(h) ?? NaN);
    return {
      imb,
      recipe,
      seeds: runs.length,
      top1: col((h) => h.top1),
      many: col((h) => h.many),
      medium: col((h) => h.medium),
      few: col((h) => h.few),
    };
  });
  if (o.json) {
    process.stdout.write(JSON.stringify({ options: o, rows }, null, 2) + '\n');
    return;
  }
  const lines = [
    `FMNIST-LT ρ=100, ${o.model}, ${o.epochs} epochs, final epoch, mean ± std over ${o.seeds} training seeds ` +
      `(subset seed ${o.subsetSeed}), top-1 %:`,
    '',
    '| imbalance | recipe | top-1 | many | medium | few |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) => `| ${r.imb} | ${r.recipe} | ${cell(r.top1)} | ${cell(r.many)} | ${cell(r.medium)} | ${cell(r.few)} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`accuracy: ${(e as Error).message}\n`);
  process.exit(1);
});
