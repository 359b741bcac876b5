// `ltkit report`: one self-contained HTML file for one run or many, built from run directories only
// (run.json, metrics.jsonl, final-metrics.json, analysis.jsonl, embedding-<method>.json), so any report can
// be regenerated from the runs. For several runs it opens with the paper-style comparison table
// (comparison.ts), also written as Markdown and CSV beside the HTML; then one section per run: its
// configuration, headline numbers, learning curves, per-class accuracy against class size, shot groups,
// confusion matrix, reliability diagram, and the S2 analyses and embeddings when the run has them.
import * as fs from 'fs';
import * as path from 'path';
import { writeFileAtomic } from '../util/fs';
import type { ClassificationSummary } from '../eval/metrics';
import type { VegaLiteSpec } from './svg';
import { renderSvg } from './svg';
import * as charts from './charts';
import {
  RunData,
  loadRuns,
  configValue,
  finalSummary,
  bestSummary,
  latestTest,
  isPretraining,
  findRunDirs,
  commonFolder,
} from './run-data';
import {
  buildComparison,
  comparisonMarkdown,
  comparisonCsv,
  ComparisonTable,
  formatStat,
  GROUPING_NOTE,
  METRICS,
  METRIC_LABELS,
  SELECTIONS,
  pct,
} from './comparison';
import { esc, slug, figure, table, facts, page } from './html';

export interface ReportOptions {
  /** The HTML file to write (…/x.html), or a folder to write report.html into. */
  out?: string;
  title?: string;
}

export interface ReportFiles {
  html: string;
  markdown: string;
  csv: string;
}

/** Most runs a combined chart (learning curves, per-class accuracy) draws; more would be unreadable. */
const MAX_OVERLAY = 12;

/** Where the report goes: --out, else beside the run (one run) or in the folder of the runs. */
export function reportPath(paths: string[], out?: string): string {
  if (out) return out.toLowerCase().endsWith('.html') ? path.resolve(out) : path.resolve(out, 'report.html');
  if (paths.length === 1) return path.resolve(paths[0], 'report.html');
  const dirs = findRunDirs(paths);
  return path.join(dirs.length === 1 ? dirs[0] : commonFolder(dirs), 'report.html');
}

/** Writes the report of the runs under `paths` (HTML, and the comparison table as Markdown and CSV). */
export async function writeReport(paths: string[], o: ReportOptions = {}): Promise<ReportFiles> {
  const { root, runs } = loadRuns(paths);
  const html = reportPath(paths, o.out);
  const title =
    o.title ?? (runs.length === 1 ? `ltkit report: ${runs[0].name}` : `ltkit report: ${runs.length} runs in ${root}`);
  const built = await buildReport(runs, { title });
  const base = html.replace(/\.html$/i, '');
  const files = { html, markdown: base + '.md', csv: base + '.csv' };
  fs.mkdirSync(path.dirname(html), { recursive: true });
  writeFileAtomic(files.html, built.html);
  writeFileAtomic(files.markdown, built.markdown);
  writeFileAtomic(files.csv, built.csv);
  return files;
}

/** The report's three texts for loaded runs. */
export async function buildReport(
  runs: RunData[],
  o: { title: string },
): Promise<{ html: string; markdown: string; csv: string; table: ComparisonTable }> {
  const t = buildComparison(runs);
  const parts: string[] = [`<h1>${esc(o.title)}</h1>`];
  parts.push(
    `<p class="meta">Generated ${esc(new Date().toISOString())} by ltkit from ${runs.length} run director${
      runs.length === 1 ? 'y' : 'ies'
    }; every number and figure below is read from them.</p>`,
  );
  if (runs.length > 1) {
    parts.push(
      '<nav><ul>' +
        runs.map((r) => `<li><a href="#run-${slug(r.name)}">${esc(r.name)}</a> (${esc(r.run.status)})</li>`).join('') +
        '</ul></nav>',
    );
    parts.push(await comparisonSection(runs, t));
  }
  for (const r of runs) parts.push(await runSection(r));
  return {
    html: page(o.title, parts.join('\n')),
    markdown: comparisonMarkdown(t, o.title),
    csv: comparisonCsv(t),
    table: t,
  };
}

/** Renders a chart into a figure; a chart that cannot be drawn becomes a note (the rest of the report stays). */
async function chart(make: () => VegaLiteSpec, caption: string): Promise<string> {
  try {
    return figure(await renderSvg(make()), caption);
  } catch (e) {
    return `<p class="warn">${esc(caption)}: could not be drawn (${esc((e as Error).message)})</p>`;
  }
}

// ------------------------------------------------------------------ comparison

async function comparisonSection(runs: RunData[], t: ComparisonTable): Promise<string> {
  const out: string[] = ['<section id="comparison"><h2>Comparison</h2>', `<p class="note">${esc(GROUPING_NOTE)}</p>`];
  if (t.rows.length === 0) out.push('<p>No completed runs to compare.</p>');
  for (const sel of SELECTIONS) {
    if (t.rows.length === 0) break;
    out.push(
      '<div class="scroll">' +
        table({
          caption: `${sel === 'final' ? 'Final model' : 'Best epoch'}: test accuracy (%), mean ± std over seeds`,
          cls: 'data comparison',
          head: [
            [{ text: '' }, ...t.columns.map((c) => ({ text: c.label, span: METRICS.length }))],
            [{ text: 'method' }, ...t.columns.flatMap(() => METRICS.map((m) => ({ text: METRIC_LABELS[m] })))],
          ],
          rows: t.rows.map((r) => {
            const cells = [r.label];
            const title = [r.label];
            for (const c of t.columns) {
              const cell = r.cells.get(c.key);
              for (const m of METRICS) {
                cells.push(cell ? formatStat(cell.values[sel][m]) : '');
                title.push(cell ? `n=${cell.values[sel][m].n}: ${cell.runs.join(', ')}` : '');
              }
            }
            return { cells, title };
          }),
        }) +
        '</div>',
    );
  }
  if (t.rows.length > 0) {
    out.push(
      table({
        caption: 'Groups: the runs behind each cell',
        head: [[{ text: 'method' }, { text: 'column' }, { text: 'n' }, { text: 'runs' }]],
        rows: t.rows.flatMap((r) =>
          t.columns.flatMap((c) => {
            const cell = r.cells.get(c.key);
            return cell ? [{ cells: [r.label, c.label, String(cell.runs.length), cell.runs.join(', ')] }] : [];
          }),
        ),
      }),
    );
  }
  if (t.excluded.length) {
    out.push(
      '<p class="note">Not in the table: ' +
        t.excluded.map((e) => `${esc(e.name)} (${esc(e.reason)})`).join('; ') +
        '</p>',
    );
  }
  out.push(
    '<div class="scroll">' +
      table({
        caption: 'Runs',
        head: [
          [
            'run',
            'recipe',
            'dataset',
            'ρ',
            'imbalance',
            'seed',
            'subset seed',
            'status',
            'epochs',
            'final top-1',
            'best top-1',
          ].map((text) => ({ text })),
        ],
        rows: runs.map((r) => {
          const b = bestSummary(r);
          return {
            cells: [
              r.name,
              r.run.recipe.text,
              r.run.data.dataset,
              String(configValue(r, 'data.rho')),
              String(configValue(r, 'data.imbType')),
              String(configValue(r, 'seed')),
              String(r.run.data.subsetSeed),
              r.run.status,
              `${r.run.epochsDone ?? 0}/${String(configValue(r, 'train.epochs'))}`,
              pct(finalSummary(r)?.top1 ?? null),
              b ? `${pct(b.summary.top1)} (epoch ${b.epoch + 1})` : '—',
            ],
          };
        }),
      }) +
      '</div>',
  );

  const figs: string[] = [];
  if (t.rows.length > 0) {
    const rows = t.rows.flatMap((r) =>
      t.columns.flatMap((c) => {
        const cell = r.cells.get(c.key);
        if (!cell) return [];
        const v = cell.values.final;
        return [
          {
            name: t.columns.length > 1 ? `${r.label} · ${c.label}` : r.label,
            many: v.many.mean,
            medium: v.medium.mean,
            few: v.few.mean,
            top1: v.top1.mean,
          },
        ];
      }),
    );
    figs.push(
      await chart(() => charts.shotGroups(rows), 'Many / medium / few-shot accuracy of each group (final, mean)'),
    );
  }
  const classifiers = runs.filter((r) => !isPretraining(r));
  if (classifiers.length > 1 && classifiers.length <= MAX_OVERLAY) {
    figs.push(
      await chart(
        () => charts.learningCurves(classifiers.map((r) => ({ name: r.name, epochs: epochRows(r) }))),
        'Learning curves of every run',
      ),
    );
    const sameClasses = classifiers.every((r) => sameList(r.run.data.classNames, classifiers[0].run.data.classNames));
    const withFinal = classifiers.filter((r) => finalSummary(r));
    if (sameClasses && withFinal.length > 1) {
      figs.push(
        await chart(
          () =>
            charts.perClassAccuracy(
              withFinal.map((r) => ({
                name: r.name,
                accuracy: (finalSummary(r) as ClassificationSummary).perClass.accuracy,
                trainCounts: r.run.data.clsNumList,
                classNames: r.run.data.classNames,
              })),
            ),
          'Per-class accuracy (final model) against the class size',
        ),
      );
    }
  }
  const withDeviation = classifiers.filter((r) => r.analysis.some((a) => a.type === 'deviation'));
  if (
    withDeviation.length > 1 &&
    withDeviation.every((r) => sameList(r.run.data.classNames, withDeviation[0].run.data.classNames))
  ) {
    const rows = withDeviation.map((r) => {
      const last = r.analysis.filter((a) => a.type === 'deviation').pop();
      return { name: r.name, epoch: (last?.epoch ?? 0) + 1, perClass: last?.type === 'deviation' ? last.perClass : [] };
    });
    figs.push(
      await chart(
        () => charts.featureDeviation(rows, withDeviation[0].run.data.classNames, withDeviation[0].run.data.clsNumList),
        'Feature deviation between train and test features per class (last measured epoch of each run)',
      ),
    );
  }
  if (figs.length) out.push(`<div class="figures">${figs.join('\n')}</div>`);
  out.push('</section>');
  return out.join('\n');
}

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

// ------------------------------------------------------------------ one run

/** The epoch lines of a run for the learning curves, epochs counted from 1 as the progress lines count them. */
function epochRows(r: RunData) {
  return r.metrics.flatMap((m) =>
    m.type === 'epoch'
      ? [
          {
            stage: m.stage,
            epoch: m.epoch + 1,
            loss: m.loss,
            trainAcc: m.trainAcc,
            testTop1: m.test?.top1 ?? null,
            valTop1: m.val?.top1 ?? null,
          },
        ]
      : [],
  );
}

interface Headline {
  label: string;
  summary: ClassificationSummary;
}

function headlines(r: RunData): Headline[] {
  const out: Headline[] = [];
  const f = finalSummary(r);
  if (f) out.push({ label: 'final', summary: f });
  const b = bestSummary(r);
  if (b) out.push({ label: `best (epoch ${b.epoch + 1})`, summary: b.summary });
  if (!f) {
    const l = latestTest(r);
    if (l) out.push({ label: `latest (${l.stage} epoch ${l.epoch + 1}; run ${r.run.status})`, summary: l.summary });
  }
  return out;
}

const ece = (s: ClassificationSummary): number | null =>
  (s as { calibration?: ClassificationSummary['calibration'] }).calibration?.ece ?? null;

async function runSection(r: RunData): Promise<string> {
  const run = r.run;
  const cfg = (k: string) => configValue(r, k);
  const classNames = run.data.classNames;
  const trainCounts = run.data.clsNumList;
  const out: string[] = [
    `<section class="run" id="run-${slug(r.name)}"><h2>${esc(r.name)} <small>(${esc(run.status)})</small></h2>`,
  ];
  out.push(
    facts([
      ['recipe', run.recipe.text],
      [
        'data',
        `${run.data.dataset} (${run.data.numClasses} classes; ${run.data.trainSize} train, ${run.data.valSize} val, ${run.data.testSize} test)`,
      ],
      ['ρ (imbalance ratio)', cfg('data.rho')],
      ['imbalance type', cfg('data.imbType')],
      ['seed / subset seed', `${String(cfg('seed'))} / ${run.data.subsetSeed}`],
      ['epochs', `${run.epochsDone ?? 0} of ${String(cfg('train.epochs'))}`],
      ['model', cfg('model.name')],
      ['stages', run.stages.join(' → ')],
      ...(cfg('pretrain.method') !== 'none' ? [['pre-training', cfg('pretrain.method')] as [string, unknown]] : []),
      ...(run.init
        ? [['initialised from', `${run.init.source} (${run.init.loaded} tensors)`] as [string, unknown]]
        : []),
      ['started / finished', `${run.startedAt} / ${run.finishedAt ?? '—'}`],
      [
        'versions',
        `ltkit ${run.versions.ltkit}, libtorch ${run.versions.libtorch}, node ${run.versions.node}, git ${run.versions.gitSha ?? '—'}`,
      ],
      ['directory', r.dir],
    ]),
  );
  if (run.error) out.push(`<p class="warn">error: ${esc(run.error)}</p>`);
  for (const w of r.warnings) out.push(`<p class="warn">${esc(w)}</p>`);

  const heads = headlines(r);
  if (heads.length) {
    out.push(
      table({
        caption: 'Test accuracy (%)',
        head: [['', 'top-1', 'balanced', 'many', 'medium', 'few', 'ECE'].map((text) => ({ text }))],
        rows: heads.map((h) => ({
          cells: [
            h.label,
            pct(h.summary.top1),
            pct(h.summary.balancedAccuracy),
            pct(h.summary.shots?.many.accuracy ?? null),
            pct(h.summary.shots?.medium.accuracy ?? null),
            pct(h.summary.shots?.few.accuracy ?? null),
            pct(ece(h.summary)),
          ],
        })),
      }),
    );
  } else out.push('<p>No test evaluation yet.</p>');

  const figs: string[] = [];
  const epochs = epochRows(r);
  if (epochs.length) figs.push(await chart(() => charts.learningCurves([{ name: r.name, epochs }]), 'Learning curves'));
  if (heads.length) {
    figs.push(
      await chart(
        () =>
          charts.perClassAccuracy(
            heads.map((h) => ({ name: h.label, accuracy: h.summary.perClass.accuracy, trainCounts, classNames })),
          ),
        'Per-class test accuracy against the class size (training images)',
      ),
    );
    figs.push(
      await chart(
        () =>
          charts.shotGroups(
            heads.map((h) => ({
              name: h.label,
              many: h.summary.shots?.many.accuracy ?? null,
              medium: h.summary.shots?.medium.accuracy ?? null,
              few: h.summary.shots?.few.accuracy ?? null,
              top1: h.summary.top1,
            })),
          ),
        'Shot groups (many > 100, medium 20–100, few < 20 training images)',
      ),
    );
    const main = heads[0];
    figs.push(
      await chart(
        () => charts.confusionHeatmap(main.summary.confusion, classNames, { normalize: true }),
        `Confusion matrix (${main.label}), each true class's row normalised`,
      ),
    );
    const cal = (main.summary as { calibration?: ClassificationSummary['calibration'] }).calibration;
    if (cal && cal.bins.length) {
      figs.push(
        await chart(
          () => charts.reliabilityDiagram(cal.bins, cal.ece, `Reliability (${main.label})`),
          `Reliability diagram (${main.label}); ECE ${pct(cal.ece)}%`,
        ),
      );
    }
  }
  // The S2 analyses (analysis.jsonl), one figure per stage (and per measuring point for gradient norms).
  const byKey = <T>(items: T[], key: (x: T) => string) => {
    const m = new Map<string, T[]>();
    for (const x of items) m.set(key(x), [...(m.get(key(x)) ?? []), x]);
    return m;
  };
  const progress = r.analysis.filter((a) => a.type === 'progress');
  for (const [stage, recs] of byKey(progress, (a) => a.stage)) {
    figs.push(
      await chart(
        () =>
          charts.trainingProgress(
            recs.map((a) => ({ epoch: a.epoch + 1, accuracy: a.accuracy, ratio: a.ratio })),
            classNames,
            trainCounts,
          ),
        `Training progress (stage ${stage}): per-class training accuracy and classification ratio`,
      ),
    );
  }
  const grads = r.analysis.filter((a) => a.type === 'gradNorm');
  for (const [key, recs] of byKey(grads, (a) => `${a.stage} at ${a.at}`)) {
    const at = recs[0].type === 'gradNorm' ? recs[0].at : '';
    figs.push(
      await chart(
        () =>
          charts.gradientNorms(
            recs.map((a) => ({ epoch: a.epoch + 1, perClass: a.perClass })),
            classNames,
            at,
          ),
        `Feature-gradient norms per class (stage ${key})`,
      ),
    );
  }
  const devs = r.analysis.filter((a) => a.type === 'deviation');
  if (devs.length) {
    figs.push(
      await chart(
        () =>
          charts.featureDeviation(
            devs.map((a) => ({ name: a.stage, epoch: a.epoch + 1, perClass: a.perClass })),
            classNames,
            trainCounts,
          ),
        'Feature deviation between train and test features per class',
      ),
    );
  }
  for (const e of r.embeddings) {
    const label = e.method === 'tsne' ? 't-SNE' : 'UMAP';
    figs.push(
      await chart(
        () => charts.embeddingScatter(e.points, e.classNames, e.groups, `${label} of train and test features`),
        `${label} of the features (${e.points.length} points)`,
      ),
    );
  }
  if (figs.length) out.push(`<div class="figures">${figs.join('\n')}</div>`);
  out.push('</section>');
  return out.join('\n');
}
