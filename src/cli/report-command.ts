// `ltkit report <run|dir>…`: the HTML report of one run, or the comparison of many (src/report/report.ts).
import type { CliIO, CommandModule, Parsed } from './args';
import { UsageError } from './args';

export const reportCommand: CommandModule = {
  spec: {
    name: 'report',
    summary: 'an HTML report of one run, or a comparison table of many (plus Markdown and CSV)',
    usage: 'ltkit report [--out FILE.html|DIR] [--title TEXT] RUN|DIR ...',
    details:
      'Reads run directories only (run.json, metrics.jsonl, final-metrics.json, analysis.jsonl,\n' +
      'embedding-*.json). A folder that is not a run stands for every run directory under it. One self-contained\n' +
      'HTML file (inline SVG figures and CSS, no script, nothing fetched): per run its configuration, final and\n' +
      'best top-1 / balanced / many / medium / few (and ECE), learning curves, per-class accuracy against class\n' +
      'size, shot groups, confusion matrix, reliability diagram, and the S2 analyses and t-SNE/UMAP when the run\n' +
      'has them. With several runs it opens with a paper-style table: rows = recipe, columns = dataset × ρ ×\n' +
      'imbalance type, cells = mean ± std over the runs that differ only in seed / subset seed (same resolved\n' +
      'config otherwise), for the final model and the best epoch; the same table is written as .md and .csv\n' +
      'beside the HTML. Default place: RUN/report.html for one run, else report.html in the folder of the runs.\n' +
      'Prints the HTML path.',
    options: [
      { name: 'out', type: 'string', help: 'the HTML file, or a folder for report.html', metavar: 'FILE|DIR' },
      { name: 'title', type: 'string', help: "the report's title" },
    ],
    examples: [
      'ltkit report runs/fmnist-mfw',
      'ltkit report runs/s2-table1-fmnist --out s2.html',
      'ltkit report runs/a runs/b --title "CE vs LDAM-DRW"',
    ],
  },
  async run(p: Parsed, io: CliIO): Promise<void> {
    if (p.positionals.length === 0) throw new UsageError('ltkit report: give at least one run directory or folder');
    const { writeReport } = await import('../report/report');
    const files = await writeReport(p.positionals, {
      out: p.opts.out as string | undefined,
      title: p.opts.title as string | undefined,
    });
    io.stdout(files.html + '\n');
  },
};
