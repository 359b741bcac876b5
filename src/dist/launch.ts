// `ltkit launch`: starts the local ranks of a data-parallel job with torchrun's environment conventions
// (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK, MASTER_ADDR, MASTER_PORT), so a command runs the
// same under `ltkit launch` and under torchrun: the training side reads only the environment (src/dist).
//
// Each child's output lines are prefixed with its rank. When a rank exits non-zero or dies by a signal, the others
// get SIGTERM, then SIGKILL after a grace period, and the launch exits non-zero naming that rank; a rank blocked in
// a collective with the dead one fails on its own as well (its process group's timeout). Ctrl-C or SIGTERM is
// passed on once to every rank as SIGINT (a training run stops after its step); a second one kills them.
import { spawn, ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface LaunchOptions {
  /** Processes on this machine. */
  nproc: number;
  /** Machines (each runs `ltkit launch` with its --node-rank); default 1. */
  nnodes?: number;
  nodeRank?: number;
  /** Where rank 0 hosts the TCPStore: default 127.0.0.1 and a free port (one machine only). */
  masterAddr?: string;
  masterPort?: number;
  /** An ltkit command and its arguments (`train --config x`), or a Node script and its arguments (`run.js …`). */
  command: string[];
  /** SIGTERM → SIGKILL delay when stopping the ranks (default 5000). */
  graceMs?: number;
  /** The ranks' process-group timeout (LTKIT_DIST_TIMEOUT_MS); default torch.distributed's 30 minutes. */
  timeoutMs?: number;
  /** The children's environment (default process.env) before the rank variables are added. */
  env?: NodeJS.ProcessEnv;
  /** Where the children's prefixed output and launch's own lines go (default: this process's streams). */
  stdout?: (s: string) => void;
  stderr?: (s: string) => void;
}

export interface RankExit {
  rank: number;
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LaunchResult {
  /** The launch's exit code: 0; the failed rank's exit code (128 + signal number when killed); 130 when stopped. */
  code: number;
  /** The first rank that failed, if one did. */
  failed: (RankExit & { message: string }) | null;
  /** The signal that stopped the job, if one did. */
  interrupted: NodeJS.Signals | null;
  ranks: RankExit[];
}

const SCRIPT = /\.(c|m)?js$/;

/** A port nothing listens on now (the OS's choice), on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function describe(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with code ${String(code)}`;
}

function checkInt(v: number | undefined, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`ltkit launch: ${what} ${String(v)} (expected an integer in [${min}, ${max}])`);
  }
  return v;
}

/** Runs the job to its end; resolves when every child has exited. */
export async function launch(o: LaunchOptions): Promise<LaunchResult> {
  const out = o.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = o.stderr ?? ((s: string) => void process.stderr.write(s));
  const log = (line: string) => err(`[launch] ${line}\n`);
  const nproc = checkInt(o.nproc, '--nproc', 1);
  const nnodes = checkInt(o.nnodes ?? 1, '--nnodes', 1);
  const nodeRank = checkInt(o.nodeRank ?? 0, '--node-rank', 0, nnodes - 1);
  if (o.command.length === 0) throw new RangeError('ltkit launch: no command after -- (e.g. -- train --config X)');
  if (nnodes > 1 && (o.masterAddr === undefined || o.masterPort === undefined)) {
    throw new RangeError('ltkit launch: --nnodes > 1 needs --master-addr and --master-port (node 0 hosts the store)');
  }
  const masterAddr = o.masterAddr ?? '127.0.0.1';
  const masterPort = checkInt(o.masterPort ?? (await freePort()), '--master-port', 1, 65535);
  const graceMs = o.graceMs ?? 5000;
  const worldSize = nproc * nnodes;
  const base = { ...(o.env ?? process.env) };
  delete base.TORCHELASTIC_USE_AGENT_STORE; // this launch hosts no agent store: rank 0 hosts it
  // Like torchrun's OMP_NUM_THREADS=1 default, but sharing the cores: libtorch threads per rank.
  const threads = base.LTKIT_NUM_THREADS ?? String(Math.max(1, Math.floor(os.cpus().length / nproc)));
  const argv =
    SCRIPT.test(o.command[0]) && fs.existsSync(o.command[0])
      ? o.command
      : [path.resolve(__dirname, '..', '..', '..', 'bin', 'ltkit.js'), ...o.command];
  log(
    `${nproc} rank${nproc > 1 ? 's' : ''} on node ${nodeRank} of ${nnodes} (world size ${worldSize}), ` +
      `MASTER_ADDR=${masterAddr} MASTER_PORT=${masterPort}, ${threads} libtorch thread(s) each: ` +
      `${SCRIPT.test(argv[0]) && argv === o.command ? 'node' : 'ltkit'} ${o.command.join(' ')}`,
  );

  const ranks: RankExit[] = [];
  const live = new Map<number, ChildProcess>();
  let failed: LaunchResult['failed'] = null;
  let interrupted: NodeJS.Signals | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  // Children lead process groups of their own (a terminal's Ctrl-C reaches the launch alone); a signal goes to the
  // whole group, so what a rank started stops with it.
  const signalAll = (sig: NodeJS.Signals) => {
    for (const c of live.values()) {
      try {
        process.kill(-(c.pid as number), sig);
      } catch {
        c.kill(sig);
      }
    }
  };
  const stopAll = () => {
    signalAll('SIGTERM');
    killTimer ??= setTimeout(() => {
      if (live.size > 0) log(`${live.size} rank(s) still running after ${graceMs} ms: SIGKILL`);
      signalAll('SIGKILL');
    }, graceMs);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted === null) {
      interrupted = sig;
      // As `ltkit sweep`: SIGINT either way, on which a training run stops after its step (its checkpoint stays).
      log(`${sig}: SIGINT passed on to every rank (again to kill them)`);
      signalAll('SIGINT');
    } else {
      log(`${sig} again: SIGKILL to every rank`);
      signalAll('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const prefixer = (rank: number, sink: (s: string) => void) => {
    let rest = '';
    const tag = `[rank ${rank}] `;
    return {
      data: (d: Buffer) => {
        const lines = (rest + d.toString('utf8')).split('\n');
        rest = lines.pop() as string;
        if (lines.length) sink(lines.map((l) => tag + l + '\n').join(''));
      },
      end: () => {
        if (rest) sink(tag + rest + '\n');
        rest = '';
      },
    };
  };

  const done: Promise<void>[] = [];
  try {
    for (let local = 0; local < nproc; local++) {
      const rank = nodeRank * nproc + local;
      const env = {
        ...base,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(worldSize),
        LOCAL_WORLD_SIZE: String(nproc),
        GROUP_RANK: String(nodeRank),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
        LTKIT_NUM_THREADS: threads,
        ...(o.timeoutMs !== undefined ? { LTKIT_DIST_TIMEOUT_MS: String(o.timeoutMs) } : {}),
      };
      const child = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const exit: RankExit = { rank, pid: child.pid, code: null, signal: null };
      ranks.push(exit);
      live.set(rank, child);
      const so = prefixer(rank, out);
      const se = prefixer(rank, err);
      child.stdout?.on('data', so.data);
      child.stderr?.on('data', se.data);
      done.push(
        new Promise<void>((resolve) => {
          let settled = false;
          const settle = () => {
            if (settled) return;
            settled = true;
            so.end();
            se.end();
            resolve();
          };
          const onExit = (code: number | null, signal: NodeJS.Signals | null, error?: Error) => {
            if (!live.has(rank)) return;
            live.delete(rank);
            exit.code = code;
            exit.signal = signal;
            if ((code !== 0 || signal !== null) && failed === null && interrupted === null) {
              const what = error ? `could not start (${error.message})` : describe(code, signal);
              failed = { ...exit, message: `rank ${rank} (pid ${String(child.pid)}) ${what}` };
              if (live.size > 0) {
                log(`${failed.message}; stopping the other ranks (SIGTERM, SIGKILL after ${graceMs} ms)`);
                stopAll();
              } else log(failed.message);
            }
            if (live.size === 0 && killTimer) clearTimeout(killTimer);
            // The output pipes close with the child, unless something it started holds them: wait a little.
            if (error) settle();
            else setTimeout(settle, 1000).unref();
          };
          child.on('error', (e) => onExit(null, null, e));
          child.on('exit', (code, signal) => onExit(code, signal));
          child.on('close', () => {
            if (!live.has(rank)) settle();
          });
        }),
      );
    }
    await Promise.all(done);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    if (killTimer) clearTimeout(killTimer);
  }
  const f = failed as LaunchResult['failed'];
  let code = 0;
  if (f !== null) {
    code = f.code !== null && f.code !== 0 ? f.code : f.signal ? 128 + (os.constants.signals[f.signal] ?? 0) : 1;
    log(`failed: ${f.message}`);
  } else if (interrupted !== null) {
    code = 130;
    log(`stopped by ${interrupted as string}`);
  }
  return { code, failed: f, interrupted, ranks };
}
