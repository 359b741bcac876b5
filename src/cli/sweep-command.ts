// `ltkit sweep <grid.yaml>`: train every point of a grid, resumably, N at a time (src/sweep/sweep.ts).
import type { CliIO, CommandModule, Parsed } from './args';
import { UsageError } from './args';

export const sweepCommand: CommandModule = {
  spec: {
    name: 'sweep',
    summary: 'train a grid of runs (recipes × ρ × imbalance × seeds × any key), resumably, then report',
    usage: 'ltkit sweep GRID.yaml [--jobs N] [--dry-run] [--out DIR] [--set key=value ...]',
    details:
      'A grid file (YAML) holds a base config (base: a preset or config file; set: dotted keys) and axes:\n' +
      'recipes, rho, imbType, seeds, subsetSeeds and axes: { dotted.key: [values] }; blocks: [...] unions several\n' +
      'such grids (e.g. one per dataset). Each point is one run, named from the point alone:\n' +
      '<outDir>/<grid>/<dataset>/<recipe>-rho100-exp[-<axis><value>]-s0-ss0. Run the same command again to\n' +
      'continue: finished runs are skipped, unfinished ones resume from their last checkpoint, and a run whose\n' +
      'saved configuration differs from its grid point is refused (nothing is overwritten). --jobs N trains N\n' +
      'runs at once as child processes (`ltkit train`), each with cores/N libtorch threads unless the grid sets\n' +
      'threads; each child logs to <grid>/.logs/. mode: self-train runs the pseudo-label chain per point\n' +
      '(`ltkit self-train`). Ctrl-C or SIGTERM stops every running run after its step (exit 130; the next sweep\n' +
      "resumes them). Ends with the comparison report of the grid's runs (<grid>/report.html, .md, .csv).\n" +
      "Shipped grids: grids/*.yaml (the papers' tables) and grids/*-fmnist.yaml (CPU-sized versions).",
    options: [
      { name: 'jobs', type: 'number', help: 'runs at once', default: 1, metavar: 'N' },
      { name: 'dry-run', type: 'boolean', help: 'list the grid points and what would happen to each' },
      { name: 'out', type: 'string', help: "runs folder (default: the grid's outDir, else runs)", metavar: 'DIR' },
      { name: 'set', type: 'string', repeat: true, help: "override a dotted key of the grid's base", metavar: 'K=V' },
      { name: 'no-report', type: 'boolean', help: 'skip the report at the end' },
      { name: 'json', type: 'boolean', help: 'print the result as JSON' },
    ],
    examples: [
      'ltkit sweep grids/s2-table1-fmnist.yaml --dry-run',
      'ltkit sweep grids/s2-table1-fmnist.yaml --jobs 2',
      'ltkit sweep grids/s1-ssp.yaml --set data.root=~/data/cifar --jobs 4',
    ],
  },
  async run(p: Parsed, io: CliIO): Promise<void> {
    const print = (line: string) => io.stdout(line + '\n');
    if (p.positionals.length !== 1) throw new UsageError('ltkit sweep: give exactly one grid file');
    const { runSweep } = await import('../sweep/sweep');
    const r = await runSweep(p.positionals[0], {
      jobs: Number(p.opts.jobs),
      dryRun: Boolean(p.opts['dry-run']),
      outDir: p.opts.out as string | undefined,
      sets: (p.opts.set as string[] | undefined) ?? [],
      noReport: Boolean(p.opts['no-report']),
      log: (line) => io.stderr(line + '\n'),
    });
    if (p.opts.json) print(JSON.stringify(r, null, 2));
    else if (r.report) print(r.report.html);
    if (r.status === 'failed') process.exitCode = 1;
    if (r.status === 'interrupted') process.exitCode = 130;
  },
};
