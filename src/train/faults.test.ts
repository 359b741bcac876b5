// Fault injection (util/fault.ts): a training run (`ce+crt`: a main stage and an extra one) is killed with
// SIGKILL at every write point a run has — each file of a checkpoint, the checkpoint folder's sync and
// rename, the manifest's commit, every atomic file, a metrics line appended or torn — then resumed through
// the CLI; the resumed run must end with the same final weights, best weights and metrics as a run that was
// never killed. Then randomized kills (seeded times), resumed until done. Every point must be reached
// (a kill must happen), so a write point that disappears from the code fails here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import { FAULT_POINTS } from '../util/fault';
import { Rng } from '../util/rng';
import { runCli } from '../cli/test-util';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-faults-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'bin', 'ltkit.js'))) dir = path.dirname(dir);
  return dir;
})();

const SETS = [
  'data.dataset=synthetic',
  'data.synthetic.size=8',
  'data.synthetic.testPerClass=2',
  'model.name=resnet8',
  'train.epochs=3',
  'train.batchSize=8',
  'train.maxStepsPerEpoch=1',
  'train.progress=off',
  'schedule.warmupEpochs=1',
  'method.recipe=mfw+drw+crt',
  'method.crt.epochs=2',
  `outDir=${OUT}`,
].flatMap((s) => ['--set', s]);

/** Runs the CLI in a child process; resolves with its exit code or signal and output. */
function child(
  args: string[],
  env: Record<string, string> = {},
  killAfterMs?: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [path.join(ROOT, 'bin', 'ltkit.js'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const timer = killAfterMs === undefined ? null : setTimeout(() => c.kill('SIGKILL'), killAfterMs);
    c.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

function ckpt(runDir: string, name: string): Buffer {
  const m = JSON.parse(fs.readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8'));
  return fs.readFileSync(path.join(runDir, 'checkpoints', m.id, name));
}

function epochLines(runDir: string): unknown[] {
  return fs
    .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => l.type === 'epoch')
    .map(({ seconds: _s, imgPerSec: _i, ...rest }) => rest);
}

function assertSameRun(dir: string, ref: string, what: string): void {
  const run = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
  assert.equal(run.status, 'completed', `${what}: status`);
  assert.ok(ckpt(dir, 'model.safetensors').equals(ckpt(ref, 'model.safetensors')), `${what}: final weights`);
  assert.ok(ckpt(dir, 'best.safetensors').equals(ckpt(ref, 'best.safetensors')), `${what}: best weights`);
  assert.deepEqual(epochLines(dir), epochLines(ref), `${what}: metrics.jsonl epoch lines`);
  const final = (d: string) => JSON.parse(fs.readFileSync(path.join(d, 'final-metrics.json'), 'utf8'));
  assert.deepEqual(final(dir), final(ref), `${what}: final-metrics.json`);
  assert.ok(fs.existsSync(path.join(dir, 'subset-indices.json')), `${what}: subset-indices.json`);
  const stray = fs.readdirSync(dir).concat(fs.readdirSync(path.join(dir, 'checkpoints')));
  assert.ok(!stray.some((f) => f.includes('.tmp-')), `${what}: no temporaries left: ${stray}`);
}

/** Which occurrence of each point to kill at: mid main stage, at a stage boundary, inside cRT. */
const CASES: [string, number][] = [
  ...FAULT_POINTS.filter((p) => p.startsWith('checkpoint:')).map((p): [string, number] => [p, 3]),
  ['checkpoint:committed', 4], // the main stage's end
  ['checkpoint:model', 6], // inside cRT
  ['checkpoint:synced', 7], // cRT's end
  ['atomic:run.json', 2], // the end-of-run update
  ['atomic:final-metrics.json', 1],
  ['atomic:subset-indices.json', 1],
  ['metrics:appended', 2],
  ['metrics:torn', 2],
  ['metrics:torn', 5], // cRT's first epoch line
];

test('a kill at every write point of a run, then --resume, gives the uninterrupted result', async () => {
  for (const p of FAULT_POINTS)
    assert.ok(
      CASES.some(([c]) => c === p),
      `fault point ${p} has a case`,
    );
  const ref = await runCli(['train', ...SETS, '--name', 'reference']);
  assert.equal(ref.code, 0, ref.stderr);
  const refDir = path.join(OUT, 'reference');
  for (const [point, n] of CASES) {
    const name = `kill-${point.replace(/[^\w]+/g, '_')}-${n}`;
    const killed = await child(['train', ...SETS, '--name', name], { LTKIT_FAULT: `${point}@${n}` });
    assert.equal(
      killed.signal,
      'SIGKILL',
      `${point}@${n}: the process was killed there (exit ${killed.code}):\n${killed.out}`,
    );
    const resumed = await runCli(['train', '--name', name, '--resume', '--set', `outDir=${OUT}`]);
    assert.equal(resumed.code, 0, `${point}@${n}: resume failed:\n${resumed.stderr}`);
    assertSameRun(path.join(OUT, name), refDir, `${point}@${n}`);
  }
});

test('a run killed before its run.json exists can be started again under its name', async () => {
  const killed = await child(['train', ...SETS, '--name', 'unborn'], { LTKIT_FAULT: 'atomic:run.json@1' });
  assert.equal(killed.signal, 'SIGKILL');
  assert.deepEqual(
    fs
      .readdirSync(path.join(OUT, 'unborn'))
      .map((f) => f.replace(/\d+$/, 'N'))
      .sort(),
    ['run.json.tmp-N', 'run.lock'],
  );
  const again = await runCli(['train', ...SETS, '--name', 'unborn']);
  assert.equal(again.code, 0, again.stderr);
  assertSameRun(path.join(OUT, 'unborn'), path.join(OUT, 'reference'), 'restarted');
});

test('randomized kills (seeded instants), each followed by --resume, reach the uninterrupted result', async (t) => {
  const rng = new Rng(2026, 11);
  let total = 0;
  for (let trial = 0; trial < 3; trial++) {
    const name = `random-${trial}`;
    const longer = ['--set', 'train.epochs=8', '--set', 'train.maxStepsPerEpoch=3'];
    const args = ['train', ...SETS, ...longer, '--name', name];
    // The uninterrupted run, timed as a child process: the kills fall inside such a run's duration.
    const t0 = Date.now();
    const ref = await child(['train', ...SETS, ...longer, '--name', `random-ref-${trial}`]);
    const ms = Date.now() - t0;
    assert.equal(ref.code, 0, ref.out);
    const at = () => rng.int(Math.round(0.15 * ms), Math.round(0.75 * ms));
    // A run killed before its run.json exists is started again; after that it is resumed.
    const next = () =>
      fs.existsSync(path.join(OUT, name, 'run.json'))
        ? ['train', '--name', name, '--resume', '--set', `outDir=${OUT}`]
        : args;
    let kills = 0;
    let r = await child(args, {}, at());
    for (let round = 0; r.signal === 'SIGKILL' && round < 4; round++) {
      kills++;
      r = await child(next(), {}, at());
    }
    if (r.signal === 'SIGKILL') r = await child(next());
    assert.equal(r.code, 0, `trial ${trial} after ${kills} kills:\n${r.out}`);
    assertSameRun(path.join(OUT, name), path.join(OUT, `random-ref-${trial}`), `trial ${trial} (${kills} kills)`);
    t.diagnostic(`trial ${trial}: ${kills} kills within a ${ms} ms run, then completed`);
    total += kills;
  }
  assert.ok(total >= 2, `the runs were really killed (${total} kills)`);
});
