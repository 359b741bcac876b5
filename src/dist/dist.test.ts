// Process groups (c10d) across real processes: every test starts 2 ranks of test-worker.ts over a FileStore
// (the TCPStore path runs under `ltkit launch` in launch.test.ts). Collectives are checked against values worked
// out here from the same formulas; GradReducer's averaged gradients against single-process gradients computed here
// on both ranks' batches; a rank killed mid-run, and one that never reaches a collective, end the other rank with
// an Error naming the op and rank instead of a hang. Skipped when the addon was built without c10d.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { grad, noGrad, tensor, tidy } from '../engine';
import { distEnv, initProcessGroup } from './index';
import {
  initParams,
  initExtra,
  batch,
  loss,
  lossWithExtra,
  expectedCollectives,
  skipWithoutGloo,
  STEPS,
  LR,
} from './test-worker';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-dist-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));
const WORKER = path.join(__dirname, 'test-worker.js');
const SKIP = skipWithoutGloo();

interface RankRun {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  out: Record<string, unknown>[];
  stderr: string;
}

let stores = 0;
/**
 * Runs `scenario` on 2 ranks over a fresh FileStore; kills what is left after `limitMs`, or as soon as one rank
 * has exited when `stopOthers` (a rank that sleeps for ever).
 */
function ranks(scenario: string, o: { limitMs?: number; stopOthers?: boolean } = {}): Promise<RankRun[]> {
  const store = path.join(TMP, `store-${scenario}-${stores++}`);
  const children = new Set<ReturnType<typeof spawn>>();
  return Promise.all(
    [0, 1].map(
      (rank) =>
        new Promise<RankRun>((resolve) => {
          const child = spawn(process.execPath, [WORKER, scenario, store], {
            env: { ...process.env, RANK: String(rank), WORLD_SIZE: '2', LTKIT_NUM_THREADS: '1' },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          children.add(child);
          const timer = setTimeout(() => child.kill('SIGKILL'), o.limitMs ?? 60_000);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += String(d)));
          child.stderr.on('data', (d) => (stderr += String(d)));
          child.on('close', (code, signal) => {
            clearTimeout(timer);
            children.delete(child);
            if (o.stopOthers) for (const c of children) c.kill('SIGKILL');
            const out = stdout
              .split('\n')
              .filter((l) => l.startsWith('{'))
              .map((l) => JSON.parse(l) as Record<string, unknown>);
            resolve({ rank, code, signal, out, stderr });
          });
        }),
    ),
  );
}

test(
  'allreduce (sum of mixed shapes, dtypes and a non-contiguous view; avg, max, min), broadcast, allgather, barrier over a FileStore',
  { skip: SKIP },
  async () => {
    const runs = await ranks('collectives');
    const want = expectedCollectives(2);
    for (const r of runs) {
      assert.equal(r.code, 0, `rank ${r.rank}: ${r.stderr}`);
      const { rank, ...got } = r.out[0];
      assert.equal(rank, r.rank);
      assert.deepEqual(got, want, `rank ${r.rank}`);
      assert.match(String(r.out[1].afterDestroy), /barrier \(rank \d of 2, gloo\): the process group was destroyed/);
    }
  },
);

test(
  'GradReducer: 2 ranks on different batches get the mean of the single-process gradients, step after step',
  { skip: SKIP },
  async () => {
    const runs = await ranks('reducer');
    for (const r of runs) assert.equal(r.code, 0, `rank ${r.rank}: ${r.stderr}`);
    const [g0, g1] = runs.map((r) => r.out[0].grads as number[][][]);
    assert.deepEqual(g0, g1, 'both ranks hold the same averaged gradients');
    assert.deepEqual(runs[0].out[0].params, runs[1].out[0].params);
    // The reference: this process computes each rank's gradient alone, averages, and takes the same SGD steps.
    const params = initParams();
    let maxDiff = 0;
    let maxLocalGap = 0;
    for (let step = 0; step < STEPS; step++) {
      const local = [0, 1].map((rank) =>
        tidy(() => {
          const { x, y } = batch(rank, step);
          return grad(loss(params, x, y), params).map((g) => (g as NonNullable<typeof g>).toList());
        }),
      );
      params.forEach((p, i) => {
        const mean = local[0][i].map((v, j) => (v + local[1][i][j]) / 2);
        mean.forEach((m, j) => {
          maxDiff = Math.max(maxDiff, Math.abs(m - g0[step][i][j]));
          maxLocalGap = Math.max(maxLocalGap, Math.abs(local[0][i][j] - g0[step][i][j]));
        });
        noGrad(() => tidy(() => p.sub_(tensor(mean, p.shape), { alpha: LR })));
      });
    }
    assert.ok(maxDiff < 1e-6, `max |reduced - mean of single-process gradients| = ${maxDiff}`);
    assert.ok(maxLocalGap > 1e-3, `the ranks' own gradients differ from the mean (${maxLocalGap}): the data differ`);
    // Phase 2 (findUnusedParameters): rank 1 never uses u, so u's gradient is rank 0's halved, on both ranks.
    const [h0, h1] = runs.map((r) => r.out[0].unusedGrads as number[][][]);
    assert.deepEqual(h0, h1);
    const u = initExtra();
    let maxDiff2 = 0;
    for (let step = 0; step < 2; step++) {
      const local = [0, 1].map((rank) =>
        tidy(() => {
          const { x, y } = batch(rank, STEPS + step);
          const gs = grad(lossWithExtra(params, u, rank, x, y), [...params, u], { allowUnused: true });
          return gs.map((g) => (g === null ? [0, 0, 0] : g.toList()));
        }),
      );
      local[0].forEach((g, i) =>
        g.forEach((v, j) => (maxDiff2 = Math.max(maxDiff2, Math.abs((v + local[1][i][j]) / 2 - h0[step][i][j])))),
      );
    }
    assert.ok(maxDiff2 < 1e-6, `with an unused parameter: max |reduced - mean| = ${maxDiff2}`);
    assert.ok(
      h0[1][4].some((v) => v !== 0),
      "u's reduced gradient is not zero",
    );
  },
);

test(
  'a rank killed mid-run ends the other rank with an Error naming the op and rank, not a hang',
  { skip: SKIP },
  async () => {
    const t0 = Date.now();
    const runs = await ranks('die', { limitMs: 40_000 });
    assert.equal(runs[1].signal, 'SIGKILL');
    assert.equal(runs[0].code, 1, runs[0].stderr);
    const r0 = runs[0].out[0];
    assert.match(String(r0.error), /^process group allreduce sum \(rank 0 of 2, gloo\): /);
    assert.ok((Date.now() - t0) / 1000 < 30, 'well before the 60 s timeout');
  },
);

test("a rank that never joins a collective ends the other's at the group's timeout", { skip: SKIP }, async () => {
  const runs = await ranks('stuck', { limitMs: 40_000, stopOthers: true });
  assert.equal(runs[0].code, 1, runs[0].stderr);
  const r0 = runs[0].out[0];
  assert.match(String(r0.error), /^process group barrier \(rank 0 of 2, gloo\): .*[Tt]imed out/);
  const seconds = Number(r0.seconds);
  assert.ok(seconds >= 3 && seconds < 20, `failed after ${seconds} s (timeout 4 s)`);
});

test('distEnv reads torchrun variables and names a bad one', () => {
  assert.equal(distEnv({}), null);
  assert.deepEqual(distEnv({ WORLD_SIZE: '4', RANK: '3', LOCAL_RANK: '1', MASTER_ADDR: 'h', MASTER_PORT: '29500' }), {
    rank: 3,
    worldSize: 4,
    localRank: 1,
    masterAddr: 'h',
    masterPort: 29500,
  });
  assert.throws(
    () => distEnv({ WORLD_SIZE: '2', RANK: '2', MASTER_PORT: '1' }),
    /RANK='2': expected an integer in \[0, 1\]/,
  );
  assert.throws(() => distEnv({ WORLD_SIZE: '2', RANK: '0' }), /MASTER_PORT is not set/);
  assert.throws(() => distEnv({ WORLD_SIZE: 'two' }), /WORLD_SIZE='two'/);
});

test('initProcessGroup checks its options before joining', { skip: SKIP }, () => {
  const store = { kind: 'file' as const, path: path.join(TMP, 'unused') };
  assert.throws(
    () => initProcessGroup({ rank: 2, worldSize: 2, store }),
    /rank: 2 \(expected an integer in \[0, 1\]\)/,
  );
  assert.throws(
    () => initProcessGroup({ rank: 0, worldSize: 1, store: { kind: 'tcp', host: 'h', port: 70000 } }),
    /store.port: 70000/,
  );
  assert.throws(() => initProcessGroup({ rank: 0, worldSize: 1, store, backend: 'mpi' as 'gloo' }), /backend 'mpi'/);
});

test('a world of one: collectives are identities', { skip: SKIP }, () => {
  const pg = initProcessGroup({ rank: 0, worldSize: 1, store: { kind: 'file', path: path.join(TMP, 'one') } });
  tidy(() => {
    const t = tensor([1, 2, 3]);
    pg.allreduce([t], 'avg');
    pg.broadcast([t]);
    assert.deepEqual(t.toList(), [1, 2, 3]);
    assert.deepEqual(
      pg.allgather(t).map((x) => x.toList()),
      [[1, 2, 3]],
    );
  });
  pg.barrier();
  pg.destroy();
  pg.destroy();
});
