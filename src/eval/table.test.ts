// Tests for table.ts: headers, metric rows, per-class rows with train counts, percentages, Markdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClassificationMeter } from './metrics';
import { compareRuns, pct, renderMarkdownTable, renderTextTable } from './table';

function summaryOf(preds: number[], targets: number[]) {
  const m = new ClassificationMeter(3, { trainCounts: [500, 50, 5] });
  m.updatePredictions(preds, targets);
  return m.summary();
}
const T = [0, 0, 0, 1, 1, 2];
const A = summaryOf([0, 0, 1, 1, 0, 1], T); // top-1 50%, per class 66.67 / 50 / 0
const B = summaryOf([0, 0, 0, 1, 1, 2], T); // perfect

test('pct: 2 decimals, null as a dash', () => {
  assert.equal(pct(2 / 3), '66.67');
  assert.equal(pct(1), '100.00');
  assert.equal(pct(0), '0.00');
  assert.equal(pct(null), '—');
});

test('text table: headers, metric rows, per-class rows with train counts, fixed width', () => {
  const text = renderTextTable(
    [
      { name: 'CE', summary: A },
      { name: 'LDAM-DRW', summary: B },
    ],
    { classNames: ['airplane', 'car', 'bird'] },
  );
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0], /^metric\s+train n\s+CE\s+LDAM-DRW$/);
  assert.match(lines[1], /^-+ {2}-+/);
  const row = (label: string) => {
    const l = lines.find((x) => x.startsWith(label + ' '));
    assert.ok(l, `row ${label} in\n${text}`);
    return l.trim().split(/\s{2,}/);
  };
  assert.deepEqual(row('top-1'), ['top-1', '50.00', '100.00']);
  assert.deepEqual(row('balanced acc'), ['balanced acc', '38.89', '100.00']);
  assert.deepEqual(row('many-shot'), ['many-shot', '1 cls', '66.67', '100.00']);
  assert.deepEqual(row('medium-shot'), ['medium-shot', '1 cls', '50.00', '100.00']);
  assert.deepEqual(row('few-shot'), ['few-shot', '1 cls', '0.00', '100.00']);
  assert.deepEqual(row('macro-F1'), ['macro-F1', '35.56', '100.00']);
  assert.deepEqual(row('airplane'), ['airplane', '500', '66.67', '100.00']);
  assert.deepEqual(row('car'), ['car', '50', '50.00', '100.00']);
  assert.deepEqual(row('bird'), ['bird', '5', '0.00', '100.00']);
  assert.ok(!text.includes('top-5'), 'no top-5 row when no run has it');
  // every data column is right-aligned to the same end column
  const ends = lines.filter((l) => !l.startsWith('-')).map((l) => l.length);
  assert.equal(new Set(ends).size, 1, text);
});

test('markdown table and compareRuns with a record', () => {
  const { markdown, text } = compareRuns({ CE: A, MFW: B });
  const lines = markdown.trimEnd().split('\n');
  assert.equal(lines[0], '| metric | train n | CE | MFW |');
  assert.equal(lines[1], '| --- | ---: | ---: | ---: |');
  assert.ok(lines.includes('| top-1 |  | 50.00 | 100.00 |'), markdown);
  assert.ok(lines.includes('| class 0 | 500 | 66.67 | 100.00 |'), markdown);
  assert.ok(lines.includes('| few-shot | 1 cls | 0.00 | 100.00 |'), markdown);
  assert.ok(text.includes('class 2'));
  assert.throws(() => renderTextTable([]), RangeError);
});

test('missing values render as a dash (no train counts, shot groups null)', () => {
  const m = new ClassificationMeter(2);
  m.updatePredictions([0], [0]);
  const md = renderMarkdownTable([{ name: 'x', summary: m.summary() }]);
  assert.ok(md.includes('| many-shot |  | — |'), md);
  assert.ok(md.includes('| class 1 |  | — |'), md);
});
