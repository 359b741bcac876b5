// `ltkit launch --nproc N -- <ltkit command>`: the ranks of a data-parallel job, torchrun-style (src/dist/launch.ts).
import type { CliIO, CommandModule, Parsed } from './args';
import { UsageError } from './args';

export const launchCommand: CommandModule = {
  spec: {
    name: 'launch',
    summary: 'run an ltkit command as N data-parallel processes (torchrun conventions; Gloo, or NCCL on CUDA)',
    usage: 'ltkit launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- <ltkit command ...>',
    details:
      'Starts N processes of `ltkit <command ...>` (or `node SCRIPT.js ...` when the command is a script file) with\n' +
      "torchrun's environment: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT.\n" +
      'The training side reads only these, so the same command also runs under torchrun. Rank 0 hosts the store\n' +
      "(PyTorch's TCPStore) at MASTER_ADDR:MASTER_PORT — by default 127.0.0.1 and a free port; on several machines\n" +
      'run one launch per machine with the same --nnodes, --master-addr (node 0) and --master-port, and its\n' +
      '--node-rank. Each rank gets cores/N libtorch threads unless LTKIT_NUM_THREADS is set. Output lines are\n' +
      'prefixed with [rank r]. When a rank exits non-zero or is killed, the others get SIGTERM (SIGKILL after\n' +
      "--grace seconds) and the launch exits with that rank's code, naming it. Ctrl-C or SIGTERM reaches every\n" +
      'rank once, as SIGINT (a training run stops after its step; a second Ctrl-C kills). Ranks blocked in a\n' +
      'collective fail when a peer dies, at the latest after --timeout. Refused when this build has no\n' +
      'process groups (the message says why). A training run joins an NCCL group on device cuda, Gloo\n' +
      'otherwise (LTKIT_DIST_BACKEND=gloo|nccl overrides). Put the command after --; `--help` before -- is\n' +
      "launch's own.",
    options: [
      { name: 'nproc', type: 'number', help: 'processes on this machine', metavar: 'N' },
      { name: 'nnodes', type: 'number', help: 'machines taking part', default: 1, metavar: 'M' },
      { name: 'node-rank', type: 'number', help: "this machine's index in [0, M)", default: 0, metavar: 'R' },
      { name: 'master-addr', type: 'string', help: "node 0's address (default 127.0.0.1)", metavar: 'A' },
      { name: 'master-port', type: 'number', help: "the store's port (default: a free one)", metavar: 'P' },
      {
        name: 'timeout',
        type: 'number',
        help: "the ranks' collective timeout in seconds (default 1800)",
        metavar: 'S',
      },
      { name: 'grace', type: 'number', help: 'seconds from SIGTERM to SIGKILL when stopping ranks', default: 5 },
    ],
    examples: [
      'ltkit launch --nproc 2 -- train --config fmnist-lt --name ddp',
      'ltkit launch --nproc 2 -- train --name ddp --resume',
      'ltkit launch --nproc 4 --nnodes 2 --node-rank 0 --master-addr 10.0.0.1 --master-port 29500 -- train ...',
      'ltkit launch --nproc 2 -- my-script.js --epochs 3',
    ],
  },
  async run(p: Parsed, io: CliIO): Promise<void> {
    if (p.opts.nproc === undefined) throw new UsageError('ltkit launch: --nproc N is required');
    if (p.positionals.length === 0) {
      throw new UsageError('ltkit launch: give the command to run after -- (e.g. ltkit launch --nproc 2 -- train ...)');
    }
    const { distributedSupport } = await import('../dist');
    const support = distributedSupport();
    if (!support.available) throw new Error(`distributed training is not available in this build: ${support.why}`);
    const { launch } = await import('../dist/launch');
    const seconds = (k: string) => (p.opts[k] === undefined ? undefined : Math.round(Number(p.opts[k]) * 1000));
    let r;
    try {
      r = await launch({
        nproc: Number(p.opts.nproc),
        nnodes: Number(p.opts.nnodes),
        nodeRank: Number(p.opts['node-rank']),
        masterAddr: p.opts['master-addr'] as string | undefined,
        masterPort: p.opts['master-port'] as number | undefined,
        timeoutMs: seconds('timeout'),
        graceMs: seconds('grace'),
        command: p.positionals,
        stdout: io.stdout,
        stderr: io.stderr,
      });
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
    process.exitCode = r.code;
  },
};
