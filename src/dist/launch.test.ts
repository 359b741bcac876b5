// `ltkit launch` as a user runs it (bin/ltkit.js in a child process): 2 ranks of test-worker.ts joining a TCPStore
// from torchrun's variables; a rank exiting 3 ends the launch with code 3, a message naming the rank, and no rank
// left running (the other ignores SIGTERM, so the SIGKILL after --grace is what stops it); Ctrl-C reaches every
// rank once; an ltkit command runs under it with prefixed output. Skipped when the build has no process groups.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { distributedSupport } from './index';
import { expectedCollectives, skipWithoutGloo } from './test-worker';
import { runCli } from '../cli/test-util';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-launch-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const CLI = path.resolve(__dirname, '..', '..', '..', 'bin', 'ltkit.js');
const WORKER = path.join(__dirname, 'test-worker.js');
const SKIP = skipWithoutGloo();

interface Launched {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }>;
  stdout: () => string;
}

function launchCli(args: string[], limitMs = 60_000): Launched {
  const t0 = Date.now();
  const child = spawn(process.execPath, [CLI, 'launch', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LTKIT_NUM_THREADS: '1' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += String(d)));
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; seconds: number }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    }),
  );
  return { child, done, stdout: () => stdout };
}

/** The JSON lines of rank `r` in prefixed output. */
function rankJson(out: string, r: number): Record<string, unknown>[] {
  const tag = `[rank ${r}] `;
  return out
    .split('\n')
    .filter((l) => l.startsWith(tag + '{'))
    .map((l) => JSON.parse(l.slice(tag.length)) as Record<string, unknown>);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'launch: 2 ranks join a TCPStore from MASTER_ADDR/MASTER_PORT and run the collectives',
  { skip: SKIP },
  async () => {
    const r = await launchCli(['--nproc', '2', '--', WORKER, 'collectives', 'env']).done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /\[launch\] 2 ranks on node 0 of 1 \(world size 2\), MASTER_ADDR=127\.0\.0\.1 MASTER_PORT=\d+/,
    );
    for (const rank of [0, 1]) {
      const [res] = rankJson(r.stdout, rank);
      assert.ok(res, `rank ${rank} printed its result:\n${r.stdout}\n${r.stderr}`);
      const { rank: got, ...rest } = res;
      assert.equal(got, rank);
      assert.deepEqual(rest, expectedCollectives(2));
    }
  },
);

test(
  'launch: a rank exiting 3 stops the others (SIGTERM, then SIGKILL) and the launch exits 3 naming it',
  { skip: SKIP },
  async () => {
    const dir = fs.mkdtempSync(path.join(TMP, 'exit3-'));
    const r = await launchCli(['--nproc', '2', '--grace', '1', '--', WORKER, 'exit3', 'env', dir]).done;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /\[launch\] rank 1 \(pid \d+\) exited with code 3; stopping the other ranks/);
    assert.match(r.stderr, /\[rank 1\] rank 1 gives up/);
    assert.match(r.stderr, /\[launch\] 1 rank\(s\) still running after 1000 ms: SIGKILL/);
    assert.match(r.stdout, /\[rank 0\] SIGTERM ignored/);
    assert.match(r.stderr, /\[launch\] failed: rank 1 \(pid \d+\) exited with code 3/);
    // The environment torchrun would have given them.
    for (const rank of [0, 1]) {
      const env = rankJson(r.stdout, rank)[0].env as string[];
      assert.deepEqual(env.slice(0, 4), [String(rank), String(rank), '2', '127.0.0.1']);
    }
    assert.ok(r.seconds < 30, `took ${r.seconds} s`);
    for (const rank of [0, 1]) {
      const pid = Number(fs.readFileSync(path.join(dir, `pid-${rank}`), 'utf8'));
      assert.equal(alive(pid), false, `rank ${rank} (pid ${pid}) is gone`);
    }
  },
);

test('launch: SIGINT is passed on once to every rank; the launch exits 130', { skip: SKIP }, async () => {
  const l = launchCli(['--nproc', '2', '--', WORKER, 'wait', 'env']);
  for (let i = 0; i < 400 && !(rankJson(l.stdout(), 0).length && rankJson(l.stdout(), 1).length); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  l.child.kill('SIGINT');
  const r = await l.done;
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /\[launch\] SIGINT: SIGINT passed on to every rank/);
  assert.match(r.stdout, /\[rank 0\] rank 0 got SIGINT/);
  assert.match(r.stdout, /\[rank 1\] rank 1 got SIGINT/);
});

test('launch runs an ltkit command in every rank, output prefixed', { skip: SKIP }, async () => {
  const r = await launchCli(['--nproc', '2', '--', 'list', 'losses']).done;
  assert.equal(r.code, 0, r.stderr);
  for (const rank of [0, 1]) assert.match(r.stdout, new RegExp(`^\\[rank ${rank}\\] .*ldam`, 'm'));
});

test('launch: usage errors and --help', async () => {
  const noN = await runCli(['launch', '--', 'train']);
  assert.equal(noN.code, 2);
  assert.match(noN.stderr, /--nproc N is required/);
  const noCmd = await runCli(['launch', '--nproc', '2']);
  assert.equal(noCmd.code, 2);
  assert.match(noCmd.stderr, /give the command to run after --/);
  if (distributedSupport().available) {
    const multi = await runCli(['launch', '--nproc', '1', '--nnodes', '2', '--', 'list']);
    assert.equal(multi.code, 2);
    assert.match(multi.stderr, /--nnodes > 1 needs --master-addr and --master-port/);
  }
  const help = await runCli(['launch', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: ltkit launch --nproc N/);
  assert.match(help.stdout, /torchrun/);
});
