// Chart builders rendered through Vega to SVG: well-formed XML, one mark per datum, titles and axis titles,
// class names in the labels, deterministic output, no data URLs, and clear errors on bad input.
// Set LTKIT_CHART_DIR=/some/dir to keep the rendered example SVGs for a look.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { renderSvg, VegaLiteSpec } from './svg';
import * as charts from './charts';

const NAMES = ['airplane', 'auto', 'bird & co', 'cat'];
const COUNTS = [500, 120, 40, 8];

/** Checks that every tag is closed in order and that no raw '&' or '<' sits in text. */
function assertWellFormed(svg: string): void {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\s*$/);
  // XML 1.0 allows no control characters but tab, newline and carriage return.
  assert.doesNotMatch(svg, /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/, 'a character XML forbids');
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(svg)) !== null) {
    const between = svg.slice(last, m.index);
    assert.ok(!/[<>]/.test(between), `stray markup before offset ${m.index}: ${between.slice(0, 80)}`);
    assert.ok(!/&(?![a-z]+;|#\d+;|#x[0-9a-f]+;)/i.test(between), `unescaped & near offset ${m.index}`);
    last = tag.lastIndex;
    if (m[4] === '/') continue;
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `closing </${m[2]}> at offset ${m.index}`);
    else stack.push(m[2]);
  }
  assert.equal(svg.slice(last).trim(), '');
  assert.deepEqual(stack, [], 'unclosed tags');
}

/** Items (paths or texts) inside the `mark-<type> role-mark` groups. */
function marks(svg: string, type: 'rect' | 'symbol' | 'line' | 'text' | 'rule'): number {
  const group = new RegExp(`<g class="mark-${type} role-mark[^"]*"[^>]*>(.*?)</g>`, 'g');
  const item = type === 'text' ? /<text\b/g : type === 'rule' ? /<line\b/g : /<path\b/g;
  let n = 0;
  for (const m of svg.matchAll(group)) n += (m[1].match(item) ?? []).length;
  return n;
}

/** The texts of one role (axis-title, axis-label, legend-label, title-text), decoded. */
function texts(svg: string, role: string): string[] {
  const out: string[] = [];
  const group = new RegExp(`<g class="mark-text role-${role}"[^>]*>(.*?)</g>`, 'g');
  for (const g of svg.matchAll(group)) {
    for (const t of g[1].matchAll(/<text\b[^>]*>(.*?)<\/text>/g)) {
      out.push(
        t[1]
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&quot;/g, '"')
          .replace(/&amp;/g, '&'),
      );
    }
  }
  return out;
}

async function render(name: string, spec: VegaLiteSpec): Promise<string> {
  assert.ok(!/"url"\s*:/.test(JSON.stringify(spec)), `${name}: no data URLs`);
  const svg = await renderSvg(spec);
  assertWellFormed(svg);
  const dir = process.env.LTKIT_CHART_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `${name}.svg`), svg);
  }
  return svg;
}

const epochs = (k: number) =>
  Array.from({ length: 6 }, (_, e) => ({
    stage: 'main',
    epoch: e + 1,
    loss: 2 * Math.exp(-e / (3 + k)),
    trainAcc: 1 - Math.exp(-e / 2),
    testTop1: e % 2 === 0 ? 0.5 + 0.05 * e : null,
  }));

test('learningCurves: two panels, one loss and one accuracy line per run and split, titles; errors', async () => {
  const svg = await render(
    'learning-curves',
    charts.learningCurves([
      { name: 'ce', epochs: epochs(0) },
      { name: 'ldam-drw', epochs: epochs(1) },
    ]),
  );
  // loss: 2 runs; accuracy: 2 runs × (train, test).
  assert.equal(marks(svg, 'line'), 2 + 4);
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['accuracy', 'epoch', 'epoch', 'loss']);
  assert.deepEqual(texts(svg, 'title-text').sort(), ['Learning curves', 'accuracy', 'training loss']);
  assert.ok(['ce', 'ldam-drw', 'train', 'test'].every((n) => texts(svg, 'legend-label').includes(n)));
  // Same input, same bytes.
  assert.equal(
    await renderSvg(charts.learningCurves([{ name: 'ce', epochs: epochs(0) }])),
    await renderSvg(charts.learningCurves([{ name: 'ce', epochs: epochs(0) }])),
  );
  assert.throws(() => charts.learningCurves([]), /learningCurves: no runs/);
  assert.throws(
    () => charts.learningCurves([{ name: 'a', epochs: [{ stage: 's', epoch: NaN, loss: 1, trainAcc: null }] }]),
    /learningCurves: run "a" epochs\[0\]\.epoch must be a finite number/,
  );
  assert.throws(
    () =>
      charts.learningCurves([
        { name: 'a', epochs: [] },
        { name: 'a', epochs: [] },
      ]),
    /run name "a" appears twice/,
  );
});

test('perClassAccuracy: one point per class with test support, log x; errors', async () => {
  const spec = charts.perClassAccuracy([
    { name: 'ce', accuracy: [0.9, 0.7, 0.4, null], trainCounts: COUNTS, classNames: NAMES },
    { name: 'mfw', accuracy: [0.88, 0.75, 0.5, 0.3], trainCounts: COUNTS, classNames: NAMES },
  ]);
  const svg = await render('per-class-accuracy', spec);
  assert.equal(marks(svg, 'symbol'), 7);
  assert.equal(marks(svg, 'line'), 2);
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['test accuracy', 'training images per class (log)']);
  assert.ok(svg.includes('bird &amp; co'), 'class names in the tooltips, escaped');
  assert.throws(
    () => charts.perClassAccuracy([{ name: 'x', accuracy: [0.5], trainCounts: COUNTS, classNames: NAMES }]),
    /perClassAccuracy: run "x" accuracy has 1 entries, expected 4/,
  );
  assert.throws(
    () =>
      charts.perClassAccuracy([{ name: 'x', accuracy: [1, 1, 1, 1], trainCounts: [1, 2, 0, 4], classNames: NAMES }]),
    /trainCounts\[2\] = 0: counts must be positive \(log axis\)/,
  );
});

test('shotGroups: one bar and one value label per non-null group; errors', async () => {
  const svg = await render(
    'shot-groups',
    charts.shotGroups([
      { name: 'ce', many: 0.9, medium: 0.6, few: null, top1: 0.7 },
      { name: 'ldam-drw', many: 0.85, medium: 0.75, few: 0.4, top1: 0.77 },
    ]),
  );
  assert.equal(marks(svg, 'rect'), 7);
  assert.equal(marks(svg, 'text'), 7);
  assert.deepEqual(texts(svg, 'axis-label').slice(0, 4), ['many', 'medium', 'few', 'overall']);
  assert.ok(texts(svg, 'text').length === 0);
  assert.ok(svg.includes('>77.0%</text>'));
  assert.throws(() => charts.shotGroups([{ name: 'a', many: Infinity, medium: 0, few: 0, top1: 0 }]), /run "a" many/);
});

test('confusionHeatmap: C×C cells with values, row-normalized or counts; errors', async () => {
  const cm = [
    [8, 1, 1, 0],
    [2, 6, 0, 0],
    [0, 0, 0, 0],
    [1, 0, 2, 3],
  ];
  const svg = await render('confusion', charts.confusionHeatmap(cm, NAMES));
  assert.equal(marks(svg, 'rect'), 12, 'the empty row is left blank');
  assert.equal(marks(svg, 'text'), 12);
  assert.ok(svg.includes('>0.80</text>'));
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['predicted class', 'true class']);
  assert.deepEqual(texts(svg, 'axis-label').slice(0, 4), NAMES);
  const raw = await render('confusion-counts', charts.confusionHeatmap(cm, NAMES, { normalize: false }));
  assert.equal(marks(raw, 'rect'), 16);
  assert.ok(texts(raw, 'title-text')[0] === 'Confusion matrix');
  assert.throws(() => charts.confusionHeatmap([[1, 2]], NAMES), /confusion has 1 entries, expected 4/);
  assert.throws(
    () =>
      charts.confusionHeatmap(
        cm.map((r) => r.slice(1)),
        NAMES,
      ),
    /confusion\[0\] has 3 entries/,
  );
  assert.throws(() => charts.confusionHeatmap(cm, ['a', 'a', 'b', 'c']), /class name "a" appears twice/);
});

test('trainingProgress and gradientNorms: one line per class per panel, class legend; gradient above 20 classes', async () => {
  const recs = [0, 1, 2, 3].map((e) => ({
    epoch: e,
    accuracy: COUNTS.map((_, c) => Math.min(1, e * 0.2 + c * 0.05)),
    ratio: COUNTS.map((_, c) => 1 + (1.5 - c) * 0.1),
  }));
  const svg = await render('training-progress', charts.trainingProgress(recs, NAMES, COUNTS));
  assert.equal(marks(svg, 'line'), 8);
  assert.equal(marks(svg, 'rule'), 1, 'the ratio = 1 rule');
  assert.deepEqual(texts(svg, 'legend-label'), NAMES);
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['classification ratio', 'epoch', 'epoch', 'training accuracy']);
  const many = Array.from({ length: 30 }, (_, c) => `c${c}`);
  const wide = await render(
    'training-progress-30',
    charts.trainingProgress(
      [{ epoch: 0, accuracy: many.map(() => 0.5), ratio: many.map(() => 1) }],
      many,
      many.map((_, c) => 500 - c * 10),
    ),
  );
  assert.equal(marks(wide, 'line'), 60);
  assert.ok(texts(wide, 'legend-title').includes('train images'));
  assert.throws(
    () => charts.trainingProgress([{ epoch: 0, accuracy: [1], ratio: [1, 1, 1, 1] }], NAMES, COUNTS),
    /trainingProgress: records\[0\]\.accuracy has 1 entries, expected 4/,
  );
  assert.throws(() => charts.trainingProgress(recs, NAMES, [1, 2]), /trainCounts has 2 entries, expected 4/);

  const g = await render(
    'gradient-norms',
    charts.gradientNorms(
      [0, 1, 2].map((e) => ({ epoch: e, perClass: [1, 2, null, 3].map((v) => (v === null ? null : v / (e + 1))) })),
      NAMES,
      'layer3',
    ),
  );
  assert.equal(marks(g, 'line'), 3, 'the class without values has no line');
  assert.ok(texts(g, 'title-text')[0].includes('layer3'));
  assert.deepEqual(texts(g, 'axis-title').sort(), ['epoch', 'mean ‖∇ feature loss‖ at layer3']);
  assert.throws(() => charts.gradientNorms([{ epoch: 0, perClass: [1] }], NAMES, 'x'), /perClass has 1 entries/);
});

test('featureDeviation: grouped bars in class-size order; errors', async () => {
  const svg = await render(
    'feature-deviation',
    charts.featureDeviation(
      [
        { name: 'ce', epoch: 200, perClass: [0.1, 0.2, 0.3, 0.4] },
        { name: 'mfw', epoch: 200, perClass: [0.1, 0.15, null, 0.2] },
      ],
      ['small', 'big', 'mid', 'tiny'],
      [20, 500, 100, 5],
    ),
  );
  assert.equal(marks(svg, 'rect'), 7);
  assert.deepEqual(texts(svg, 'axis-label').slice(0, 4), ['big', 'mid', 'small', 'tiny']);
  assert.deepEqual(texts(svg, 'legend-label'), ['ce (epoch 200)', 'mfw (epoch 200)']);
  assert.throws(
    () => charts.featureDeviation([{ name: 'a', epoch: 1, perClass: [1] }], NAMES, COUNTS),
    /rows\[0\]\.perClass has 1 entries/,
  );
});

test('reliabilityDiagram: accuracy and gap bars per non-empty bin, diagonal, count histogram, ECE in the title', async () => {
  const bins = Array.from({ length: 15 }, (_, b) => {
    const count = b < 5 ? 0 : 10 * b;
    return {
      lo: b / 15,
      hi: (b + 1) / 15,
      count,
      confidence: count ? (b + 0.5) / 15 : null,
      accuracy: count ? (b + 0.5) / 15 - 0.1 : null,
    };
  });
  const svg = await render('reliability', charts.reliabilityDiagram(bins, 0.0912, 'CE'));
  assert.equal(marks(svg, 'rect'), 10 + 10 + 15);
  assert.equal(marks(svg, 'line'), 1);
  assert.equal(texts(svg, 'title-text')[0], 'CE — ECE 9.12%');
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['accuracy', 'confidence', 'confidence', 'samples']);
  const none = await render(
    'reliability-empty',
    charts.reliabilityDiagram(
      bins.map((b) => ({ ...b, count: 0, confidence: null, accuracy: null })),
      null,
    ),
  );
  assert.equal(texts(none, 'title-text')[0], 'Reliability diagram — ECE n/a');
  assert.throws(() => charts.reliabilityDiagram([], 0), /no bins/);
  assert.throws(
    () => charts.reliabilityDiagram([{ lo: 0.5, hi: 0.4, count: 1, confidence: 0.45, accuracy: 1 }], 0),
    /bins\[0\] = \(0\.5, 0\.4\] is not a bin inside \[0, 1\]/,
  );
});

test('embeddingScatter: one symbol per point, shape by group, train filled / test open; errors', async () => {
  const pts = Array.from({ length: 24 }, (_, i) => ({
    x: Math.cos(i),
    y: Math.sin(i * 1.3),
    label: i % 4,
    split: (i % 3 === 0 ? 'test' : 'train') as 'train' | 'test',
  }));
  const groups = ['many', 'many', 'medium', 'few'] as const;
  const svg = await render('embedding', charts.embeddingScatter(pts, NAMES, [...groups], 't-SNE'));
  assert.equal(marks(svg, 'symbol'), 24);
  assert.equal(texts(svg, 'title-text')[0], 't-SNE');
  const legend = texts(svg, 'legend-label');
  assert.ok(
    [...NAMES, 'many', 'medium', 'few'].every((n) => legend.includes(n)),
    legend.join(','),
  );
  // Test points (the second layer) are drawn open: a stroke and no fill; training points are filled.
  const layer = (k: number) =>
    svg.match(new RegExp(`<g class="mark-symbol role-mark layer_${k}_marks"[^>]*>(.*?)</g>`))?.[1] ?? '';
  const train = layer(0).match(/<path [^>]*>/g) ?? [];
  const testPts = layer(1).match(/<path [^>]*>/g) ?? [];
  assert.equal(train.length, 16);
  assert.equal(testPts.length, 8);
  assert.ok(train.every((p) => /fill="#/.test(p)) && testPts.every((p) => !/fill=/.test(p) && /stroke="#/.test(p)));
  assert.throws(
    () => charts.embeddingScatter([{ x: 0, y: 0, label: 4, split: 'train' }], NAMES, [...groups]),
    /points\[0\]\.label = 4/,
  );
  assert.throws(() => charts.embeddingScatter(pts, NAMES, ['many']), /groups has 1 entries, expected 4/);
});

test('theoryCurves: simulated lines with points and error bars, dashed bounds, log x; errors', async () => {
  const xs = [1, 2, 4, 8, 16];
  const series = [
    ...xs.map((x) => ({
      name: 'simulated',
      x,
      y: 0.5 / Math.sqrt(x),
      kind: 'simulated' as const,
      lo: 0.45 / Math.sqrt(x),
      hi: 0.55 / Math.sqrt(x),
    })),
    ...xs.map((x) => ({ name: 'Theorem 1', x, y: 0.6 / Math.sqrt(x), kind: 'bound' as const })),
  ];
  const svg = await render(
    'theory',
    charts.theoryCurves(series, { xTitle: 'ρ', yTitle: 'error', title: 'Theorem 1', logX: true }),
  );
  assert.equal(marks(svg, 'line'), 2);
  assert.equal(marks(svg, 'symbol'), 5);
  assert.equal(marks(svg, 'rule'), 5);
  assert.ok(/stroke-dasharray="6,4"/.test(svg), 'the bound is dashed');
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['error', 'ρ']);
  assert.equal(texts(svg, 'title-text')[0], 'Theorem 1');
  const o = { xTitle: 'x', yTitle: 'y', title: 't', logX: true };
  assert.throws(
    () => charts.theoryCurves([{ name: 'a', x: 0, y: 1, kind: 'bound' }], o),
    /must be positive on a log axis/,
  );
  assert.throws(
    () => charts.theoryCurves([{ name: 'a', x: 1, y: 1, kind: 'simulated', lo: 0 }], o),
    /only one of lo \/ hi/,
  );
});

test('classCounts: one bar per class coloured by shot group, names escaped; errors', async () => {
  const svg = await render('class-counts', charts.classCounts(COUNTS, NAMES, { title: 'A & B <LT>', logScale: true }));
  assert.equal(marks(svg, 'rect'), 4);
  // Bar heights (the v of each rect path) decrease with the count, none empty, on the log axis.
  const heights = [...svg.matchAll(/aria-roledescription="bar" d="M[^h]*h[^v]*v([\d.]+)/g)].map((m) => Number(m[1]));
  assert.equal(heights.length, 4);
  assert.ok(
    heights.every((h, i) => h > 0 && (i === 0 || h < heights[i - 1])),
    heights.join(','),
  );
  assert.equal(texts(svg, 'title-text')[0], 'A & B <LT>');
  assert.deepEqual(texts(svg, 'axis-label').slice(0, 4), NAMES);
  assert.deepEqual(texts(svg, 'axis-title').sort(), ['class', 'training images (log)']);
  for (const color of ['#4e79a7', '#f28e2b', '#e15759']) assert.ok(svg.includes(`fill="${color}"`), color);
  assert.throws(() => charts.classCounts([1, 2], NAMES), /classCounts: counts has 2 entries, expected 4/);
  assert.throws(() => charts.classCounts([1, 2, -1, 3], NAMES), /counts must be non-negative/);
});
