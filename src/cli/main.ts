// ltkit command line: `ltkit <command> [options]`; `ltkit <command> --help` for each.
import * as fs from 'fs';
import * as path from 'path';
import { CliIO, CommandModule, CommandSpec, helpText, parseArgs, Parsed, UsageError } from './args';
import { embedCommand } from './embed-command';
import { theoryCommand } from './theory-command';
import { reportCommand } from './report-command';
import { sweepCommand } from './sweep-command';
import { exportCommand } from './export-command';
import { launchCommand } from './launch-command';
import { ConfigError, RecipeError } from '../core/errors';

type Handler = (p: Parsed) => Promise<void> | void;
interface Command {
  spec: CommandSpec;
  run: Handler;
}

const commands: Command[] = [];
function command(spec: CommandSpec, run: Handler): void {
  commands.push({ spec, run });
}

export type { CliIO } from './args';
const processIO: CliIO = {
  stdout: (s) => void process.stdout.write(s),
  stderr: (s) => void process.stderr.write(s),
};
let io: CliIO = processIO;
const out = (s: string) => io.stdout(s + '\n');

/** How a command takes a training configuration: a file or preset, and dotted overrides. */
const CONFIG_OPTIONS: CommandSpec['options'] = [
  { name: 'config', type: 'string', help: 'config file (JSON/YAML) or preset name', metavar: 'FILE' },
  { name: 'set', type: 'string', repeat: true, help: 'override a dotted key (repeatable)', metavar: 'K=V' },
];

/** The options of a command that trains one run (train, pretrain). */
const RUN_OPTIONS: CommandSpec['options'] = [
  ...CONFIG_OPTIONS,
  { name: 'name', type: 'string', help: 'run name (folder under outDir)' },
  { name: 'resume', type: 'boolean', help: 'continue the named run with its own configuration' },
  { name: 'overwrite', type: 'boolean', help: 'replace an existing run of the same name' },
  { name: 'print-config', type: 'boolean', help: 'print the resolved config and exit' },
  { name: 'json', type: 'boolean', help: 'print the result as JSON' },
];

command(
  {
    name: 'train',
    summary: 'train a classifier on long-tailed data with any recipe',
    usage: 'ltkit train [--config FILE|PRESET] [--set key=value ...] [--name NAME] [--resume | --overwrite]',
    details:
      'The config is JSON or YAML (or a preset name from `ltkit list presets`); --set overrides dotted keys,\n' +
      'e.g. --set method.recipe=ldam+drw --set train.epochs=30. The run directory (runs/<name>/) gets run.json,\n' +
      'metrics.jsonl, final-metrics.json and crash-consistent checkpoints. A run is a sequence of stages: the\n' +
      "main training, then any the recipe adds (crt, tau-norm, lws). An existing run's name is refused unless\n" +
      '--resume (continue it from its last checkpoint, with the configuration in its run.json; only\n' +
      'train.progress, train.checkpointEvery and threads may change) or --overwrite (replace it).\n' +
      'Ctrl-C stops after the current step; the last checkpoint stays. Paths may start with ~.\n' +
      'Semi-supervised: data.unlabeled.* gives the run an unlabeled pool (pool.json); recipes with mean-teacher,\n' +
      'vat or fixmatch train on it, and data.unlabeled.pseudoLabels=<base run> trains on labeled ∪ pseudo-labeled.',
    options: [...RUN_OPTIONS],
    examples: [
      'ltkit train --config fmnist-lt --set method.recipe=mfw+drw --name fmnist-mfw',
      'ltkit train --config cifar10-lt-exp100-ldam+drw --set data.root=~/data/cifar10',
      'ltkit train --name fmnist-mfw --resume',
    ],
  },
  (p) => trainCommand(p),
);

command(
  {
    name: 'pretrain',
    summary: 'self-supervised pre-training of an encoder on the imbalanced images (rotation, MoCo v2; S1 §4)',
    usage:
      'ltkit pretrain [--method rotation|moco] [--config FILE|PRESET] [--set key=value ...] [--name NAME] [--resume]',
    details:
      "Trains the run's network on its training images without their labels: rotation prediction (each image\n" +
      'rotated by one of 0/90/180/270°, balanced in the batch, a 4-way head) or MoCo v2 (momentum encoder,\n' +
      'queue of negatives, InfoNCE at T = 0.2, MLP head, 128-d embeddings; shuffle-BN emulated with\n' +
      'pretrain.moco.bnGroups BatchNorm groups in one process). Same optimizer and schedule settings as train.\n' +
      'Every pretrain.knn.every epochs a kNN monitor (k = 200, cosine, exp(sim/0.1) votes) classifies the test\n' +
      "images from the labeled training features; its top-1 and many/medium/few are the run's metrics\n" +
      '(rotation also logs rotationTestAcc). The result is an ordinary run directory (resumable). Fine-tune\n' +
      'from it with --set model.initFrom=runs/NAME, or let a recipe do both: method.recipe=ssp-rotation+ldam+drw.',
    options: [{ name: 'method', type: 'string', help: 'pretext task: rotation (default) or moco' }, ...RUN_OPTIONS],
    examples: [
      'ltkit pretrain --config fmnist-lt --set train.epochs=80 --name rot',
      'ltkit pretrain --method moco --config fmnist-lt --name moco',
      'ltkit train --config fmnist-lt --set model.initFrom=runs/rot --set method.recipe=ldam+drw',
    ],
  },
  // A resumed run keeps its own pretext task unless --method names one.
  (p) =>
    trainCommand(p, p.opts.method || !p.opts.resume ? [`pretrain.method=${String(p.opts.method ?? 'rotation')}`] : []),
);

/** `ltkit train` and `ltkit pretrain`: resolve the config (file, --set, --name), then train or resume. */
async function trainCommand(p: Parsed, extraSets: string[] = []): Promise<void> {
  const { readConfigFile, applyOverrides, resolveConfig } = await import('../train/config');
  const sets = [...extraSets, ...((p.opts.set as string[] | undefined) ?? [])];
  const source = p.opts.config ? String(p.opts.config) : 'config';
  const request = (base: Record<string, unknown>) => {
    applyOverrides(base, sets);
    if (p.opts.name) base.name = p.opts.name;
    return base;
  };
  if (p.opts.resume && p.opts.overwrite)
    throw new UsageError('ltkit train: --resume and --overwrite exclude each other');
  if (p.opts.resume && !p.opts.name) throw new UsageError('ltkit train --resume needs --name (the run to continue)');
  let raw = request(p.opts.config ? readConfigFile(String(p.opts.config)) : {});
  if (p.opts.resume && !p.opts.config) {
    // Resume from the run's own configuration; --set may change only what cannot change the result.
    const { savedConfig } = await import('../train/trainer');
    const first = resolveConfig(raw, source);
    raw = request(structuredClone(savedConfig(first.outDir, first.name as string)) as Record<string, unknown>);
  }
  const cfg = resolveConfig(raw, source);
  if (p.opts['print-config']) {
    out(JSON.stringify(cfg, null, 2));
    return;
  }
  const { train } = await import('../train/trainer');
  const log = cfg.train.progress === 'off' ? () => undefined : (l: string) => io.stderr(l + '\n');
  const r = await train(cfg, { resume: Boolean(p.opts.resume), overwrite: Boolean(p.opts.overwrite), log });
  if (r.status === 'interrupted') process.exitCode = 130;
  // Under `ltkit launch` / torchrun only rank 0 reports (the others trained the same run).
  if (Number(process.env.RANK ?? 0) > 0) return;
  if (p.opts.json) out(JSON.stringify(r, null, 2));
  else {
    const { formatResult } = await import('./format');
    out(formatResult(r));
  }
}

command(
  {
    name: 'pseudo-label',
    summary: "label a run's unlabeled pool with its model (pseudo-label self-training, S1 §3)",
    usage: 'ltkit pseudo-label --run DIR [--threshold P] [--checkpoint final|best] [--out FILE] [--json]',
    details:
      'The run must have been trained with data.unlabeled (its pool is in pool.json). Writes hard labels and\n' +
      'confidences (max softmax probability) of every pool image atomically to DIR/pseudo-labels.json, and\n' +
      "prints how many the threshold keeps, their classes and — when the pool's true labels are known, as for\n" +
      'FMNIST-LT — the pseudo-label accuracy overall and per class. Train on them with\n' +
      '--set data.unlabeled.pseudoLabels=DIR (and the same data settings), or let `ltkit self-train` do it all.',
    options: [
      { name: 'run', type: 'string', help: 'the base run', metavar: 'DIR' },
      { name: 'threshold', type: 'number', help: 'keep labels with confidence >= P (paper: 0)', default: 0 },
      { name: 'checkpoint', type: 'string', help: 'which weights: final or best', default: 'final' },
      { name: 'out', type: 'string', help: 'where to write (default DIR/pseudo-labels.json)', metavar: 'FILE' },
      { name: 'json', type: 'boolean', help: 'print the summary as JSON' },
    ],
    examples: [
      'ltkit train --config fmnist-lt --set data.unlabeled.k=5 --name base',
      'ltkit pseudo-label --run runs/base --threshold 0.9',
    ],
  },
  async (p) => {
    if (!p.opts.run) throw new UsageError('ltkit pseudo-label: --run DIR is required');
    const which = String(p.opts.checkpoint);
    if (which !== 'final' && which !== 'best') throw new UsageError(`--checkpoint: '${which}' (allowed: final, best)`);
    const { pseudoLabel, formatPseudoLabels } = await import('../train/pseudo-label');
    const r = pseudoLabel(String(p.opts.run), {
      threshold: Number(p.opts.threshold),
      checkpoint: which,
      out: p.opts.out as string | undefined,
    });
    if (p.opts.json) {
      const summary: Record<string, unknown> = { ...r.labels };
      delete summary.labels;
      delete summary.confidences;
      out(JSON.stringify({ file: r.file, model: r.model, ...summary }, null, 2));
    } else out(formatPseudoLabels(r));
  },
);

command(
  {
    name: 'self-train',
    summary: 'the whole pseudo-label chain: base model → pseudo-labels → final model (S1 §3)',
    usage:
      'ltkit self-train [--config FILE|PRESET] [--set key=value ...] --name NAME [--base-recipe R] [--rounds N] [--threshold P]',
    details:
      "Trains a base model on the labeled data (recipe --base-recipe, default the config's), pseudo-labels the\n" +
      "pool of data.unlabeled with it, and trains the config's recipe from scratch on labeled ∪ pseudo-labeled\n" +
      '(data.unlabeled.use: concat, as the reference, or stream with weight ω). --rounds N repeats labelling\n' +
      'and retraining with the newest model. Everything goes to <outDir>/NAME/: base/, round1/, … are ordinary\n' +
      'runs (eval, predict, report work on them), pseudo-labels.json sits in the run that made them, chain.json\n' +
      'records the chain. Run the same command again to continue: finished parts are reused, an unfinished run\n' +
      'resumes from its last checkpoint, and a changed configuration is refused.',
    options: [
      ...CONFIG_OPTIONS,
      { name: 'name', type: 'string', help: 'the chain folder under outDir' },
      { name: 'base-recipe', type: 'string', help: "the base model's recipe (default: the config's)" },
      { name: 'rounds', type: 'number', help: 'pseudo-label and retrain rounds', default: 1 },
      { name: 'threshold', type: 'number', help: 'keep pseudo-labels with confidence >= P', default: 0 },
      { name: 'json', type: 'boolean', help: 'print the result as JSON' },
    ],
    examples: [
      'ltkit self-train --config fmnist-lt-du5-rhou1 --name st-ce',
      'ltkit self-train --config fmnist-lt-du5-rhou1 --set method.recipe=ldam+drw --base-recipe ce --name st-ldam',
    ],
  },
  async (p) => {
    const { readConfigFile, applyOverrides, resolveConfig } = await import('../train/config');
    if (!p.opts.name) throw new UsageError('ltkit self-train: --name NAME is required (the chain folder)');
    const raw = p.opts.config ? readConfigFile(String(p.opts.config)) : {};
    applyOverrides(raw, (p.opts.set as string[] | undefined) ?? []);
    raw.name = p.opts.name;
    const cfg = resolveConfig(raw, p.opts.config ? String(p.opts.config) : 'config');
    const { selfTrain } = await import('../train/pseudo-label');
    const log = cfg.train.progress === 'off' ? () => undefined : (l: string) => io.stderr(l + '\n');
    const r = await selfTrain(cfg, {
      baseRecipe: p.opts['base-recipe'] as string | undefined,
      rounds: Number(p.opts.rounds),
      threshold: Number(p.opts.threshold),
      log,
    });
    if (p.opts.json) out(JSON.stringify(r, null, 2));
    else {
      const { formatResult } = await import('./format');
      out(`self-training: ${r.dir} (${r.status})`);
      for (const x of r.rounds) {
        const acc = x.pseudoLabelAccuracy === null ? 'n/a' : `${(100 * x.pseudoLabelAccuracy).toFixed(2)}%`;
        out(`${path.basename(x.run)}: pseudo-labels ${x.pseudoLabels} (accuracy ${acc})`);
        if (x.result) out(formatResult(x.result));
      }
    }
    if (r.status === 'interrupted') process.exitCode = 130;
  },
);

command(
  {
    name: 'eval',
    summary: "evaluate a run's model on its test set (or another data set)",
    usage: 'ltkit eval --run DIR [--checkpoint final|best] [--data DATASET] [--root DIR] [--json]',
    details:
      "final: the run's final model, every stage of its recipe applied (a cRT head, τ-norm's chosen τ, LWS\n" +
      'scales). best: the selected epoch of the main training (by validation top-1, else test top-1), before any\n' +
      'later stage. The first line says which weights were used.',
    options: [
      { name: 'run', type: 'string', help: 'run directory', metavar: 'DIR' },
      { name: 'checkpoint', type: 'string', help: 'which weights: final or best', default: 'final' },
      { name: 'data', type: 'string', help: "evaluate on this data source's test split instead (same classes)" },
      { name: 'root', type: 'string', help: 'data folder for --data' },
      { name: 'json', type: 'boolean', help: 'print JSON' },
    ],
    examples: ['ltkit eval --run runs/fmnist-ce', 'ltkit eval --run runs/x --checkpoint best --json'],
  },
  async (p) => {
    if (!p.opts.run) throw new UsageError('ltkit eval: --run DIR is required');
    const { evalRun } = await import('./run-tools');
    const r = evalRun(String(p.opts.run), {
      checkpoint: String(p.opts.checkpoint),
      dataset: p.opts.data as string | undefined,
      root: p.opts.root as string | undefined,
    });
    const { formatSummary } = await import('./format');
    out(p.opts.json ? JSON.stringify(r, null, 2) : `model: ${r.model}\n${formatSummary(r.summary)}`);
  },
);

command(
  {
    name: 'predict',
    summary: 'classify image files with a trained run',
    usage: 'ltkit predict --run DIR [--checkpoint final|best] [--top K] [--json] IMAGE...',
    details:
      "Images (PNG or JPEG) are resized to the run's input size and converted to its channel count. A file that\n" +
      'cannot be read is reported (exit code 1) and the others are still classified.',
    options: [
      { name: 'run', type: 'string', help: 'run directory', metavar: 'DIR' },
      { name: 'checkpoint', type: 'string', help: 'which weights: final or best', default: 'final' },
      { name: 'top', type: 'number', help: 'classes per image', default: 1 },
      {
        name: 'max-pixels',
        type: 'number',
        help: 'refuse larger images (default LTKIT_MAX_IMAGE_PIXELS, else 100000000)',
        metavar: 'N',
      },
      { name: 'json', type: 'boolean', help: 'print JSON' },
    ],
    examples: ['ltkit predict --run runs/fmnist-ce shoe.png shirt.jpg --top 3'],
  },
  async (p) => {
    if (!p.opts.run) throw new UsageError('ltkit predict: --run DIR is required');
    if (p.positionals.length === 0) throw new UsageError('ltkit predict: give at least one image file');
    const { predictImages } = await import('./run-tools');
    const r = predictImages(String(p.opts.run), p.positionals, {
      checkpoint: String(p.opts.checkpoint),
      top: Number(p.opts.top),
      maxPixels: p.opts['max-pixels'] as number | undefined,
    });
    if (p.opts.json) out(JSON.stringify(r, null, 2));
    else {
      io.stderr(`model: ${r.model}\n`);
      for (const x of r.predictions) {
        if (x.error) io.stderr(`${x.file}: error: ${x.error}\n`);
        else out(`${x.file}: ${x.top.map((t) => `${t.className} (${(100 * t.probability).toFixed(1)}%)`).join(', ')}`);
      }
    }
    if (r.predictions.some((x) => x.error)) process.exitCode = 1;
  },
);

command(
  {
    name: 'list',
    summary: 'list models, datasets, losses, rules, methods and presets',
    usage: 'ltkit list [models|datasets|losses|rules|methods|presets]',
    options: [],
  },
  async (p) => {
    const { listText } = await import('./list');
    out(listText(p.positionals[0]));
  },
);

command(
  {
    name: 'data',
    summary: 'download data sets and inspect long-tailed subsets',
    usage: 'ltkit data download <name> [--root DIR] | ltkit data inspect <dataset> [--rho R] [--imb exp|step]',
    details:
      'download: fetches the official archives, verifies checksums, resumes partial downloads and extracts\n' +
      'safely. inspect: prints per-class counts and shot groups of a long-tailed subset and writes an SVG chart.',
    options: [
      { name: 'root', type: 'string', help: 'data folder', default: 'data' },
      { name: 'rho', type: 'number', help: 'imbalance ratio', default: 100 },
      { name: 'imb', type: 'string', help: 'exp or step', default: 'exp' },
      { name: 'svg', type: 'string', help: 'where to write the chart (inspect)' },
      { name: 'img-max', type: 'number', help: 'images of the largest class (inspect; dataset default)' },
    ],
    examples: ['ltkit data download cifar10 --root data', 'ltkit data inspect cifar10-lt --rho 100 --imb exp'],
  },
  async (p) => {
    const [sub, name] = p.positionals;
    const tools = await import('./data-tools');
    if (sub === 'download') {
      if (!name) throw new UsageError('ltkit data download <name>: name missing');
      await tools.downloadCommand(name, String(p.opts.root));
    } else if (sub === 'inspect') {
      if (!name) throw new UsageError('ltkit data inspect <dataset>: dataset missing');
      out(
        await tools.inspectCommand(name, {
          rho: Number(p.opts.rho),
          imb: String(p.opts.imb),
          svg: p.opts.svg as string | undefined,
          imgMax: p.opts['img-max'] as number | undefined,
        }),
      );
    } else {
      throw new UsageError(`ltkit data: unknown subcommand '${sub ?? ''}' (download, inspect)`);
    }
  },
);

command(
  {
    name: 'quickstart',
    summary: 'the main job: CE vs a long-tail method on FMNIST-LT (ρ=100), side by side',
    usage: 'ltkit quickstart [--method RECIPE] [--epochs N] [--out DIR]',
    details:
      'Trains a small ResNet on Fashion-MNIST-LT twice (plain CE, then the long-tail recipe) and prints and\n' +
      'saves a comparison: overall and balanced accuracy, many/medium/few, per class. A few minutes on 2 cores.',
    options: [
      { name: 'method', type: 'string', help: 'long-tail recipe to compare with CE', default: 'ldam+drw' },
      { name: 'epochs', type: 'number', help: 'epochs per run', default: 30 },
      { name: 'model', type: 'string', help: 'model', default: 'resnet8' },
      { name: 'out', type: 'string', help: 'runs folder', default: 'runs' },
      { name: 'seed', type: 'number', help: 'seed', default: 0 },
    ],
    examples: ['npm run main', 'ltkit quickstart --method mfw+drw --epochs 30'],
  },
  async (p) => {
    const { quickstart } = await import('./quickstart');
    await quickstart({
      method: String(p.opts.method),
      epochs: Number(p.opts.epochs),
      model: String(p.opts.model),
      outDir: String(p.opts.out),
      seed: Number(p.opts.seed),
    });
  },
);

// Commands kept in modules of their own.
for (const m of [
  reportCommand,
  sweepCommand,
  embedCommand,
  theoryCommand,
  exportCommand,
  launchCommand,
] as CommandModule[]) {
  command(m.spec, (p) => m.run(p, io));
}

function mainHelp(): string {
  return [
    'ltkit — deep learning on class-imbalanced (long-tailed) data, over libtorch',
    '',
    'usage: ltkit <command> [options]     (ltkit <command> --help for details)',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(12)} ${c.spec.summary}`),
  ].join('\n');
}

export async function main(argv: string[], sinks: CliIO = processIO): Promise<number> {
  const prev = io;
  // A command reports its own exit code through process.exitCode; start it clean so an embedding process's
  // code (a test runner's, after a failed test) is neither read nor lost.
  const prevCode = process.exitCode;
  process.exitCode = undefined;
  io = sinks;
  try {
    return await runCommand(argv);
  } finally {
    io = prev;
    if (sinks !== processIO) process.exitCode = prevCode;
  }
}

async function runCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(mainHelp());
    return 0;
  }
  if (name === '--version') {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    out(pkg.version);
    return 0;
  }
  const cmd = commands.find((c) => c.spec.name === name);
  if (!cmd) {
    io.stderr(`ltkit: unknown command '${name}'\n\n${mainHelp()}\n`);
    return 2;
  }
  // Options after `--` belong to a wrapped command (ltkit launch -- train --help).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.includes('--help') || own.includes('-h')) {
    out(helpText(cmd.spec));
    return 0;
  }
  try {
    await cmd.run(parseArgs(cmd.spec, rest));
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const err = e as Error;
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof RecipeError) {
      io.stderr(`${err.message}\n`);
      return 2;
    }
    io.stderr(`ltkit ${name}: ${err.message}\n`);
    if (process.env.LTKIT_DEBUG) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
