// Side-by-side comparison of several runs' ClassificationSummary objects, as a fixed-width text table
// and as Markdown. Rows: overall top-1, balanced accuracy, many / medium / few-shot, macro-F1, ECE (expected
// calibration error, when any run has it; lower is better), then one row per class (accuracy) with the
// class's training count. Values are percentages with 2 decimals;
// a missing value (null: no samples, no classes in a shot group, no training counts) renders as "—".
import type { ClassificationSummary } from './metrics';

export interface RunColumn {
  name: string;
  summary: ClassificationSummary;
}

export interface TableOptions {
  /** Class names for the per-class rows (default "class <i>"). */
  classNames?: string[];
  /** Training count per class; default: the first run's `perClass.trainCounts`. */
  trainCounts?: ArrayLike<number>;
  /** Include the per-class rows (default true). */
  perClass?: boolean;
  /** Include top-5 after top-1 (default: when any run has it). */
  top5?: boolean;
}

const DASH = '—';

/** A fraction as a percentage with 2 decimals ("71.10"); null → "—". */
export function pct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : (v * 100).toFixed(2);
}

interface Grid {
  header: string[];
  rows: string[][];
  /** Index of the first per-class row (for a separator), or -1. */
  classStart: number;
}

function buildGrid(runs: RunColumn[], opts: TableOptions): Grid {
  if (runs.length === 0) throw new RangeError('comparison table: no runs');
  const C = runs[0].summary.numClasses;
  for (const r of runs) {
    if (r.summary.numClasses !== C) {
      throw new RangeError(`comparison table: run "${r.name}" has ${r.summary.numClasses} classes, expected ${C}`);
    }
  }
  const counts = opts.trainCounts ?? runs[0].summary.perClass.trainCounts ?? null;
  const header = ['metric', 'train n', ...runs.map((r) => r.name)];
  const rows: string[][] = [];
  const metricRow = (label: string, get: (s: ClassificationSummary) => number | null | undefined) =>
    rows.push([label, '', ...runs.map((r) => pct(get(r.summary)))]);
  const groupCount = (g: 'many' | 'medium' | 'few'): string => {
    const s = runs[0].summary.shots;
    return s ? `${s[g].classes.length} cls` : '';
  };
  const showTop5 = opts.top5 ?? runs.some((r) => r.summary.top5 !== null);
  metricRow('top-1', (s) => s.top1);
  if (showTop5) metricRow('top-5', (s) => s.top5);
  metricRow('balanced acc', (s) => s.balancedAccuracy);
  for (const g of ['many', 'medium', 'few'] as const) {
    rows.push([`${g}-shot`, groupCount(g), ...runs.map((r) => pct(r.summary.shots?.[g].accuracy ?? null))]);
  }
  metricRow('macro-F1', (s) => s.macroF1);
  // Summaries stored before calibration existed have no `calibration` field.
  const ece = (s: ClassificationSummary): number | null =>
    (s.calibration as typeof s.calibration | undefined)?.ece ?? null;
  if (runs.some((r) => ece(r.summary) !== null)) metricRow('ECE', ece);
  let classStart = -1;
  if (opts.perClass ?? true) {
    classStart = rows.length;
    for (let c = 0; c < C; c++) {
      const name = opts.classNames?.[c] ?? `class ${c}`;
      rows.push([
        name,
        counts === null ? '' : String(counts[c]),
        ...runs.map((r) => pct(r.summary.perClass.accuracy[c])),
      ]);
    }
  }
  return { header, rows, classStart };
}

/** Fixed-width text: first column left-aligned, the others right-aligned, rules around the header. */
export function renderTextTable(runs: RunColumn[], opts: TableOptions = {}): string {
  const { header, rows, classStart } = buildGrid(runs, opts);
  const width = header.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
  const line = (cells: string[]) =>
    cells
      .map((v, j) => (j === 0 ? v.padEnd(width[j]) : v.padStart(width[j])))
      .join('  ')
      .trimEnd();
  const rule = width.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(header), rule];
  rows.forEach((r, i) => {
    if (i === classStart && i > 0) out.push(rule);
    out.push(line(r));
  });
  return out.join('\n') + '\n';
}

function mdEscape(s: string): string {
  return s.replace(/\|/g, '\\|');
}

/** GitHub-flavoured Markdown table (numbers right-aligned). */
export function renderMarkdownTable(runs: RunColumn[], opts: TableOptions = {}): string {
  const { header, rows } = buildGrid(runs, opts);
  const row = (cells: string[]) => '| ' + cells.map(mdEscape).join(' | ') + ' |';
  const align = '|' + header.map((_, j) => (j === 0 ? ' --- ' : ' ---: ')).join('|') + '|';
  return [row(header), align, ...rows.map(row)].join('\n') + '\n';
}

/** Both renderings; `runs` may also be a name → summary record. */
export function compareRuns(
  runs: RunColumn[] | Record<string, ClassificationSummary>,
  opts: TableOptions = {},
): { text: string; markdown: string } {
  const cols = Array.isArray(runs) ? runs : Object.entries(runs).map(([name, summary]) => ({ name, summary }));
  return { text: renderTextTable(cols, opts), markdown: renderMarkdownTable(cols, opts) };
}
