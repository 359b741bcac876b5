// `ltkit embed`: t-SNE / UMAP of a finished run's train + test features (S1 Fig. 1, 4; analysis/embedding.ts).
import type { CliIO, CommandModule, CommandSpec, Parsed } from './args';
import { UsageError } from './args';

const spec: CommandSpec = {
  name: 'embed',
  summary: "t-SNE / UMAP of a run's train and test features (JSON + SVG in the run)",
  usage: 'ltkit embed --run DIR [--method tsne|umap] [--seed N] [--points N] [--checkpoint final|best] [--json]',
  details:
    "Loads the run's model (every stage of its recipe applied), extracts pooled backbone features of a seeded,\n" +
    'class-stratified sample of its training and test images (few-shot classes whole, the long tail kept), and\n' +
    'embeds them in 2-D with druidjs (t-SNE or UMAP). Writes <run>/embedding-<method>.json (points with class and\n' +
    'split, shot groups, settings) and <run>/embedding-<method>.svg (colour: class, shape: shot group, filled:\n' +
    'train, open: test). The same run, method, seed and options give the same points. --points splits 60/40\n' +
    'between train and test; the default 2000 takes about a minute for t-SNE on 2 cores (UMAP is faster).',
  options: [
    { name: 'run', type: 'string', help: 'run directory', metavar: 'DIR' },
    { name: 'method', type: 'string', help: 'tsne or umap', default: 'tsne' },
    { name: 'seed', type: 'number', help: 'seeds the image sample and the embedding', default: 0 },
    { name: 'points', type: 'number', help: 'images to embed in all (60% train, 40% test)', default: 2000 },
    { name: 'perplexity', type: 'number', help: 't-SNE perplexity', default: 30 },
    { name: 'neighbors', type: 'number', help: 'UMAP neighbours', default: 15 },
    { name: 'iterations', type: 'number', help: 'optimisation steps (default: t-SNE 500, UMAP 350)' },
    { name: 'checkpoint', type: 'string', help: 'which weights: final or best', default: 'final' },
    { name: 'no-svg', type: 'boolean', help: 'write the JSON only' },
    { name: 'json', type: 'boolean', help: 'print the embedding record as JSON' },
  ],
  examples: [
    'ltkit embed --run runs/cifar10-lt-ce',
    'ltkit embed --run runs/cifar10-lt-ssp --method umap --seed 1 --points 4000',
  ],
};

async function run(p: Parsed, io: CliIO): Promise<void> {
  if (!p.opts.run) throw new UsageError('ltkit embed: --run DIR is required');
  const method = String(p.opts.method);
  if (method !== 'tsne' && method !== 'umap')
    throw new UsageError(`ltkit embed: --method must be tsne or umap, got '${method}'`);
  const checkpoint = String(p.opts.checkpoint);
  if (checkpoint !== 'final' && checkpoint !== 'best') {
    throw new UsageError(`ltkit embed: --checkpoint must be final or best, got '${checkpoint}'`);
  }
  const points = Number(p.opts.points);
  if (!(Number.isInteger(points) && points >= 4)) throw new UsageError(`ltkit embed: --points must be an integer ≥ 4`);
  const seed = Number(p.opts.seed);
  if (!Number.isInteger(seed)) throw new UsageError(`ltkit embed: --seed must be an integer`);
  const perTrain = Math.round(points * 0.6);
  const { embedRun } = await import('../analysis/embedding');
  const r = await embedRun(String(p.opts.run), {
    method,
    seed,
    perTrain,
    perTest: points - perTrain,
    perplexity: Number(p.opts.perplexity),
    neighbors: Number(p.opts.neighbors),
    iterations: p.opts.iterations === undefined ? undefined : Number(p.opts.iterations),
    checkpoint,
    svg: !p.opts['no-svg'],
    progress: (line) => void io.stderr(line + '\n'),
  });
  if (p.opts.json) {
    io.stdout(JSON.stringify(r.embedding) + '\n');
    return;
  }
  const o = r.embedding.options;
  io.stdout(
    `model: ${r.model}\n${method}: ${r.embedding.points.length} points (${String(o.train)} train, ${String(o.test)} test), ` +
      `seed ${seed}\nwrote ${r.jsonFile}${r.svgFile ? `\nwrote ${r.svgFile}` : ''}\n`,
  );
}

export const embedCommand: CommandModule = { spec, run };
