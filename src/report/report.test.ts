// Tests for `ltkit report` (report.ts): three tiny real runs (two seeds of one recipe, one of another) plus
// analysis records and an embedding written from their schemas; the comparison table groups the seeds; the
// HTML holds the table and the figures, and renders in headless Chromium with every table cell and SVG
// figure laid out (a screenshot is saved); a malformed file is an error naming it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { train } from '../train/trainer';
import { runCli } from '../cli/test-util';
import { writeReport } from './report';
import { loadRuns } from './run-data';
import { buildComparison } from './comparison';
import { ANALYSIS_FILE, embeddingFile } from '../analysis/records';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-report-'));
// The screenshot outlives the test (its path is printed); the runs do not.
const SHOTS = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-report-shot-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

const OUT = path.join(TMP, 'runs');

function config(recipe: string, seed: number) {
  return {
    name: `grid/${recipe.replace(/\+/g, '_')}-s${seed}`,
    outDir: OUT,
    seed,
    data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 } },
    model: { name: 'resnet8' },
    method: { recipe },
    schedule: { warmupEpochs: 1 },
    train: { epochs: 2, batchSize: 8, maxStepsPerEpoch: 1, progress: 'off' as const },
  };
}

let built: Promise<void> | null = null;
/** The three runs, trained once for all tests. */
function runs(): Promise<void> {
  built ??= (async () => {
    for (const [recipe, seed] of [
      ['ce', 0],
      ['ce', 1],
      ['ldam+drw', 0],
    ] as const) {
      const r = await train(config(recipe, seed));
      assert.equal(r.status, 'completed');
    }
    // The S2 analyses and an embedding, as the analysis hooks write them.
    const dir = path.join(OUT, 'grid', 'ce-s0');
    const pc = [0.5, null, 0.25, 1];
    const lines = [0, 1].flatMap((epoch) => [
      { type: 'progress', stage: 'train', epoch, accuracy: pc, ratio: [1, 0.5, null, 2], seconds: 0.1 },
      { type: 'gradNorm', stage: 'train', epoch, at: 'layer1', perClass: [0.1, 0.2, 0.3, 0.4], seconds: 0.1 },
      { type: 'deviation', stage: 'train', epoch, K: 2, R: 10, perClass: [0.1, 0.2, 0.3, null], seconds: 0.1 },
    ]);
    fs.writeFileSync(path.join(dir, ANALYSIS_FILE), lines.map((l) => JSON.stringify(l) + '\n').join(''));
    const points = Array.from({ length: 16 }, (_, i) => ({
      x: Math.cos(i),
      y: Math.sin(i),
      label: i % 4,
      split: i % 2 ? 'test' : 'train',
    }));
    fs.writeFileSync(
      path.join(dir, embeddingFile('tsne')),
      JSON.stringify({
        method: 'tsne',
        seed: 0,
        options: { perplexity: 5 },
        classNames: ['a', 'b', 'c', 'd'],
        groups: ['few', 'few', 'few', 'few'],
        points,
      }),
    );
  })();
  return built;
}

test('the comparison groups runs that differ only in seed; rows are recipes, cells mean ± std', async () => {
  await runs();
  const { runs: loaded } = loadRuns([OUT]);
  assert.deepEqual(
    loaded.map((r) => r.name),
    ['ce-s0', 'ce-s1', 'ldam_drw-s0'],
  );
  const t = buildComparison(loaded);
  assert.equal(t.columns.length, 1);
  assert.equal(t.columns[0].label, 'synthetic ρ=100 exp');
  assert.deepEqual(
    t.rows.map((r) => r.label),
    ['ce', 'ldam+drw'],
  );
  const ce = t.rows[0].cells.get(t.columns[0].key);
  assert.deepEqual(ce?.runs, ['ce-s0', 'ce-s1']);
  const top1 = loaded.slice(0, 2).map((r) => r.final?.final?.top1 as number);
  const s = ce?.values.final.top1;
  assert.equal(s?.n, 2);
  assert.ok(Math.abs((s?.mean as number) - (top1[0] + top1[1]) / 2) < 1e-12);
  assert.ok(Math.abs((s?.std as number) - Math.abs(top1[0] - top1[1]) / Math.SQRT2) < 1e-12);
  assert.equal(t.rows[1].cells.get(t.columns[0].key)?.values.best.top1.n, 1);
});

test('report: HTML with the table and figures, Markdown and CSV beside it; renders in headless Chromium', async () => {
  await runs();
  const files = await writeReport([OUT], { title: 'tiny runs' });
  assert.equal(files.html, path.join(OUT, 'report.html'));
  const html = fs.readFileSync(files.html, 'utf8');
  assert.match(html, /<title>tiny runs<\/title>/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'self-contained: no script, nothing fetched');
  assert.match(html, /<table class="data comparison">/);
  assert.doesNotMatch(html, /could not be drawn/);
  const svgs = html.match(/<svg/g)?.length ?? 0;
  // Comparison: shot groups, learning curves, per-class accuracy; per run: curves, per-class, shots,
  // confusion (+ reliability when calibrated); ce-s0 also progress, gradient norms, deviation, t-SNE.
  assert.ok(svgs >= 3 + 3 * 4 + 4, `${svgs} figures`);
  const md = fs.readFileSync(files.markdown, 'utf8');
  assert.match(md, /\| ce \| \d+\.\d\d ± \d+\.\d\d \|/);
  assert.match(md, /\| ldam\+drw \| \d+\.\d\d \|/);
  const csv = fs.readFileSync(files.csv, 'utf8').trim().split('\n');
  assert.equal(csv.length, 3);
  assert.match(csv[0], /^method,recipe,dataset,rho,imbType,n,final_top1_mean,final_top1_std,/);
  assert.match(csv[1], /^ce,ce,synthetic,100,exp,2,/);

  // One run: its own report, beside it.
  const one = await writeReport([path.join(OUT, 'grid', 'ce-s0')], {});
  assert.equal(one.html, path.join(OUT, 'grid', 'ce-s0', 'report.html'));
  assert.match(fs.readFileSync(one.html, 'utf8'), /t-SNE/);

  const chromium = '/usr/bin/chromium';
  if (!fs.existsSync(chromium)) {
    if (process.env.CI) assert.fail(`${chromium} is missing (needed to render the report in CI)`);
    console.log(`# skipped the browser check: ${chromium} is missing`);
    return;
  }
  const puppeteer = await import('puppeteer-core');
  const browser = await puppeteer.launch({ executablePath: chromium, args: ['--no-sandbox', '--headless=new'] });
  try {
    const p = await browser.newPage();
    await p.setViewport({ width: 1280, height: 900 });
    await p.goto('file://' + files.html, { waitUntil: 'load' });
    // The page's DOM, typed loosely (this project compiles without the DOM library).
    const dom = await p.evaluate(() => {
      const d = (globalThis as any).document;
      const size = (e: any) => {
        const r = e.getBoundingClientRect();
        return [r.width, r.height];
      };
      const tables = [...d.querySelectorAll('table.comparison')];
      return {
        tables: tables.map((t: any) =>
          [...t.querySelectorAll('tbody tr')].map((tr: any) =>
            [...tr.children].map((c: any) => ({ text: c.textContent.trim(), size: size(c) })),
          ),
        ),
        svgs: [...d.querySelectorAll('figure svg')].map(size),
        sections: d.querySelectorAll('section.run').length,
      };
    });
    assert.equal(dom.tables.length, 2, 'final and best tables');
    for (const rows of dom.tables) {
      assert.deepEqual(
        rows.map((r: { text: string }[]) => r[0].text),
        ['ce', 'ldam+drw'],
      );
      for (const r of rows) {
        assert.equal(r.length, 5, 'method + top-1, many, medium, few');
        for (const c of r) assert.ok(c.size[0] > 0 && c.size[1] > 0, `cell ${c.text} has no size`);
      }
      assert.match(rows[0][1].text, /^\d+\.\d\d ± \d+\.\d\d$/);
    }
    assert.equal(dom.sections, 3);
    assert.equal(dom.svgs.length, svgs);
    for (const [w, h] of dom.svgs) assert.ok(w > 20 && h > 20, `an SVG figure is ${w}×${h}`);
    const shot = path.join(SHOTS, 'report.png');
    await p.screenshot({ path: shot as `${string}.png`, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10_000);
    console.log(`# report screenshot: ${shot}`);
  } finally {
    await browser.close();
  }
});

test('ltkit report: prints the HTML path; a malformed file is an error naming it', async () => {
  await runs();
  const out = path.join(TMP, 'out', 'r.html');
  const r = await runCli(['report', path.join(OUT, 'grid'), '--out', out, '--title', 'T']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), out);
  assert.ok(fs.existsSync(path.join(TMP, 'out', 'r.md')) && fs.existsSync(path.join(TMP, 'out', 'r.csv')));
  const bad = path.join(OUT, 'grid', 'ldam_drw-s0', ANALYSIS_FILE);
  fs.writeFileSync(bad, '{"type":"progress","stage":"train","epoch":0}\n');
  await assert.rejects(writeReport([OUT], {}), (e: Error) => e.message.startsWith(`${bad}:1: `));
  fs.rmSync(bad);
  const emb = path.join(OUT, 'grid', 'ldam_drw-s0', embeddingFile('umap'));
  fs.writeFileSync(emb, '{"method":"umap"');
  await assert.rejects(writeReport([OUT], {}), (e: Error) => e.message.startsWith(`${emb}: not valid JSON`));
  fs.rmSync(emb);
  await assert.rejects(writeReport([path.join(TMP, 'nothing')], {}), /no such file or folder/);
});
