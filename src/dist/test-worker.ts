// One rank of the distributed tests (dist.test.ts, launch.test.ts), run as
//   node dist/src/dist/test-worker.js <scenario> <store> [dir]
// where <store> is `env` (torchrun's variables, as `ltkit launch` sets them: a TCPStore) or a FileStore path
// (rank and world size from RANK / WORLD_SIZE). Results go to stdout as one JSON line.
// The reducer scenario's model and data are exported so that the test computes the single-process reference.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, manualSeed, noGrad, randn, randint, tensor, tidy, keep } from '../engine';
import { distributedSupport, initProcessGroup, processGroupFromEnv, GradReducer, ProcessGroup } from './index';

/** The reducer scenario's parameters: a 5 → 8 → 3 MLP, the same on every rank (seeded). */
export function initParams(): Tensor[] {
  manualSeed(7);
  return [randn([8, 5]), randn([8]), randn([3, 8]), randn([3])].map((p) => keep(p.mul(0.5)).requiresGrad_(true));
}

/** Rank `rank`'s batch at `step`: different data on every rank and step. */
export function batch(rank: number, step: number): { x: Tensor; y: Tensor } {
  manualSeed(1000 + 10 * step + rank);
  return { x: randn([6, 5]), y: randint(0, 3, [6]) };
}

export function loss(params: Tensor[], x: Tensor, y: Tensor): Tensor {
  const [w1, b1, w2, b2] = params;
  return x.linear(w1, { bias: b1 }).relu().linear(w2, { bias: b2 }).crossEntropyLoss(y);
}

export const STEPS = 3;
export const LR = 0.1;

/** The second reducer phase: an extra parameter `u` that only rank 0's loss uses (DDP's find_unused_parameters). */
export function initExtra(): Tensor {
  return keep(tensor([0.5, -1.5, 2])).requiresGrad_(true);
}
export function lossWithExtra(params: Tensor[], u: Tensor, rank: number, x: Tensor, y: Tensor): Tensor {
  const l = loss(params, x, y);
  return rank === 0 ? l.add(u.mul(u).sum().mul(0.25)) : l;
}

function group(store: string, timeoutMs?: number): ProcessGroup {
  if (store === 'env') {
    const pg = processGroupFromEnv({ timeoutMs });
    if (pg === null) throw new Error('test-worker: WORLD_SIZE is not set');
    return pg;
  }
  return initProcessGroup({
    rank: Number(process.env.RANK),
    worldSize: Number(process.env.WORLD_SIZE),
    store: { kind: 'file', path: store },
    timeoutMs,
  });
}

const print = (x: unknown) => process.stdout.write(JSON.stringify(x) + '\n');
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function collectives(pg: ProcessGroup): Record<string, unknown> {
  const r = pg.rank;
  return tidy(() => {
    const a = tensor(
      [0, 1, 2, 3, 4, 5].map((v) => (r + 1) * v),
      [2, 3],
    );
    const b = tensor(
      [0, 1, 2, 3].map((v) => 10 * r + v),
      [4],
      'float64',
    );
    const c = tensor([r, 2 * r, 7], [3], 'int64');
    const d = tensor(
      [1, 2, 3, 4, 5, 6].map((v) => v * (r + 1)),
      [2, 3],
    ).t(); // not contiguous
    pg.allreduce([a, b, c, d]);
    const avg = tensor([r, 4 * r]);
    pg.allreduce([avg], 'avg');
    const mx = tensor([r, -r, 5]);
    pg.allreduce([mx], 'max');
    const mn = tensor([r, -r, 5]);
    pg.allreduce([mn], 'min');
    const x = tensor([r, r + 0.25], [2]);
    const y = tensor([r * 3, 1], [2], 'int64');
    pg.broadcast([x, y], 1);
    const z = tensor([r + 100]);
    pg.broadcast([z]);
    const g = pg.allgather(tensor([r, r + 0.5]));
    pg.barrier();
    return {
      rank: r,
      worldSize: pg.worldSize,
      sum: [a, b, c, d].map((t) => ({ shape: t.shape, dtype: t.dtype, values: t.toList() })),
      avg: avg.toList(),
      max: mx.toList(),
      min: mn.toList(),
      broadcast: [x.toList(), y.toList(), z.toList()],
      allgather: g.map((t) => t.toList()),
    };
  });
}

/**
 * The `skip` option of tests that run ranks over Gloo on the CPU: false when this build has Gloo, else why not
 * (a build with NCCL alone — a pip CUDA torch ships no gloo headers — skips them).
 */
export function skipWithoutGloo(): false | string {
  const support = distributedSupport();
  return support.backends.includes('gloo')
    ? false
    : `no Gloo process group in this build: ${support.why ?? `backends: ${support.backends.join(', ')}`}`;
}

/** What each rank of a world of `w` must hold after collectives() below, worked out from the same formulas. */
export function expectedCollectives(w: number): Record<string, unknown> {
  const rs = Array.from({ length: w }, (_, r) => r);
  const sum = (f: (r: number) => number) => rs.reduce((a, r) => a + f(r), 0);
  const s = sum((r) => r + 1);
  return {
    worldSize: w,
    sum: [
      { shape: [2, 3], dtype: 'float32', values: [0, 1, 2, 3, 4, 5].map((v) => v * s) },
      { shape: [4], dtype: 'float64', values: [0, 1, 2, 3].map((v) => sum((r) => 10 * r + v)) },
      { shape: [3], dtype: 'int64', values: [sum((r) => r), sum((r) => 2 * r), 7 * w] },
      { shape: [3, 2], dtype: 'float32', values: [1, 4, 2, 5, 3, 6].map((v) => v * s) },
    ],
    avg: [sum((r) => r) / w, sum((r) => 4 * r) / w],
    max: [w - 1, 0, 5],
    min: [0, -(w - 1), 5],
    broadcast: [[1, 1.25], [3, 1], [100]],
    allgather: rs.map((r) => [r, r + 0.5]),
  };
}

function reducer(pg: ProcessGroup): Record<string, unknown> {
  const params = initParams();
  pg.broadcast(params); // as a trainer does: rank 0's initial weights everywhere
  // A tiny bucket cap: once rebuilt after the first step, the buckets hold one or two parameters each.
  const red = new GradReducer(pg, params, { bucketCapMB: 1e-4, names: ['w1', 'b1', 'w2', 'b2'] });
  const grads: number[][][] = [];
  for (let step = 0; step < STEPS; step++) {
    tidy(() => {
      const { x, y } = batch(pg.rank, step);
      const l = loss(params, x, y);
      red.prepareForBackward([l]);
      l.backward();
      grads.push(params.map((p) => (p.grad as Tensor).toList()));
      noGrad(() => {
        for (const p of params) p.sub_(p.grad as Tensor, { alpha: LR });
      });
      for (const p of params) p.grad = null;
    });
  }
  red.dispose();
  // Phase 2: findUnusedParameters, with `u` unused on rank 1 (its gradient there counts as zero).
  const u = initExtra();
  const all = [...params, u];
  const red2 = new GradReducer(pg, all, { findUnusedParameters: true });
  const unusedGrads: number[][][] = [];
  for (let step = 0; step < 2; step++) {
    tidy(() => {
      const { x, y } = batch(pg.rank, STEPS + step);
      const l = lossWithExtra(params, u, pg.rank, x, y);
      red2.prepareForBackward([l]);
      l.backward();
      unusedGrads.push(all.map((p) => (p.grad === null ? [] : p.grad.toList())));
      for (const p of all) p.grad = null;
    });
  }
  red2.dispose();
  return { rank: pg.rank, grads, params: params.map((p) => p.toList()), unusedGrads };
}

function main(): void {
  const [scenario, store, dir] = process.argv.slice(2);
  const rank = Number(process.env.RANK);
  if (dir) fs.writeFileSync(path.join(dir, `pid-${rank}`), String(process.pid));
  if (scenario === 'collectives') {
    const pg = group(store);
    print(collectives(pg));
    pg.destroy();
    let afterDestroy = '';
    try {
      pg.barrier();
    } catch (e) {
      afterDestroy = (e as Error).message;
    }
    print({ rank: pg.rank, afterDestroy });
  } else if (scenario === 'reducer') {
    print(reducer(group(store)));
  } else if (scenario === 'die') {
    // Rank 1 kills itself after the first collective; rank 0 keeps reducing and must fail, not hang.
    const pg = group(store, 60_000);
    const t = tensor([1, 2, 3]);
    pg.allreduce([t]);
    if (pg.rank === 1) process.kill(process.pid, 'SIGKILL');
    const t0 = Date.now();
    for (;;) {
      try {
        pg.allreduce([t]);
      } catch (e) {
        print({ rank: pg.rank, error: (e as Error).message, seconds: (Date.now() - t0) / 1000 });
        process.exit(1);
      }
    }
  } else if (scenario === 'stuck') {
    // Rank 1 never reaches the barrier; rank 0's barrier ends at the group's timeout.
    const pg = group(store, 4000);
    if (pg.rank === 1) {
      print({ rank: 1, sleeping: true });
      for (;;) sleep(1000);
    }
    const t0 = Date.now();
    try {
      pg.barrier();
      print({ rank: 0, error: null });
    } catch (e) {
      print({ rank: 0, error: (e as Error).message, seconds: (Date.now() - t0) / 1000 });
      process.exit(1);
    }
  } else if (scenario === 'exit3') {
    // For `ltkit launch`: rank 1 fails with code 3; rank 0 ignores SIGTERM, so only the SIGKILL stops it.
    // Rank 1 gives up only once rank 0 ignores SIGTERM (its marker file), or launch's SIGTERM could arrive first.
    if (rank === 0) process.on('SIGTERM', () => process.stdout.write('SIGTERM ignored\n'));
    print({ rank, env: ['RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'].map((k) => process.env[k]) });
    const ready = dir ? path.join(dir, 'rank0-ignores-sigterm') : null;
    if (rank === 0) {
      if (ready) fs.writeFileSync(ready, '');
      setInterval(() => undefined, 1000);
    } else {
      const giveUp = () => {
        process.stderr.write('rank 1 gives up\n');
        process.exit(3);
      };
      const poll = setInterval(() => {
        if (!ready || fs.existsSync(ready)) {
          clearInterval(poll);
          giveUp();
        }
      }, 20);
    }
  } else if (scenario === 'wait') {
    // For `ltkit launch`: every rank waits until a signal, which it reports before exiting 130.
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.on(sig, () => {
        process.stdout.write(`rank ${rank} got ${sig}\n`);
        process.exit(130);
      });
    }
    print({ rank, waiting: true });
    setInterval(() => undefined, 1000);
  } else {
    throw new Error(`test-worker: unknown scenario '${scenario}'`);
  }
}

if (require.main === module) main();
