// Chart builders: one function per figure ltkit draws, each taking plain data (what the run directory's
// metrics.jsonl / analysis.jsonl / embedding files hold) and returning a Vega-Lite specification. They are
// pure — no rendering, no I/O — so a test can inspect the spec; the caller renders it with renderSvg
// (./svg.ts). Every spec inlines its data (`data.values`, never a URL: rendering needs no network), has a
// title and axis titles, panels of about 480×300, and depends only on its input (deterministic SVG).
//
// Figures and their sources:
// - learning curves, per-class accuracy vs class size, many/medium/few bars, confusion matrix: the usual
//   long-tail evaluation (SPEC §6);
// - training progress (per-class training accuracy and classification ratio = predicted-as-c / truly-c
//   per epoch) and feature-gradient norms: S2 (Procrustean Training) Fig. 1, 3 and 4;
// - feature deviation dis(c): S2 §5.4;
// - t-SNE / UMAP embeddings: S1 Fig. 1, 4;
// - Monte-Carlo estimates against the bounds of S1 Theorems 1–3;
// - reliability diagram (accuracy per confidence bin against the diagonal, with the bin counts) and ECE:
//   Guo, Pleiss, Sun & Weinberger 2017, "On Calibration of Modern Neural Networks", §2 and Fig. 1.
//
// Bad input (mismatched lengths, unknown labels, non-finite values where a number is required) throws a
// RangeError that names the chart and the offending field. Nulls (a class without test samples, a shot
// group without classes) are left out of the plot.
import type { VegaLiteSpec } from './svg';
import { shotGroup, DEFAULT_SHOT_THRESHOLDS, ShotThresholds } from '../data/longtail/groups';

export type { VegaLiteSpec } from './svg';

/** Panel size of every chart (pixels, plot area). */
export const PANEL = { width: 480, height: 300 } as const;

const GROUP_ORDER = ['many', 'medium', 'few'] as const;
const GROUP_COLORS = ['#4e79a7', '#f28e2b', '#e15759'];
const GROUP_SHAPES = ['circle', 'square', 'triangle-up'];
/** Above this many classes, lines are coloured by class size (or index) on a gradient, without a legend per class. */
const MAX_CLASS_LEGEND = 20;

type Row = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------- checks

function fail(chart: string, msg: string): never {
  throw new RangeError(`${chart}: ${msg}`);
}

function checkLength(chart: string, what: string, arr: ArrayLike<unknown>, n: number, of: string): void {
  if (!arr || typeof arr.length !== 'number') fail(chart, `${what} is missing`);
  if (arr.length !== n) fail(chart, `${what} has ${arr.length} entries, expected ${n} (${of})`);
}

function checkFinite(chart: string, what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(chart, `${what} must be a finite number, got ${String(v)}`);
  return v;
}

/** A finite number, or null for null/undefined; anything else throws. */
function optFinite(chart: string, what: string, v: unknown): number | null {
  return v === null || v === undefined ? null : checkFinite(chart, what, v);
}

function checkClassNames(chart: string, classNames: string[]): void {
  if (!Array.isArray(classNames) || classNames.length === 0) fail(chart, 'classNames must be a non-empty array');
  const seen = new Set<string>();
  for (const n of classNames) {
    if (typeof n !== 'string') fail(chart, `class name ${String(n)} is not a string`);
    if (seen.has(n)) fail(chart, `class name "${n}" appears twice`);
    seen.add(n);
  }
}

function checkCounts(chart: string, counts: ArrayLike<number>, n: number, positive: boolean): void {
  checkLength(chart, 'trainCounts', counts, n, 'one per class');
  for (let c = 0; c < n; c++) {
    const v = checkFinite(chart, `trainCounts[${c}]`, counts[c]);
    if (v < 0 || (positive && v === 0)) {
      fail(chart, `trainCounts[${c}] = ${v}: counts must be ${positive ? 'positive (log axis)' : 'non-negative'}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------- pieces

const percentAxis = (title: string) => ({ title, format: '%' });

/**
 * Colour by class: a categorical palette with a legend for up to 20 classes; above that a gradient over
 * the training count (log scale, when counts are known) or the class index, since 100 legend entries help
 * nobody. `detail` keeps one line per class in the gradient case.
 */
function classColor(classNames: string[], counts?: ArrayLike<number>): { color: Row; detail?: Row } {
  const C = classNames.length;
  if (C <= MAX_CLASS_LEGEND) {
    return {
      color: {
        field: 'class',
        type: 'nominal',
        sort: classNames,
        scale: { domain: classNames, scheme: C <= 10 ? 'tableau10' : 'tableau20' },
        legend: { title: 'class' },
      },
    };
  }
  const color = counts
    ? {
        field: 'trainCount',
        type: 'quantitative',
        scale: { type: 'log', scheme: 'viridis' },
        legend: { title: 'train images' },
      }
    : { field: 'classIndex', type: 'quantitative', scale: { scheme: 'viridis' }, legend: { title: 'class index' } };
  return { color, detail: { field: 'class', type: 'nominal' } };
}

function runColor(names: string[]): Row {
  return {
    field: 'run',
    type: 'nominal',
    sort: names,
    scale: { domain: names, scheme: names.length <= 10 ? 'tableau10' : 'tableau20' },
    legend: { title: 'run' },
  };
}

function uniqueNames(chart: string, names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (typeof n !== 'string') fail(chart, `${what} name ${String(n)} is not a string`);
    if (seen.has(n)) fail(chart, `${what} name "${n}" appears twice`);
    seen.add(n);
  }
}

function base(title: string): VegaLiteSpec {
  return {
    title: { text: title, anchor: 'start', fontSize: 14 },
    config: { view: { stroke: '#ddd' }, axis: { grid: true, gridColor: '#eee' }, font: 'sans-serif' },
  };
}

// ---------------------------------------------------------------------------------------------- charts

export interface LearningCurveRun {
  name: string;
  epochs: {
    stage: string;
    epoch: number;
    loss: number;
    trainAcc: number | null;
    testTop1?: number | null;
    valTop1?: number | null;
  }[];
}

/**
 * Training loss (left) and accuracy (right: train, test, validation as solid / dashed / dotted) against
 * epoch, one colour per run. Stages (e.g. pre-training then fine-tuning) are drawn as separate lines.
 */
export function learningCurves(runs: LearningCurveRun[]): VegaLiteSpec {
  const chart = 'learningCurves';
  if (!Array.isArray(runs) || runs.length === 0) fail(chart, 'no runs');
  const names = runs.map((r) => r.name);
  uniqueNames(chart, names, 'run');
  const loss: Row[] = [];
  const acc: Row[] = [];
  for (const r of runs) {
    if (!Array.isArray(r.epochs)) fail(chart, `run "${r.name}" has no epochs array`);
    r.epochs.forEach((e, i) => {
      const at = `run "${r.name}" epochs[${i}]`;
      const epoch = checkFinite(chart, `${at}.epoch`, e.epoch);
      const stage = String(e.stage ?? '');
      const l = optFinite(chart, `${at}.loss`, e.loss);
      if (l !== null) loss.push({ run: r.name, stage, epoch, loss: l });
      for (const [split, v] of [
        ['train', e.trainAcc],
        ['test', e.testTop1],
        ['val', e.valTop1],
      ] as const) {
        const a = optFinite(chart, `${at}.${split === 'train' ? 'trainAcc' : split + 'Top1'}`, v);
        if (a !== null) acc.push({ run: r.name, stage, epoch, split, accuracy: a });
      }
    });
  }
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
  const color = runColor(names);
  return {
    ...base('Learning curves'),
    hconcat: [
      {
        width: PANEL.width,
        height: PANEL.height,
        title: 'training loss',
        data: { values: loss },
        mark: { type: 'line', point: loss.length <= 60 },
        encoding: {
          x,
          y: { field: 'loss', type: 'quantitative', title: 'loss' },
          color,
          detail: { field: 'stage', type: 'nominal' },
        },
      },
      {
        width: PANEL.width,
        height: PANEL.height,
        title: 'accuracy',
        data: { values: acc },
        mark: { type: 'line', point: acc.length <= 120 },
        encoding: {
          x,
          y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: percentAxis('accuracy') },
          color,
          strokeDash: {
            field: 'split',
            type: 'nominal',
            scale: {
              domain: ['train', 'test', 'val'],
              range: [
                [1, 0],
                [6, 3],
                [2, 2],
              ],
            },
            legend: { title: 'split', symbolType: 'stroke', symbolStrokeColor: '#333', symbolSize: 300 },
          },
          detail: { field: 'stage', type: 'nominal' },
        },
      },
    ],
    resolve: { scale: { color: 'shared', strokeDash: 'shared' } },
  };
}

export interface PerClassAccuracyRun {
  name: string;
  accuracy: (number | null)[];
  trainCounts: number[];
  classNames: string[];
}

/** Per-class test accuracy against the class's training-set size (log x axis), one colour per run. */
export function perClassAccuracy(runs: PerClassAccuracyRun[]): VegaLiteSpec {
  const chart = 'perClassAccuracy';
  if (!Array.isArray(runs) || runs.length === 0) fail(chart, 'no runs');
  const names = runs.map((r) => r.name);
  uniqueNames(chart, names, 'run');
  const values: Row[] = [];
  for (const r of runs) {
    const C = r.classNames?.length ?? 0;
    checkClassNames(`${chart} run "${r.name}"`, r.classNames);
    checkLength(chart, `run "${r.name}" accuracy`, r.accuracy, C, 'one per class name');
    checkCounts(`${chart} run "${r.name}"`, r.trainCounts, C, true);
    for (let c = 0; c < C; c++) {
      const a = optFinite(chart, `run "${r.name}" accuracy[${c}]`, r.accuracy[c]);
      if (a !== null) values.push({ run: r.name, class: r.classNames[c], trainCount: r.trainCounts[c], accuracy: a });
    }
  }
  const enc = {
    x: { field: 'trainCount', type: 'quantitative', scale: { type: 'log' }, title: 'training images per class (log)' },
    y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: percentAxis('test accuracy') },
    color: runColor(names),
  };
  return {
    ...base('Per-class accuracy against class size'),
    width: PANEL.width,
    height: PANEL.height,
    data: { values },
    encoding: enc,
    layer: [
      { mark: { type: 'line', opacity: 0.5 }, encoding: { order: { field: 'trainCount', type: 'quantitative' } } },
      {
        mark: { type: 'point', filled: true, size: 40 },
        encoding: {
          tooltip: [
            { field: 'run', type: 'nominal' },
            { field: 'class', type: 'nominal' },
            { field: 'trainCount', type: 'quantitative', title: 'train images' },
            { field: 'accuracy', type: 'quantitative', format: '.2%' },
          ],
        },
      },
    ],
  };
}

export interface ShotGroupRow {
  name: string;
  many: number | null;
  medium: number | null;
  few: number | null;
  top1: number | null;
}

/** Many / medium / few-shot and overall top-1 accuracy as grouped bars, one colour per run, values on top. */
export function shotGroups(rows: ShotGroupRow[]): VegaLiteSpec {
  const chart = 'shotGroups';
  if (!Array.isArray(rows) || rows.length === 0) fail(chart, 'no rows');
  const names = rows.map((r) => r.name);
  uniqueNames(chart, names, 'run');
  const groups = ['many', 'medium', 'few', 'overall'];
  const values: Row[] = [];
  for (const r of rows) {
    for (const g of groups) {
      const key = g === 'overall' ? 'top1' : (g as 'many' | 'medium' | 'few');
      const v = optFinite(chart, `run "${r.name}" ${key}`, r[key]);
      if (v !== null) values.push({ run: r.name, group: g, accuracy: v });
    }
  }
  const enc = {
    x: { field: 'group', type: 'nominal', sort: groups, title: 'shot group', axis: { labelAngle: 0 } },
    xOffset: { field: 'run', type: 'nominal', sort: names },
    y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] }, axis: percentAxis('test accuracy') },
    color: runColor(names),
  };
  return {
    ...base('Accuracy by shot group (many > 100, medium 20–100, few < 20 training images)'),
    width: PANEL.width,
    height: PANEL.height,
    data: { values },
    encoding: enc,
    layer: [
      { mark: { type: 'bar' } },
      {
        mark: { type: 'text', dy: -4, baseline: 'bottom', fontSize: rows.length > 3 ? 8 : 10 },
        encoding: { text: { field: 'accuracy', type: 'quantitative', format: '.1%' }, color: { value: '#333' } },
      },
    ],
  };
}

/**
 * Confusion matrix heatmap (rows: true class, columns: predicted class). Row-normalized by default (each
 * row shows where the samples of one true class went; a row without samples stays empty); cell values are
 * printed for up to 20 classes.
 */
export function confusionHeatmap(
  confusion: number[][],
  classNames: string[],
  opts: { normalize?: boolean; title?: string } = {},
): VegaLiteSpec {
  const chart = 'confusionHeatmap';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  checkLength(chart, 'confusion', confusion, C, 'one row per class name');
  const normalize = opts.normalize ?? true;
  const values: Row[] = [];
  confusion.forEach((row, t) => {
    checkLength(chart, `confusion[${t}]`, row, C, 'one column per class name');
    let sum = 0;
    for (let p = 0; p < C; p++) {
      const v = checkFinite(chart, `confusion[${t}][${p}]`, row[p]);
      if (v < 0) fail(chart, `confusion[${t}][${p}] = ${v} is negative`);
      sum += v;
    }
    for (let p = 0; p < C; p++) {
      if (normalize && sum === 0) continue;
      values.push({ true: classNames[t], predicted: classNames[p], value: normalize ? row[p] / sum : row[p] });
    }
  });
  const side = Math.max(240, Math.min(640, C * 28));
  const axis = (title: string) => ({
    field: title === 'true class' ? 'true' : 'predicted',
    type: 'ordinal',
    sort: classNames,
    scale: { domain: classNames },
    title,
    axis: {
      grid: false,
      ...(C > 40 ? { labels: false, ticks: false } : { labelAngle: title === 'true class' ? 0 : -45 }),
    },
  });
  const layers: Row[] = [
    {
      mark: { type: 'rect' },
      encoding: {
        color: {
          field: 'value',
          type: 'quantitative',
          scale: { scheme: 'blues', ...(normalize ? { domain: [0, 1] } : {}) },
          legend: normalize ? { title: 'fraction of row', format: '%' } : { title: 'samples' },
        },
      },
    },
  ];
  if (C <= MAX_CLASS_LEGEND) {
    layers.push({
      mark: { type: 'text', fontSize: C > 12 ? 7 : 9 },
      encoding: {
        text: { field: 'value', type: 'quantitative', format: normalize ? '.2f' : 'd' },
        color: { condition: { test: normalize ? 'datum.value > 0.5' : 'false', value: 'white' }, value: 'black' },
      },
    });
  }
  return {
    ...base(opts.title ?? (normalize ? 'Confusion matrix (row-normalized)' : 'Confusion matrix')),
    width: side,
    height: side,
    data: { values },
    encoding: { y: axis('true class'), x: axis('predicted class') },
    layer: layers,
  };
}

export interface TrainingProgressRecord {
  epoch: number;
  accuracy: (number | null)[];
  ratio: (number | null)[];
}

/**
 * Per-class training accuracy (left) and classification ratio predicted-as-c / truly-c (right, with the
 * ideal ratio 1 as a rule) against epoch, one line per class — S2 (Procrustean Training) Fig. 1 and 3.
 */
export function trainingProgress(
  records: TrainingProgressRecord[],
  classNames: string[],
  trainCounts: number[],
): VegaLiteSpec {
  const chart = 'trainingProgress';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  checkCounts(chart, trainCounts, C, false);
  if (!Array.isArray(records) || records.length === 0) fail(chart, 'no records');
  const values: Row[] = [];
  records.forEach((r, i) => {
    const epoch = checkFinite(chart, `records[${i}].epoch`, r.epoch);
    checkLength(chart, `records[${i}].accuracy`, r.accuracy, C, 'one per class name');
    checkLength(chart, `records[${i}].ratio`, r.ratio, C, 'one per class name');
    for (let c = 0; c < C; c++) {
      const a = optFinite(chart, `records[${i}].accuracy[${c}]`, r.accuracy[c]);
      const q = optFinite(chart, `records[${i}].ratio[${c}]`, r.ratio[c]);
      const row = { epoch, class: classNames[c], classIndex: c, trainCount: Math.max(1, trainCounts[c]) };
      if (a !== null) values.push({ ...row, metric: 'accuracy', value: a });
      if (q !== null) values.push({ ...row, metric: 'ratio', value: q });
    }
  });
  const { color, detail } = classColor(classNames, trainCounts);
  const x = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
  const line = { type: 'line', point: records.length <= 30, strokeWidth: C > MAX_CLASS_LEGEND ? 1 : 1.5 };
  const panel = (metric: string, title: string, y: Row, extra: Row[] = []): Row => ({
    width: PANEL.width,
    height: PANEL.height,
    title,
    layer: [
      {
        transform: [{ filter: { field: 'metric', equal: metric } }],
        mark: line,
        encoding: { x, y, color, ...(detail ? { detail } : {}) },
      },
      ...extra,
    ],
  });
  return {
    ...base('Training progress per class'),
    data: { values },
    hconcat: [
      panel('accuracy', 'training accuracy', {
        field: 'value',
        type: 'quantitative',
        scale: { domain: [0, 1] },
        axis: percentAxis('training accuracy'),
      }),
      panel(
        'ratio',
        'classification ratio (predicted-as-c / truly-c)',
        { field: 'value', type: 'quantitative', title: 'classification ratio' },
        [
          {
            data: { values: [{ one: 1 }] },
            mark: { type: 'rule', strokeDash: [4, 4], color: '#888' },
            encoding: { y: { field: 'one', type: 'quantitative' } },
          },
        ],
      ),
    ],
  };
}

/** Per-class mean feature-gradient norm ‖∇_{g(x)} ℓ‖ against epoch (S2 Fig. 4), measured at stage `at`. */
export function gradientNorms(
  records: { epoch: number; perClass: (number | null)[] }[],
  classNames: string[],
  at: string,
): VegaLiteSpec {
  const chart = 'gradientNorms';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  if (!Array.isArray(records) || records.length === 0) fail(chart, 'no records');
  const values: Row[] = [];
  records.forEach((r, i) => {
    const epoch = checkFinite(chart, `records[${i}].epoch`, r.epoch);
    checkLength(chart, `records[${i}].perClass`, r.perClass, C, 'one per class name');
    for (let c = 0; c < C; c++) {
      const v = optFinite(chart, `records[${i}].perClass[${c}]`, r.perClass[c]);
      if (v !== null) values.push({ epoch, class: classNames[c], classIndex: c, norm: v });
    }
  });
  const { color, detail } = classColor(classNames);
  return {
    ...base(`Feature-gradient norm per class (at ${at})`),
    width: PANEL.width,
    height: PANEL.height,
    data: { values },
    mark: { type: 'line', point: records.length <= 30 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'norm', type: 'quantitative', title: `mean ‖∇ feature loss‖ at ${at}` },
      color,
      ...(detail ? { detail } : {}),
    },
  };
}

/**
 * Feature deviation dis(c) per class (S2 §5.4): the distance between the mean of K-subsampled training
 * features and the mean of the test features of class c. Classes run along x from the largest to the
 * smallest training set; one colour per (run, epoch) — grouped bars up to 20 classes, lines above.
 */
export function featureDeviation(
  rows: { name: string; epoch: number; perClass: (number | null)[] }[],
  classNames: string[],
  trainCounts: number[],
): VegaLiteSpec {
  const chart = 'featureDeviation';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  checkCounts(chart, trainCounts, C, false);
  if (!Array.isArray(rows) || rows.length === 0) fail(chart, 'no rows');
  const series = rows.map((r, i) => `${r.name} (epoch ${checkFinite(chart, `rows[${i}].epoch`, r.epoch)})`);
  uniqueNames(chart, series, 'series');
  const order = classNames
    .map((n, c) => ({ n, c }))
    .sort((a, b) => trainCounts[b.c] - trainCounts[a.c] || a.c - b.c)
    .map((o) => o.n);
  const values: Row[] = [];
  rows.forEach((r, i) => {
    checkLength(chart, `rows[${i}].perClass`, r.perClass, C, 'one per class name');
    for (let c = 0; c < C; c++) {
      const v = optFinite(chart, `rows[${i}].perClass[${c}]`, r.perClass[c]);
      if (v !== null) values.push({ run: series[i], class: classNames[c], trainCount: trainCounts[c], deviation: v });
    }
  });
  const bars = C <= MAX_CLASS_LEGEND;
  return {
    ...base('Feature deviation per class (train vs test feature means)'),
    width: PANEL.width,
    height: PANEL.height,
    data: { values },
    mark: bars ? { type: 'bar' } : { type: 'line', point: true },
    encoding: {
      x: {
        field: 'class',
        type: 'ordinal',
        sort: order,
        scale: { domain: order },
        title: 'class (largest to smallest training set)',
        axis: C > 40 ? { labels: false } : { labelAngle: -45 },
      },
      ...(bars ? { xOffset: { field: 'run', type: 'nominal', sort: series } } : {}),
      y: { field: 'deviation', type: 'quantitative', title: 'deviation dis(c)' },
      color: runColor(series),
      tooltip: [
        { field: 'run', type: 'nominal' },
        { field: 'class', type: 'nominal' },
        { field: 'trainCount', type: 'quantitative', title: 'train images' },
        { field: 'deviation', type: 'quantitative', format: '.4f' },
      ],
    },
  };
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  confidence: number | null;
  accuracy: number | null;
}

/**
 * Reliability diagram (Guo et al. 2017, Fig. 1): per confidence bin, the accuracy (blue bars) against
 * perfect calibration (the dashed diagonal), with the gap to the bin's mean confidence in red; below, the
 * number of samples per bin. The ECE is printed in the title.
 */
export function reliabilityDiagram(bins: ReliabilityBin[], ece: number | null, title?: string): VegaLiteSpec {
  const chart = 'reliabilityDiagram';
  if (!Array.isArray(bins) || bins.length === 0) fail(chart, 'no bins');
  const e = optFinite(chart, 'ece', ece);
  const values: Row[] = bins.map((b, i) => {
    const lo = checkFinite(chart, `bins[${i}].lo`, b.lo);
    const hi = checkFinite(chart, `bins[${i}].hi`, b.hi);
    if (!(lo >= 0 && hi <= 1 && lo < hi)) fail(chart, `bins[${i}] = (${lo}, ${hi}] is not a bin inside [0, 1]`);
    const count = checkFinite(chart, `bins[${i}].count`, b.count);
    if (count < 0) fail(chart, `bins[${i}].count = ${count} is negative`);
    return {
      lo,
      hi,
      mid: (lo + hi) / 2,
      count,
      confidence: optFinite(chart, `bins[${i}].confidence`, b.confidence),
      accuracy: optFinite(chart, `bins[${i}].accuracy`, b.accuracy),
    };
  });
  const filled = values.filter((v) => v.count !== 0 && v.accuracy !== null);
  const x = { field: 'lo', type: 'quantitative', scale: { domain: [0, 1] }, axis: percentAxis('confidence') };
  const head = title ?? 'Reliability diagram';
  return {
    ...base(`${head} — ECE ${e === null ? 'n/a' : (e * 100).toFixed(2) + '%'}`),
    vconcat: [
      {
        width: PANEL.width,
        height: PANEL.height,
        layer: [
          {
            data: { values: filled },
            mark: { type: 'rect', color: '#4e79a7', stroke: '#2b4a6f', strokeWidth: 0.5 },
            encoding: {
              x,
              x2: { field: 'hi' },
              y: {
                field: 'accuracy',
                type: 'quantitative',
                scale: { domain: [0, 1] },
                axis: percentAxis('accuracy'),
              },
              y2: { datum: 0 },
              tooltip: [
                { field: 'lo', type: 'quantitative', format: '.3f' },
                { field: 'hi', type: 'quantitative', format: '.3f' },
                { field: 'count', type: 'quantitative' },
                { field: 'accuracy', type: 'quantitative', format: '.2%' },
                { field: 'confidence', type: 'quantitative', format: '.2%' },
              ],
            },
          },
          {
            // The gap between accuracy and mean confidence (Guo et al. Fig. 1's red "Gap" bars).
            data: { values: filled },
            mark: { type: 'rect', color: '#e15759', opacity: 0.35, stroke: '#e15759', strokeWidth: 1 },
            encoding: {
              x,
              x2: { field: 'hi' },
              y: { field: 'confidence', type: 'quantitative' },
              y2: { field: 'accuracy' },
            },
          },
          {
            data: {
              values: [
                { a: 0, b: 0 },
                { a: 1, b: 1 },
              ],
            },
            mark: { type: 'line', strokeDash: [5, 4], color: '#888' },
            encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
          },
        ],
      },
      {
        width: PANEL.width,
        height: 100,
        data: { values },
        mark: { type: 'rect', color: '#999', stroke: 'white', strokeWidth: 0.5 },
        encoding: {
          x,
          x2: { field: 'hi' },
          y: { field: 'count', type: 'quantitative', title: 'samples' },
          y2: { datum: 0 },
        },
      },
    ],
  };
}

export interface EmbeddingPoint {
  x: number;
  y: number;
  label: number;
  split: 'train' | 'test';
}

/**
 * 2-D embedding (t-SNE / UMAP) of train and test features: colour by class, shape by the class's shot group,
 * training points filled and faint, test points open (S1 Fig. 1, 4).
 */
export function embeddingScatter(
  points: EmbeddingPoint[],
  classNames: string[],
  groups: ('many' | 'medium' | 'few')[],
  title?: string,
): VegaLiteSpec {
  const chart = 'embeddingScatter';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  checkLength(chart, 'groups', groups, C, 'one per class name');
  groups.forEach((g, c) => {
    if (!(GROUP_ORDER as readonly string[]).includes(g)) fail(chart, `groups[${c}] = "${g}" is not many/medium/few`);
  });
  if (!Array.isArray(points)) fail(chart, 'points must be an array');
  const values = points.map((p, i) => {
    const l = p.label;
    if (!Number.isInteger(l) || l < 0 || l >= C) fail(chart, `points[${i}].label = ${l} is not a class in [0, ${C})`);
    if (p.split !== 'train' && p.split !== 'test') fail(chart, `points[${i}].split = "${p.split}" is not train/test`);
    return {
      x: checkFinite(chart, `points[${i}].x`, p.x),
      y: checkFinite(chart, `points[${i}].y`, p.y),
      class: classNames[l],
      classIndex: l,
      group: groups[l],
      split: p.split,
    };
  });
  const { color } = classColor(classNames);
  const enc = {
    x: { field: 'x', type: 'quantitative', title: 'embedding dimension 1', axis: { labels: false } },
    y: { field: 'y', type: 'quantitative', title: 'embedding dimension 2', axis: { labels: false } },
    color,
    shape: {
      field: 'group',
      type: 'nominal',
      scale: { domain: [...GROUP_ORDER], range: GROUP_SHAPES },
      legend: { title: 'shot group' },
    },
  };
  const size = values.length > 2000 ? 12 : 30;
  return {
    ...base(title ?? 'Feature embedding (filled: train, open: test)'),
    width: PANEL.width,
    height: PANEL.width,
    data: { values },
    encoding: enc,
    layer: [
      {
        transform: [{ filter: { field: 'split', equal: 'train' } }],
        mark: { type: 'point', filled: true, opacity: 0.45, size },
      },
      {
        transform: [{ filter: { field: 'split', equal: 'test' } }],
        mark: { type: 'point', filled: false, opacity: 0.9, size, strokeWidth: 1 },
      },
    ],
  };
}

export interface TheoryPoint {
  name: string;
  x: number;
  y: number;
  kind: 'simulated' | 'bound';
  lo?: number;
  hi?: number;
}

/**
 * Monte-Carlo estimates (solid lines with points, and error bars where lo / hi are given) against the
 * paper's bounds (dashed lines), one colour per series — for S1 Theorems 1–3.
 */
export function theoryCurves(
  series: TheoryPoint[],
  opts: { xTitle: string; yTitle: string; title: string; logX?: boolean },
): VegaLiteSpec {
  const chart = 'theoryCurves';
  if (!Array.isArray(series) || series.length === 0) fail(chart, 'no points');
  // A setting (name) has one colour; its simulated points and its bound are told apart by the dash.
  const names: string[] = [];
  const values = series.map((p, i) => {
    if (typeof p.name !== 'string') fail(chart, `series[${i}].name is not a string`);
    if (p.kind !== 'simulated' && p.kind !== 'bound')
      fail(chart, `series[${i}].kind = "${p.kind}" is not simulated/bound`);
    if (!names.includes(p.name)) names.push(p.name);
    const x = checkFinite(chart, `series[${i}].x`, p.x);
    if (opts.logX && x <= 0) fail(chart, `series[${i}].x = ${x} must be positive on a log axis`);
    const lo = optFinite(chart, `series[${i}].lo`, p.lo);
    const hi = optFinite(chart, `series[${i}].hi`, p.hi);
    if ((lo === null) !== (hi === null)) fail(chart, `series[${i}] has only one of lo / hi`);
    return {
      name: p.name,
      kind: p.kind,
      line: `${p.name} · ${p.kind}`,
      x,
      y: checkFinite(chart, `series[${i}].y`, p.y),
      lo,
      hi,
    };
  });
  const x = {
    field: 'x',
    type: 'quantitative',
    title: opts.xTitle,
    scale: opts.logX ? { type: 'log', nice: false } : { zero: false },
  };
  const color = {
    field: 'name',
    type: 'nominal',
    sort: names,
    scale: { domain: names, scheme: names.length <= 10 ? 'tableau10' : 'tableau20' },
    legend: { title: null },
  };
  const y = { field: 'y', type: 'quantitative', title: opts.yTitle, scale: { zero: false } };
  const layer: Row[] = [
    {
      mark: { type: 'line' },
      encoding: {
        x,
        y,
        color,
        detail: { field: 'line', type: 'nominal' },
        order: { field: 'x', type: 'quantitative' },
        strokeDash: {
          field: 'kind',
          type: 'nominal',
          scale: {
            domain: ['simulated', 'bound'],
            range: [
              [1, 0],
              [6, 4],
            ],
          },
          legend: { title: null, symbolType: 'stroke', symbolStrokeColor: '#333', symbolSize: 300 },
        },
      },
    },
    {
      mark: { type: 'point', filled: true, size: 30 },
      transform: [{ filter: { field: 'kind', equal: 'simulated' } }],
      encoding: { x, y, color },
    },
  ];
  if (values.some((v) => v.lo !== null)) {
    layer.push({
      mark: { type: 'rule', strokeWidth: 1.5 },
      transform: [{ filter: 'datum.kind === "simulated" && datum.lo !== null' }],
      encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
    });
  }
  return {
    ...base(opts.title),
    width: PANEL.width,
    height: PANEL.height,
    data: { values },
    layer,
  };
}

/**
 * Training images per class as bars coloured by shot group (many > 100, medium 20–100, few < 20), in label
 * order; a log y axis with `logScale` (symlog when a class is empty, so it stays at 0).
 */
export function classCounts(
  counts: number[],
  classNames: string[],
  opts: { title?: string; logScale?: boolean; thresholds?: ShotThresholds } = {},
): VegaLiteSpec {
  const chart = 'classCounts';
  checkClassNames(chart, classNames);
  const C = classNames.length;
  checkLength(chart, 'counts', counts, C, 'one per class name');
  checkCounts(chart, counts, C, false);
  const t = opts.thresholds ?? DEFAULT_SHOT_THRESHOLDS;
  const values = classNames.map((n, c) => ({ class: n, count: counts[c], group: shotGroup(counts[c], t) }));
  const log = opts.logScale ? (counts.every((n) => n > 0) ? 'log' : 'symlog') : null;
  return {
    ...base(opts.title ?? 'Training images per class'),
    width: Math.max(PANEL.width, Math.min(1600, C * 14)),
    height: PANEL.height,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'class',
        type: 'ordinal',
        sort: classNames,
        scale: { domain: classNames },
        title: 'class',
        axis: C > 50 ? { labels: false, ticks: false } : { labelAngle: -45 },
      },
      y: {
        field: 'count',
        type: 'quantitative',
        title: opts.logScale ? 'training images (log)' : 'training images',
        ...(log === 'log' ? { scale: { type: 'log', domainMin: 1 } } : log ? { scale: { type: 'symlog' } } : {}),
      },
      // On a log axis the bars start at 1 image (log 0 is undefined).
      ...(log === 'log' ? { y2: { datum: 1 } } : {}),
      color: {
        field: 'group',
        type: 'nominal',
        scale: { domain: [...GROUP_ORDER], range: GROUP_COLORS },
        legend: {
          title: 'shot group',
          labelExpr: `datum.label === 'many' ? 'many (> ${t.many})' : datum.label === 'few' ? 'few (< ${t.few})' : 'medium (${t.few}–${t.many})'`,
        },
      },
      tooltip: [
        { field: 'class', type: 'nominal' },
        { field: 'count', type: 'quantitative' },
        { field: 'group', type: 'nominal' },
      ],
    },
  };
}
