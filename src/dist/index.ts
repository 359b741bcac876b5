// Process groups over PyTorch's own distributed runtime (c10d, native/src/dist.cc): Gloo on CPU, NCCL on CUDA
// builds of libtorch, joined through a TCPStore (torchrun's MASTER_ADDR/MASTER_PORT) or a FileStore; and
// GradReducer, DDP's gradient bucketing (c10d::Reducer) for data-parallel training.
//
// Collectives block the JS thread until every rank has taken part or the group's timeout has passed; a peer that
// died ends them with an Error naming the op and this rank (Gloo notices the closed connection at once), so a
// surviving rank never waits for ever.
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, runtimeInfo } from '../engine';
import { native, Handle } from '../engine/native';

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';
export type Backend = 'gloo' | 'nccl';

/** Where the ranks meet: a TCPStore (hosted by rank 0 unless `server` says otherwise) or a FileStore. */
export type StoreSpec =
  | { kind: 'tcp'; host: string; port: number; server?: boolean; prefix?: string }
  | { kind: 'file'; path: string; prefix?: string };

export interface ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  /** In place, over every rank; 'avg' = sum / worldSize. Tensors may differ in shape and dtype. */
  allreduce(tensors: Tensor[], op?: ReduceOp): void;
  /** In place: every rank ends with `root`'s values (default rank 0). */
  broadcast(tensors: Tensor[], root?: number): void;
  /** worldSize new tensors, in rank order (same shape and dtype on every rank). */
  allgather(t: Tensor): Tensor[];
  /**
   * A new tensor Σ_r t_r that autograd differentiates: its backward sums every rank's gradient of the result
   * (torch.distributed.nn.all_reduce). All ranks must call it in the same order, in forward and in backward.
   */
  sumDifferentiable(t: Tensor): Tensor;
  barrier(): void;
  /** Leaves the group (its threads and connections; the TCPStore if this rank hosts it). Idempotent. */
  destroy(): void;
}

export interface InitOptions {
  rank: number;
  worldSize: number;
  store: StoreSpec;
  backend?: Backend;
  /** Each collective's limit, and the rendezvous's (default 30 minutes, as torch.distributed). */
  timeoutMs?: number;
  /** Gloo's network: an interface name (default $GLOO_SOCKET_IFNAME) or an address/hostname to bind. */
  glooInterface?: string;
  glooHost?: string;
}

/** torch.distributed's default process-group timeout (30 minutes). */
export const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

interface DistAddon {
  DistSupport?(): { gloo: boolean; nccl: boolean };
  PgNew(o: unknown): Handle;
  PgAllreduce(g: Handle, ts: Handle[], op: ReduceOp): void;
  PgBroadcast(g: Handle, ts: Handle[], root: number): void;
  PgAllgather(g: Handle, t: Handle): Handle[];
  PgSumDiff(g: Handle, t: Handle): Handle;
  PgBarrier(g: Handle): void;
  PgDestroy(g: Handle): void;
  ReducerNew(g: Handle, params: Handle[], bucketCapMB: number, findUnused: boolean, names: string[] | null): Handle;
  ReducerPrepare(r: Handle, outputs: Handle[]): void;
  ReducerDispose(r: Handle): void;
}
const addon = native as unknown as DistAddon;

/** Why c10d is missing, as scripts/setup.sh found it when it built the addon (native/build/c10d.txt). */
function buildNote(): string | null {
  const file = path.resolve(__dirname, '..', '..', '..', 'native', 'build', 'c10d.txt');
  try {
    return fs.readFileSync(file, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * What this build can do: `backends` usable now (gloo; nccl when compiled in and CUDA is present), what the
 * addon was compiled with, and — when nothing is usable — why.
 */
export function distributedSupport(): {
  available: boolean;
  backends: Backend[];
  compiled: { gloo: boolean; nccl: boolean };
  why?: string;
} {
  const compiled = addon.DistSupport ? addon.DistSupport() : { gloo: false, nccl: false };
  const backends: Backend[] = [];
  if (compiled.gloo) backends.push('gloo');
  if (compiled.nccl && runtimeInfo().cuda) backends.push('nccl');
  if (backends.length > 0) return { available: true, backends, compiled };
  let why: string;
  if (!addon.DistSupport) why = 'the native addon predates process groups; rebuild it with `npm run setup`';
  else if (compiled.nccl) why = 'the addon has NCCL only, and no CUDA device is visible';
  else {
    why =
      'the native addon was built without c10d process groups' +
      ` (${buildNote() ?? "scripts/setup.sh enables Gloo when libtorch ships c10d and gloo's headers (libgloo-dev) are installed"})`;
  }
  return { available: false, backends, compiled, why };
}

function checkInt(v: number, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what}: ${String(v)} (expected an integer in [${min}, ${max}])`);
  }
  return v;
}

const isLoopback = (host: string) => /^(127\.|localhost$|::1$|\[::1\]$)/.test(host);

class NativeProcessGroup implements ProcessGroup {
  /** @internal */
  handle: Handle;
  constructor(
    handle: Handle,
    readonly rank: number,
    readonly worldSize: number,
    readonly backend: Backend,
  ) {
    this.handle = handle;
  }
  allreduce(tensors: Tensor[], op: ReduceOp = 'sum'): void {
    addon.PgAllreduce(
      this.handle,
      tensors.map((t) => t.handle),
      op,
    );
  }
  broadcast(tensors: Tensor[], root = 0): void {
    addon.PgBroadcast(
      this.handle,
      tensors.map((t) => t.handle),
      root,
    );
  }
  allgather(t: Tensor): Tensor[] {
    return addon.PgAllgather(this.handle, t.handle).map((h) => new Tensor(h));
  }
  sumDifferentiable(t: Tensor): Tensor {
    return new Tensor(addon.PgSumDiff(this.handle, t.handle));
  }
  barrier(): void {
    addon.PgBarrier(this.handle);
  }
  destroy(): void {
    addon.PgDestroy(this.handle);
  }
}

/**
 * Joins a process group: blocks until all `worldSize` ranks have joined through the store (or the timeout).
 * Throws when this build has no c10d or lacks the backend (distributedSupport() says why).
 */
export function initProcessGroup(o: InitOptions): ProcessGroup {
  const backend = o.backend ?? 'gloo';
  const support = distributedSupport();
  if (!support.backends.includes(backend)) {
    throw new Error(
      `initProcessGroup: backend '${backend}' is not available in this build` +
        (support.available ? ` (available: ${support.backends.join(', ')})` : `: ${support.why}`),
    );
  }
  const worldSize = checkInt(o.worldSize, 'initProcessGroup worldSize', 1);
  const rank = checkInt(o.rank, 'initProcessGroup rank', 0, worldSize - 1);
  const timeoutMs = checkInt(o.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'initProcessGroup timeoutMs', 1);
  const s = o.store;
  let store: Record<string, unknown>;
  if (s.kind === 'tcp') {
    if (!s.host) throw new TypeError('initProcessGroup store.host: empty');
    checkInt(s.port, 'initProcessGroup store.port', 1, 65535);
    store = { ...s, server: s.server ?? rank === 0 };
  } else if (s.kind === 'file') {
    if (!s.path) throw new TypeError('initProcessGroup store.path: empty');
    store = { ...s, path: path.resolve(s.path) };
  } else {
    throw new TypeError(`initProcessGroup store.kind: '${(s as { kind: string }).kind}' (allowed: tcp, file)`);
  }
  // Gloo binds to an interface or an address; torch's default resolves this machine's hostname. A store on the
  // loopback address means every rank is on this machine: keep Gloo there too.
  const iface = o.glooInterface ?? process.env.GLOO_SOCKET_IFNAME;
  const gloo = iface
    ? { iface }
    : o.glooHost
      ? { host: o.glooHost }
      : s.kind === 'tcp' && isLoopback(s.host)
        ? { host: '127.0.0.1' }
        : {};
  const h = addon.PgNew({ rank, worldSize, backend, timeoutMs, store, gloo });
  return new NativeProcessGroup(h, rank, worldSize, backend);
}

/** torchrun's environment for this process, or null when WORLD_SIZE is unset. */
export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') return null;
  const int = (name: string, min: number, max = Number.MAX_SAFE_INTEGER, fallback?: string): number => {
    const raw = env[name] ?? fallback;
    if (raw === undefined || raw === '') throw new Error(`environment variable ${name} is not set (WORLD_SIZE is)`);
    const v = Number(raw);
    if (!/^\s*\d+\s*$/.test(raw) || v < min || v > max) {
      throw new Error(`environment variable ${name}='${raw}': expected an integer in [${min}, ${max}]`);
    }
    return v;
  };
  const worldSize = int('WORLD_SIZE', 1);
  const rank = int('RANK', 0, worldSize - 1, worldSize === 1 ? '0' : undefined);
  const localRank = int('LOCAL_RANK', 0, worldSize - 1, String(rank));
  const masterAddr = env.MASTER_ADDR || '127.0.0.1';
  const masterPort = int('MASTER_PORT', 1, 65535, worldSize === 1 ? '29500' : undefined);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

/** The backend LTKIT_DIST_BACKEND names (gloo or nccl; anything else is an error), or null when it is unset. */
export function backendFromEnv(): Backend | null {
  const env = process.env.LTKIT_DIST_BACKEND;
  if (!env) return null;
  if (env === 'gloo' || env === 'nccl') return env;
  throw new Error(`environment variable LTKIT_DIST_BACKEND='${env}': expected gloo or nccl`);
}

/**
 * The process group of a process started by `ltkit launch` or torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT); null when WORLD_SIZE is unset or 1. Under torchrun's own store
 * (TORCHELASTIC_USE_AGENT_STORE=True) every rank is a client of the agent's TCPStore, with torch's key prefix.
 * LTKIT_DIST_TIMEOUT_MS sets the timeout when the options do not.
 */
export function processGroupFromEnv(o: { backend?: Backend; timeoutMs?: number } = {}): ProcessGroup | null {
  const e = distEnv();
  if (e === null || e.worldSize === 1) return null;
  const agentStore = process.env.TORCHELASTIC_USE_AGENT_STORE === 'True';
  const envTimeout = process.env.LTKIT_DIST_TIMEOUT_MS;
  let timeoutMs = o.timeoutMs;
  if (timeoutMs === undefined && envTimeout) {
    timeoutMs = Number(envTimeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new Error(`environment variable LTKIT_DIST_TIMEOUT_MS='${envTimeout}': expected a positive integer`);
    }
  }
  return initProcessGroup({
    rank: e.rank,
    worldSize: e.worldSize,
    backend: o.backend ?? backendFromEnv() ?? 'gloo',
    timeoutMs,
    store: {
      kind: 'tcp',
      host: e.masterAddr,
      port: e.masterPort,
      server: agentStore ? false : e.rank === 0,
      prefix: agentStore ? `/worker/attempt_${process.env.TORCHELASTIC_RESTART_COUNT ?? '0'}` : undefined,
    },
  });
}

/**
 * Data-parallel gradient averaging with PyTorch's own c10d::Reducer (buckets, allreduce overlapped with backward
 * through autograd hooks), set up as torch.nn.parallel.DistributedDataParallel does (PyTorch 1.13,
 * distributed.py): one bucket for the first iteration, then buckets of `bucketCapMB` (default 25; the first
 * 1 MiB) rebuilt in the order backward produced the gradients. Construct once on every rank with the trainable
 * parameters (rank 0's values must already be broadcast; shapes are checked across ranks); call
 * prepareForBackward(outputs) before each backward; after backward every param.grad holds the average over
 * ranks. With findUnusedParameters, `outputs` are searched for parameters the step did not use (their gradient
 * counts as zero), as DDP's find_unused_parameters.
 */
export class GradReducer {
  private handle: Handle | null;
  constructor(
    pg: ProcessGroup,
    params: Tensor[],
    o: { bucketCapMB?: number; findUnusedParameters?: boolean; names?: string[] } = {},
  ) {
    if (!(pg instanceof NativeProcessGroup)) {
      throw new TypeError('GradReducer: pg must be a process group from initProcessGroup or processGroupFromEnv');
    }
    if (o.names && o.names.length !== params.length) {
      throw new RangeError(`GradReducer: ${o.names.length} names for ${params.length} parameters`);
    }
    this.handle = addon.ReducerNew(
      pg.handle,
      params.map((p) => p.handle),
      o.bucketCapMB ?? 25,
      o.findUnusedParameters ?? false,
      o.names ?? null,
    );
  }
  prepareForBackward(outputs: Tensor[] = []): void {
    if (this.handle === null) throw new Error('GradReducer.prepareForBackward: the reducer was disposed');
    addon.ReducerPrepare(
      this.handle,
      outputs.map((t) => t.handle),
    );
  }
  /** Removes the autograd hooks; later backwards leave local gradients. Idempotent. */
  dispose(): void {
    if (this.handle !== null) addon.ReducerDispose(this.handle);
    this.handle = null;
  }
}

export { launch } from './launch';
export type { LaunchOptions, LaunchResult } from './launch';
