// Tests for the command line (cli/main.ts): help on every command, exit codes (0 ok, 1 failure,
// 2 usage/config error), config errors naming dotted keys, `eval` and `predict` on a trained synthetic
// run, `list`, and `data inspect` (counts + SVG). Most run in-process; a few spawn bin/ltkit.js.
import { runCli } from './test-util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { PNG } from 'pngjs';
import { DATASETS } from '../train/config';
import { components } from '../methods';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-cli-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'bin', 'ltkit.js'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

/** Runs the CLI in-process with stdout and stderr captured. */
const cli = (...argv: string[]) => runCli(argv);

/** Spawns `node bin/ltkit.js ...` (a real process: exit code from process.exit). */
function spawnCli(args: string[], cwd = TMP): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'ltkit.js'), ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const OPTIONS: Record<string, string[]> = {
  train: ['--config', '--set', '--name', '--resume', '--overwrite', '--print-config', '--json'],
  eval: ['--run', '--checkpoint', '--data', '--root', '--json'],
  predict: ['--run', '--checkpoint', '--top', '--max-pixels', '--json'],
  list: [],
  data: ['--root', '--rho', '--imb', '--svg', '--img-max'],
  quickstart: ['--method', '--epochs', '--model', '--out', '--seed'],
  pretrain: ['--method', '--config', '--set', '--name', '--resume', '--overwrite', '--print-config', '--json'],
  'pseudo-label': ['--run', '--threshold', '--checkpoint', '--out', '--json'],
  'self-train': ['--config', '--set', '--name', '--base-recipe', '--rounds', '--threshold', '--json'],
  report: ['--out', '--title'],
  sweep: ['--jobs', '--dry-run', '--out', '--set', '--no-report', '--json'],
  embed: ['--run', '--method', '--seed', '--points', '--perplexity', '--neighbors', '--iterations', '--checkpoint'],
  theory: ['--which', '--trials', '--seed', '--out', '--json'],
  export: ['--run', '--format', '--out', '--checkpoint', '--opset', '--verify', '--tolerance', '--json'],
};

test('--help on every command exits 0 and mentions its options; top-level help lists the commands', async () => {
  for (const [cmd, opts] of Object.entries(OPTIONS)) {
    for (const flag of ['--help', '-h']) {
      const r = await cli(cmd, flag);
      assert.equal(r.code, 0, `${cmd} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^ltkit ${cmd} — `));
      assert.match(r.stdout, /usage: ltkit /);
      for (const o of opts) assert.ok(r.stdout.includes(o), `ltkit ${cmd} --help lacks ${o}:\n${r.stdout}`);
    }
  }
  // --help wins over other (even invalid) arguments.
  assert.equal((await cli('train', '--set', 'x', '--help')).code, 0);
  for (const argv of [[], ['--help'], ['-h'], ['help']]) {
    const r = await cli(...argv);
    assert.equal(r.code, 0);
    for (const c of Object.keys(OPTIONS)) assert.ok(r.stdout.includes(`  ${c}`), `top-level help lists ${c}`);
  }
  const v = await cli('--version');
  assert.equal(v.code, 0);
  assert.equal(v.stdout.trim(), JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')).version);
});

test('unknown command exits 2; unknown option and missing values exit 2 with the options listed', async () => {
  const r = await cli('trian');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown command 'trian'/);
  assert.match(r.stderr, /commands:/);
  const o = await cli('train', '--epochs', '3');
  assert.equal(o.code, 2);
  assert.match(o.stderr, /unknown option --epochs/);
  assert.match(o.stderr, /--set/);
  const m = await cli('train', '--set');
  assert.equal(m.code, 2);
  assert.match(m.stderr, /--set needs a value/);
  const n = await cli('predict', '--run', TMP, '--top', 'many', 'x.png');
  assert.equal(n.code, 2);
  assert.match(n.stderr, /--top expects a number/);
  assert.equal((await cli('eval')).code, 2, 'eval without --run');
  assert.equal((await cli('data', 'frobnicate')).code, 2);
  // The real binary maps the code to the process exit status.
  assert.equal(spawnCli(['nope']).code, 2);
  assert.equal(spawnCli(['list', '--help']).code, 0);
});

test('train: config errors exit 2 naming the dotted key and the allowed values', async () => {
  const base = ['train', '--set', `outDir=${TMP}`];
  const ds = await cli(...base, '--set', 'data.dataset=foo');
  assert.equal(ds.code, 2);
  assert.match(ds.stderr, /data\.dataset/);
  for (const d of DATASETS) assert.ok(ds.stderr.includes(d), `lists ${d}`);
  const ep = await cli(...base, '--set', 'train.epochs=-1');
  assert.equal(ep.code, 2);
  assert.match(ep.stderr, /train\.epochs: .*greater than 0/);
  const uk = await cli(...base, '--set', 'train.epoch=3');
  assert.equal(uk.code, 2);
  assert.match(uk.stderr, /unknown key train\.epoch\b.*epochs/);
  const rc = await cli(
    ...base,
    '--set',
    'data.dataset=synthetic',
    '--set',
    'method.recipe=reweight+drw',
    '--name',
    'never',
  );
  assert.equal(rc.code, 2);
  assert.match(rc.stderr, /'reweight' and 'drw' both fill the 'classWeights' slot/);
  const un = await cli(
    ...base,
    '--set',
    'data.dataset=synthetic',
    '--set',
    'method.recipe=ce+magic',
    '--name',
    'never2',
  );
  assert.equal(un.code, 2);
  for (const c of components()) assert.ok(un.stderr.includes(c.name));
  const kv = await cli(...base, '--set', 'train.epochs');
  assert.equal(kv.code, 2);
  assert.match(kv.stderr, /expected key=value/);
  const cf = await cli('train', '--config', path.join(TMP, 'missing.yaml'));
  assert.equal(cf.code, 2);
  assert.match(cf.stderr, /does not exist/);
  const nr = await cli(...base, '--resume');
  assert.equal(nr.code, 2);
  assert.match(nr.stderr, /--resume needs --name/);
});

test('train --print-config: presets, files and --set (both forms) resolve', async () => {
  const r = await cli(
    'train',
    '--config',
    'cifar10-lt-step50-mfw+drw',
    '--set',
    'train.epochs=30',
    '--set=method.mfw.alpha=2',
    '--name',
    'x',
    '--print-config',
  );
  assert.equal(r.code, 0, r.stderr);
  const cfg = JSON.parse(r.stdout);
  assert.equal(cfg.data.dataset, 'cifar10-lt');
  assert.equal(cfg.data.imbType, 'step');
  assert.equal(cfg.data.rho, 50);
  assert.equal(cfg.method.recipe, 'mfw+drw');
  assert.equal(cfg.method.mfw.alpha, 2);
  assert.equal(cfg.train.epochs, 30);
  assert.equal(cfg.name, 'x');
  assert.equal(cfg.optim.lr, 0.1);
  const file = path.join(TMP, 'my.yaml');
  fs.writeFileSync(file, 'data:\n  dataset: synthetic\ntrain:\n  epochs: 3\n');
  const f = await cli('train', '--config', file, '--set', 'train.epochs=4', '--print-config');
  assert.equal(f.code, 0, f.stderr);
  assert.equal(JSON.parse(f.stdout).train.epochs, 4, '--set overrides the file');
  assert.equal(JSON.parse(f.stdout).data.dataset, 'synthetic');
  const bad = path.join(TMP, 'bad.yaml');
  fs.writeFileSync(bad, 'train:\n  epoch: 3\n');
  const b = await cli('train', '--config', bad);
  assert.equal(b.code, 2);
  assert.ok(b.stderr.includes(`${bad}: unknown key train.epoch`), b.stderr);
});

/** Writes an RGB(A) or gray PNG of w×h with a deterministic pattern. */
function writePng(file: string, w: number, h: number, colorType: 0 | 2 | 6): void {
  const png = new PNG({ width: w, height: h, colorType, inputColorType: 6, inputHasAlpha: true });
  for (let i = 0; i < w * h; i++) {
    png.data[4 * i] = (i * 37) % 256;
    png.data[4 * i + 1] = (i * 91) % 256;
    png.data[4 * i + 2] = (i * 13) % 256;
    png.data[4 * i + 3] = 255;
  }
  fs.writeFileSync(file, PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true }));
}

test('eval and predict on a trained synthetic run', async () => {
  const t = await cli(
    'train',
    ...[
      'data.dataset=synthetic',
      'data.synthetic.size=8',
      'data.synthetic.numClasses=4',
      'data.synthetic.testPerClass=4',
      'model.name=resnet8',
      'train.epochs=2',
      'train.batchSize=16',
      'train.maxStepsPerEpoch=2',
      'train.progress=off',
      'method.recipe=ldam+drw',
      `outDir=${TMP}`,
    ].flatMap((s) => ['--set', s]),
    '--name',
    'trained',
  );
  assert.equal(t.code, 0, t.stderr);
  const run = path.join(TMP, 'trained');

  const e = await cli('eval', '--run', run);
  assert.equal(e.code, 0, e.stderr);
  assert.match(e.stdout, /^model: final model: 'train'\n/);
  assert.match(e.stdout, /top-1 \d+\.\d+%.*balanced.*few/);
  const ej = await cli('eval', '--run', run, '--checkpoint', 'final', '--json');
  assert.equal(ej.code, 0, ej.stderr);
  const s = JSON.parse(ej.stdout).summary;
  assert.equal(s.numSamples, 16);
  assert.equal(s.numClasses, 4);
  assert.ok(s.top1 >= 0 && s.top1 <= 1);
  // Evaluating the final model reproduces the last epoch's test metrics in metrics.jsonl.
  const lines = fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'epoch');
  assert.deepEqual(s.confusion, lines[lines.length - 1].test.confusion);
  // The best epoch's weights, and what they are.
  const eb = await cli('eval', '--run', run, '--checkpoint', 'best', '--json');
  assert.equal(eb.code, 0, eb.stderr);
  const best = JSON.parse(eb.stdout);
  assert.match(best.model, /^best epoch \d of 'train'$/);
  const bestEpoch = Number(/best epoch (\d)/.exec(best.model)?.[1]) - 1;
  assert.deepEqual(best.summary.confusion, lines[bestEpoch].test.confusion, 'best = that epoch');
  const missing = await cli('eval', '--run', run, '--checkpoint', 'nope');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /--checkpoint must be 'final' or 'best', got 'nope'/);
  const notRun = await cli('eval', '--run', TMP);
  assert.equal(notRun.code, 1);
  assert.match(notRun.stderr, /not an ltkit run directory/);

  const rgb = path.join(TMP, 'img.png');
  const rgba = path.join(TMP, 'big-rgba.png');
  const gray = path.join(TMP, 'gray.png');
  writePng(rgb, 8, 8, 2);
  writePng(rgba, 20, 13, 6);
  writePng(gray, 5, 9, 0);
  const p = await cli('predict', '--run', run, rgb, '--json');
  assert.equal(p.code, 0, p.stderr);
  assert.match(JSON.parse(p.stdout).model, /^final model: 'train'$/);
  const preds = JSON.parse(p.stdout).predictions;
  assert.equal(preds.length, 1);
  assert.equal(preds[0].file, rgb);
  assert.equal(preds[0].top.length, 1);
  const top = preds[0].top[0];
  assert.ok(Number.isInteger(top.classIndex) && top.classIndex >= 0 && top.classIndex < 4);
  assert.equal(top.className, `class${top.classIndex}`);
  assert.ok(top.probability > 0 && top.probability <= 1);

  const p3 = await cli('predict', '--run', run, '--top', '3', '--checkpoint', 'best', '--json', rgb, rgba, gray);
  assert.equal(p3.code, 0, p3.stderr);
  const all = JSON.parse(p3.stdout).predictions;
  assert.deepEqual(
    all.map((r: { file: string }) => r.file),
    [rgb, rgba, gray],
  );
  for (const r of all) {
    assert.equal(r.top.length, 3);
    const probs = r.top.map((x: { probability: number }) => x.probability);
    for (let i = 1; i < 3; i++) assert.ok(probs[i] <= probs[i - 1], 'sorted by probability');
    assert.ok(probs.reduce((a: number, b: number) => a + b, 0) <= 1 + 1e-6);
    assert.equal(new Set(r.top.map((x: { classIndex: number }) => x.classIndex)).size, 3);
  }
  // --top beyond the class count is clamped.
  const p9 = await cli('predict', '--run', run, '--top', '9', '--json', rgb);
  assert.equal(JSON.parse(p9.stdout).predictions[0].top.length, 4);
  const txt = await cli('predict', '--run', run, rgb);
  assert.equal(txt.code, 0);
  assert.match(txt.stdout, /img\.png: class\d \(\d+\.\d%\)/);
  assert.equal((await cli('predict', '--run', run)).code, 2, 'no image given');
  // An unreadable file is reported; the others are still classified (exit code 1).
  const bad = await cli('predict', '--run', run, path.join(TMP, 'nothere.png'), rgb);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /nothere\.png: error: /);
  assert.match(bad.stdout, /img\.png: class\d \(\d+\.\d%\)/);

  // The pixel limit: a flag, or the environment setting.
  const small = await cli('predict', '--run', run, '--max-pixels', '100', rgba, rgb);
  assert.equal(small.code, 1);
  assert.match(small.stderr, /big-rgba\.png: error: .*20×13 pixels exceeds the limit of 100 pixels/);
  assert.match(small.stdout, /img\.png: class\d/);
  process.env.LTKIT_MAX_IMAGE_PIXELS = '63';
  try {
    assert.equal((await cli('predict', '--run', run, rgb)).code, 1, '8×8 = 64 pixels > 63');
  } finally {
    delete process.env.LTKIT_MAX_IMAGE_PIXELS;
  }

  // The same through a spawned binary.
  const sp = spawnCli(['predict', '--run', run, rgb, '--json']);
  assert.equal(sp.code, 0, sp.stderr);
  assert.deepEqual(JSON.parse(sp.stdout).predictions[0].top[0].classIndex, top.classIndex);
});

test('list shows models, losses, methods, datasets, rules and presets', async () => {
  const r = await cli('list');
  assert.equal(r.code, 0, r.stderr);
  for (const section of ['models:', 'datasets:', 'losses:', 'rules:', 'methods:', 'presets:'])
    assert.ok(r.stdout.includes(section), section);
  for (const m of ['resnet8', 'resnet32']) assert.match(r.stdout, new RegExp(`\\n  ${m} `));
  for (const l of ['ce', 'focal', 'ldam', 'balanced-softmax', 'logit-adjusted'])
    assert.match(r.stdout, new RegExp(`\\n  ${l} `));
  for (const c of components()) assert.ok(r.stdout.includes(`  ${c.name}`), `lists ${c.name}`);
  for (const d of DATASETS) assert.ok(r.stdout.includes(d));
  assert.ok(r.stdout.includes('cifar10-lt-exp100-ldam+drw'));
  const only = await cli('list', 'losses');
  assert.equal(only.code, 0);
  assert.match(only.stdout, /^losses:/);
  assert.ok(!only.stdout.includes('models:'));
  const bad = await cli('list', 'widgets');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /unknown section 'widgets'/);
});

test('data inspect cifar10-lt --rho 100 prints 12,406 images and writes an SVG', async () => {
  const svg = path.join(TMP, 'c10.svg');
  const r = await cli('data', 'inspect', 'cifar10-lt', '--rho', '100', '--svg', svg);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\b12406 images\b/);
  for (const n of [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50])
    assert.match(r.stdout, new RegExp(`\\s${n}\\s`));
  assert.match(fs.readFileSync(svg, 'utf8'), /<svg[\s\S]*<\/svg>\s*$/);
  for (const [ds, rho, total] of [
    ['cifar10-lt', '50', 13996],
    ['cifar10-lt', '10', 20431],
    ['cifar100-lt', '100', 10847],
    ['svhn-lt', '100', 2478],
  ] as const) {
    const x = await cli('data', 'inspect', ds, '--rho', rho, '--svg', path.join(TMP, `${ds}-${rho}.svg`));
    assert.equal(x.code, 0, x.stderr);
    assert.match(x.stdout, new RegExp(`\\b${total} images\\b`), `${ds} rho=${rho}`);
  }
  // Default chart path, in the working directory of a spawned binary.
  const cwd = fs.mkdtempSync(path.join(TMP, 'inspect-'));
  const sp = spawnCli(['data', 'inspect', 'cifar10-lt', '--rho', '100'], cwd);
  assert.equal(sp.code, 0, sp.stderr);
  assert.match(sp.stdout, /12406/);
  const svgs = fs.readdirSync(cwd).filter((f) => f.endsWith('.svg'));
  assert.equal(svgs.length, 1);
  assert.ok(sp.stdout.includes(svgs[0]));
  assert.equal((await cli('data', 'inspect', 'imagenet-lt', '--svg', path.join(TMP, 'x.svg'))).code, 1);
  assert.equal((await cli('data', 'inspect')).code, 2);
});

test('pseudo-label and self-train through the CLI', async () => {
  const base = [
    'data.dataset=synthetic',
    'data.synthetic.size=8',
    'data.synthetic.imgMax=24',
    'model.name=resnet8',
    'train.batchSize=8',
    'train.epochs=1',
    'train.progress=off',
    'schedule.warmupEpochs=1',
    `outDir=${TMP}`,
  ].flatMap((x) => ['--set', x]);
  // A run without a pool cannot be pseudo-labelled; the error says how to get one.
  assert.equal((await cli('train', ...base, '--name', 'nopool')).code, 0);
  const none = await cli('pseudo-label', '--run', path.join(TMP, 'nopool'));
  assert.equal(none.code, 2);
  assert.match(none.stderr, /has no unlabeled pool: train the base run with data\.unlabeled set/);
  assert.equal((await cli('pseudo-label')).code, 2, 'no --run');

  assert.equal((await cli('train', ...base, '--set', 'data.unlabeled.k=2', '--name', 'withpool')).code, 0);
  const r = await cli('pseudo-label', '--run', path.join(TMP, 'withpool'), '--threshold', '0.5');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /pool: \d+ images; kept \d+ with confidence ≥ 0\.5/);
  assert.match(r.stdout, /accuracy against the pool's true labels \(\d+ relevant images\): [\d.]+% overall/);
  const j = await cli('pseudo-label', '--run', path.join(TMP, 'withpool'), '--json');
  const summary = JSON.parse(j.stdout);
  assert.equal(summary.threshold, 0);
  assert.equal(summary.labels, undefined, 'the JSON summary leaves out the per-image arrays');
  assert.ok(fs.existsSync(path.join(TMP, 'withpool', 'pseudo-labels.json')));
  assert.equal((await cli('pseudo-label', '--run', path.join(TMP, 'withpool'), '--threshold', '2')).code, 2);

  const st = await cli('self-train', ...base, '--set', 'data.unlabeled.k=2', '--name', 'chain', '--base-recipe', 'ce');
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /self-training: .*chain \(completed\)/);
  assert.match(st.stdout, /round1: pseudo-labels .*base\/pseudo-labels\.json \(accuracy [\d.]+%\)/);
  const noName = await cli('self-train', ...base, '--set', 'data.unlabeled.k=2');
  assert.equal(noName.code, 2);
  const noPool = await cli('self-train', ...base, '--name', 'chain2');
  assert.equal(noPool.code, 2);
  assert.match(noPool.stderr, /self-training needs data\.unlabeled/);
});
