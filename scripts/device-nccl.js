#!/usr/bin/env node
// One rank of scripts/device-check.sh's process-group smoke test, started by
//   node bin/ltkit.js launch --nproc N -- scripts/device-nccl.js [nccl|gloo]
// (torchrun's environment; each rank on cuda:LOCAL_RANK for nccl, on the CPU for gloo). It joins a group through
// src/dist's initProcessGroup and checks every collective the addon wraps against what it must give with N ranks:
// allreduce (sum, avg, max) of one tensor and of several of mixed dtypes (the coalesced path), broadcast from
// rank 0, allgather, the differentiable sum's forward and backward, and GradReducer's averaged gradient
// (c10d::Reducer, DDP's bucketing). NCCL refuses two ranks on one GPU, so on a one-GPU machine N = 1: the values
// are then trivial, but NCCL's communicator, its kernels on the GPU and the Reducer's CUDA buckets still run.
// Prints one JSON line per rank; exits 1 when a check fails.
'use strict';
const path = require('path');
const root = path.resolve(__dirname, '..');
const { initProcessGroup, distEnv, GradReducer } = require(path.join(root, 'dist', 'src', 'dist'));
const { tensor, keep, tidy, setDefaultDevice, runtimeInfo } = require(path.join(root, 'dist', 'src', 'engine'));

const backend = process.argv[2] || 'nccl';
const e = distEnv();
if (!e) {
  console.error(
    'device-nccl.js: run it under `ltkit launch --nproc N -- scripts/device-nccl.js` (WORLD_SIZE is unset)',
  );
  process.exit(2);
}
const device = backend === 'nccl' ? `cuda:${e.localRank}` : 'cpu';
setDefaultDevice(device);
const W = e.worldSize;
const r = e.rank;
const failures = [];
const close = (a, b) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) <= 1e-5 * (1 + Math.abs(b[i])));
function check(name, got, want) {
  if (!close(got, want)) failures.push(`${name}: got [${got}], want [${want}]`);
}
const ranks = Array.from({ length: W }, (_, k) => k);
const sumOfRanks1 = (W * (W + 1)) / 2; // Σ (k + 1)

const t0 = Date.now();
const pg = initProcessGroup({
  rank: r,
  worldSize: W,
  backend,
  timeoutMs: 120000,
  store: { kind: 'tcp', host: e.masterAddr, port: e.masterPort, server: r === 0 },
});
const joinMs = Date.now() - t0;

tidy(() => {
  const a = tensor([r + 1, 2 * (r + 1), -(r + 1)]);
  pg.allreduce([a], 'sum');
  check('allreduce sum', a.toList(), [sumOfRanks1, 2 * sumOfRanks1, -sumOfRanks1]);
  const m = tensor([r + 1]);
  pg.allreduce([m], 'max');
  check('allreduce max', m.toList(), [W]);
  const v = tensor([r + 1, 0.5]);
  pg.allreduce([v], 'avg');
  check('allreduce avg', v.toList(), [(W + 1) / 2, 0.5]);
  // Several tensors, two dtypes, one not contiguous: coalesced into one buffer per dtype.
  const f = tensor([
    [r, 1],
    [2, r],
  ]).t();
  const d = tensor([r + 0.25], 'float64');
  const i = tensor([r + 1, 7], 'int32');
  pg.allreduce([f, d, i], 'sum');
  const sumR = (W * (W - 1)) / 2;
  check('allreduce coalesced float32 (transposed)', f.toList(), [sumR, 2 * W, W, sumR]);
  check('allreduce coalesced float64', d.toList(), [sumR + 0.25 * W]);
  check('allreduce coalesced int32', i.toList(), [sumOfRanks1, 7 * W]);
  const b = tensor([r === 0 ? 42 : -1, r]);
  pg.broadcast([b], 0);
  check('broadcast from 0', b.toList(), [42, 0]);
  const g = pg.allgather(tensor([r, 10 * r]));
  check(
    'allgather',
    g.flatMap((x) => x.toList()),
    ranks.flatMap((k) => [k, 10 * k]),
  );
  const x = tensor([r + 1, 1]).requiresGrad_(true);
  const s = pg.sumDifferentiable(x);
  check('differentiable sum', s.toList(), [sumOfRanks1, W]);
  s.mul(tensor([1, 2]))
    .sum()
    .backward();
  check('differentiable sum, gradient', x.grad.toList(), [W, 2 * W]);
});

// GradReducer: each rank's gradient of Σ w·(r+1) is r+1 everywhere; after backward every rank holds the mean.
const w = keep(tensor([0.5, -1, 2, 3])).requiresGrad_(true);
const reducer = new GradReducer(pg, [w]);
tidy(() => {
  const loss = w.mul(r + 1).sum();
  reducer.prepareForBackward([loss]);
  loss.backward();
  check(
    'GradReducer mean gradient',
    w.grad.toList(),
    [1, 1, 1, 1].map(() => (W + 1) / 2),
  );
});
reducer.dispose();
pg.barrier();
pg.destroy();

const info = runtimeInfo();
console.log(
  JSON.stringify({
    rank: r,
    worldSize: W,
    backend,
    device,
    libtorch: info.torchVersion,
    joinMs,
    failures,
    ok: failures.length === 0,
  }),
);
process.exitCode = failures.length === 0 ? 0 : 1;
