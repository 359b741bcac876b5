// The paper-style comparison table of a report: rows = method (the recipe, plus any setting that tells two
// groups of one column apart), columns = dataset × ρ × imbalance type, cells = mean ± sample standard
// deviation over the runs of a group, for top-1 and many / medium / few, of the final model and of the
// selected (best) epoch. A group is the runs whose resolved configurations (run.json) are equal once the
// seeds (seed, data.subsetSeed), the run's name and outDir and the result-neutral settings (threads,
// train.progress, train.checkpointEvery) are left out.
import * as path from 'path';
import { RESUME_FREE_KEYS } from '../train/config';
import type { ClassificationSummary } from '../eval/metrics';
import { RunData, configValue, finalSummary, bestSummary, isPretraining } from './run-data';

export const METRICS = ['top1', 'many', 'medium', 'few'] as const;
export type Metric = (typeof METRICS)[number];
export const METRIC_LABELS: Record<Metric, string> = { top1: 'top-1', many: 'many', medium: 'medium', few: 'few' };
export const SELECTIONS = ['final', 'best'] as const;
export type Selection = (typeof SELECTIONS)[number];

/** Settings that do not define a group: the seeds, where the run is, and what cannot change its result. */
export const GROUP_IGNORED_KEYS: readonly string[] = ['seed', 'data.subsetSeed', ...RESUME_FREE_KEYS];
/** The settings that make the columns (and so never split a row). */
const COLUMN_KEYS = ['data.dataset', 'data.rho', 'data.imbType'];

export const GROUPING_NOTE =
  'Runs are grouped by their resolved configuration (run.json) without the seeds (seed, data.subsetSeed), ' +
  `the run name and outDir, and the settings that cannot change a result (${RESUME_FREE_KEYS.filter(
    (k) => k !== 'name' && k !== 'outDir',
  ).join(', ')}); each cell is the mean ± sample standard deviation (n − 1) over a group's runs, in %. ` +
  'Rows are the recipe, plus the settings that differ between groups of one column.';

export interface Stat {
  mean: number | null;
  std: number | null;
  /** Runs with a value. */
  n: number;
}

export interface Cell {
  runs: string[];
  values: Record<Selection, Record<Metric, Stat>>;
}

export interface Column {
  key: string;
  dataset: string;
  rho: number;
  imbType: string;
  label: string;
}

export interface Row {
  label: string;
  recipe: string;
  cells: Map<string, Cell>;
}

export interface ComparisonTable {
  columns: Column[];
  rows: Row[];
  /** Runs left out of the table, and why. */
  excluded: { name: string; reason: string }[];
}

/** Dotted leaf keys of a config and their values as JSON (arrays are leaves). */
function leaves(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (v !== undefined) out.set(prefix, JSON.stringify(v));
  return out;
}

/** The run's configuration as the group sees it: ignored keys removed, run-local paths made relative. */
function groupLeaves(r: RunData): Map<string, string> {
  const m = leaves(r.run.config);
  for (const k of [...m.keys()]) {
    if (GROUP_IGNORED_KEYS.some((g) => k === g || k.startsWith(g + '.'))) m.delete(k);
  }
  // Pseudo-labels made inside a self-training chain live beside the run: compare them by where they are
  // relative to it, not by the chain's absolute folder.
  const pl = configValue(r, 'data.unlabeled.pseudoLabels');
  const outDir = configValue(r, 'outDir');
  if (typeof pl === 'string' && typeof outDir === 'string' && !path.relative(outDir, pl).startsWith('..')) {
    m.set('data.unlabeled.pseudoLabels', JSON.stringify(path.relative(outDir, pl)));
  }
  return m;
}

function stat(values: (number | null | undefined)[]): Stat {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return { mean: null, std: null, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1)) : null;
  return { mean, std, n: v.length };
}

function metricOf(s: ClassificationSummary | null, m: Metric): number | null {
  if (!s) return null;
  return m === 'top1' ? s.top1 : (s.shots?.[m].accuracy ?? null);
}

/** How a row label shows some settings (any other: `key=value`). */
const ROW_LABELS: Record<string, (v: string | undefined) => string> = {
  'data.unlabeled.pseudoLabels': (v) => (v === undefined ? 'labeled only' : '+ pseudo-labels'),
  'data.unlabeled.rhoU': (v) => `ρU=${v ?? '—'}`,
  'data.unlabeled.k': (v) => (v === undefined ? 'no DU' : `DU@${v}x`),
};

const shortValue = (json: string) => {
  const v = JSON.parse(json) as unknown;
  return typeof v === 'string' ? v : json;
};

/** Builds the comparison table of `runs` (completed classification runs; the others are listed as excluded). */
export function buildComparison(runs: RunData[]): ComparisonTable {
  const excluded: ComparisonTable['excluded'] = [];
  const used: { r: RunData; leaves: Map<string, string>; col: Column }[] = [];
  for (const r of runs) {
    if (isPretraining(r)) excluded.push({ name: r.name, reason: 'self-supervised pre-training run (kNN monitor)' });
    else if (r.run.status !== 'completed' || !r.final)
      excluded.push({ name: r.name, reason: `not completed (status ${r.run.status})` });
    else {
      const dataset = String(configValue(r, 'data.dataset') ?? r.run.data.dataset);
      const rho = Number(configValue(r, 'data.rho'));
      const imbType = String(configValue(r, 'data.imbType') ?? '');
      const key = JSON.stringify([dataset, rho, imbType]);
      used.push({
        r,
        leaves: groupLeaves(r),
        col: { key, dataset, rho, imbType, label: `${dataset} ρ=${rho} ${imbType}` },
      });
    }
  }
  // Group the runs.
  const groups = new Map<string, typeof used>();
  for (const u of used) {
    const k = JSON.stringify([...u.leaves.entries()].sort());
    groups.set(k, [...(groups.get(k) ?? []), u]);
  }
  // The settings that tell groups of one column and recipe apart become part of the row label.
  const buckets = new Map<string, Map<string, string>[]>();
  for (const g of groups.values()) {
    const b = `${g[0].col.key}|${g[0].leaves.get('method.recipe')}`;
    buckets.set(b, [...(buckets.get(b) ?? []), g[0].leaves]);
  }
  const splitting = new Set<string>();
  for (const ls of buckets.values()) {
    if (ls.length < 2) continue;
    const keys = new Set(ls.flatMap((l) => [...l.keys()]));
    for (const k of keys) {
      if (!COLUMN_KEYS.includes(k) && new Set(ls.map((l) => l.get(k))).size > 1) splitting.add(k);
    }
  }
  const split = [...splitting].sort();
  const columns = new Map<string, Column>();
  const rows = new Map<string, Row>();
  for (const g of groups.values()) {
    const first = g[0];
    const recipe = shortValue(first.leaves.get('method.recipe') ?? '"?"');
    const extras = split
      .filter((k) => k !== 'method.recipe')
      .map((k) => {
        const v = first.leaves.has(k) ? shortValue(first.leaves.get(k) as string) : undefined;
        return ROW_LABELS[k]?.(v) ?? `${k}=${v ?? 'unset'}`;
      });
    const label = [recipe, ...extras].join(' · ');
    columns.set(first.col.key, first.col);
    const row = rows.get(label) ?? { label, recipe, cells: new Map() };
    rows.set(label, row);
    const sums = { final: g.map((u) => finalSummary(u.r)), best: g.map((u) => bestSummary(u.r)?.summary ?? null) };
    const values = {} as Cell['values'];
    for (const sel of SELECTIONS) {
      values[sel] = {} as Record<Metric, Stat>;
      for (const m of METRICS) values[sel][m] = stat(sums[sel].map((s) => metricOf(s, m)));
    }
    row.cells.set(first.col.key, { runs: g.map((u) => u.r.name).sort(), values });
  }
  const cols = [...columns.values()].sort(
    (a, b) => a.dataset.localeCompare(b.dataset) || b.rho - a.rho || a.imbType.localeCompare(b.imbType),
  );
  return { columns: cols, rows: [...rows.values()].sort((a, b) => a.label.localeCompare(b.label)), excluded };
}

/** A percentage with 2 decimals; '—' for none. */
export function pct(v: number | null): string {
  return v === null ? '—' : (100 * v).toFixed(2);
}

/** "71.10 ± 0.32" (one run: "71.10"; none: "—"). */
export function formatStat(s: Stat): string {
  if (s.mean === null) return '—';
  return s.std === null ? pct(s.mean) : `${pct(s.mean)} ± ${pct(s.std)}`;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

/** The table as Markdown: one table per selection (final, best), then the groups (runs per cell). */
export function comparisonMarkdown(t: ComparisonTable, title = 'Comparison'): string {
  const out = [`# ${title}`, '', GROUPING_NOTE, ''];
  if (t.rows.length === 0) out.push('(no completed runs)', '');
  for (const sel of SELECTIONS) {
    if (t.rows.length === 0) break;
    out.push(`## ${sel === 'final' ? 'Final model' : 'Best epoch'} (test accuracy %, mean ± std over seeds)`, '');
    const head = ['method', ...t.columns.flatMap((c) => METRICS.map((m) => `${c.label} ${METRIC_LABELS[m]}`))];
    out.push('| ' + head.map(mdCell).join(' | ') + ' |');
    out.push('|' + head.map((_, j) => (j === 0 ? ' --- ' : ' ---: ')).join('|') + '|');
    for (const r of t.rows) {
      const cells = t.columns.flatMap((c) =>
        METRICS.map((m) => {
          const cell = r.cells.get(c.key);
          return cell ? formatStat(cell.values[sel][m]) : '';
        }),
      );
      out.push('| ' + [r.label, ...cells].map(mdCell).join(' | ') + ' |');
    }
    out.push('');
  }
  if (t.rows.length > 0) {
    out.push('## Groups', '', '| method | column | n | runs |', '| --- | --- | ---: | --- |');
    for (const r of t.rows) {
      for (const c of t.columns) {
        const cell = r.cells.get(c.key);
        if (cell)
          out.push(`| ${mdCell(r.label)} | ${mdCell(c.label)} | ${cell.runs.length} | ${cell.runs.join(', ')} |`);
      }
    }
    out.push('');
  }
  if (t.excluded.length) {
    out.push('## Not in the table', '');
    for (const e of t.excluded) out.push(`- ${e.name}: ${e.reason}`);
    out.push('');
  }
  return out.join('\n');
}

function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV: one line per cell (method × dataset × ρ × imbalance), means and stds as fractions. */
export function comparisonCsv(t: ComparisonTable): string {
  const head = ['method', 'recipe', 'dataset', 'rho', 'imbType', 'n'];
  for (const sel of SELECTIONS) for (const m of METRICS) head.push(`${sel}_${m}_mean`, `${sel}_${m}_std`);
  head.push('runs');
  const lines = [head.join(',')];
  for (const r of t.rows) {
    for (const c of t.columns) {
      const cell = r.cells.get(c.key);
      if (!cell) continue;
      const f: (string | number | null)[] = [r.label, r.recipe, c.dataset, c.rho, c.imbType, cell.runs.length];
      for (const sel of SELECTIONS) {
        for (const m of METRICS) f.push(cell.values[sel][m].mean, cell.values[sel][m].std);
      }
      f.push(cell.runs.join(' '));
      lines.push(f.map(csvField).join(','));
    }
  }
  return lines.join('\n') + '\n';
}
