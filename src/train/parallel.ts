// Data-parallel training (issue "Scale"): what the training core does differently when several processes
// train one model together. Each process holds a full replica; the configured batch is the global batch,
// split evenly (the loaders shard one seeded global order, see src/data/loader shardOrder); gradients are
// averaged with PyTorch's own c10d::Reducer (buckets allreduced while backward still runs, as
// torch.nn.parallel.DistributedDataParallel does); every rank therefore takes the same optimizer step.
//
// The pieces here are the only places the loop and the trainer touch the process group:
//   - the execution context from torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT);
//   - rank 0's weights and buffers broadcast to the others before training (DDP's _sync_module_states);
//   - per stage, a gradient reducer over the optimizer's trainable parameters;
//   - a stop request (Ctrl-C, a stop hook) agreed by all ranks at a step boundary, so no rank waits in a
//     collective for a peer that left the loop;
//   - the epoch's loss and accuracy sums reduced across ranks before the hooks see them.
import { ExecContext, localContext, Precision } from '../core/context';
import type { Optimizer } from '../core/task';
import { Tensor, tensor, tidy, noGrad } from '../engine';
import { GradReducer, backendFromEnv, distEnv, processGroupFromEnv, ProcessGroup } from '../dist';
import type { Backend } from '../dist';
import type { Module } from '../nn/module';
import { BatchNorm2d } from '../nn/layers';

let worldGroup: ProcessGroup | null | undefined;

/**
 * The process group of torchrun-style environment variables, created once per process (null: one process).
 * Its backend: LTKIT_DIST_BACKEND when set, else NCCL for a CUDA device (as torchrun users pass to
 * init_process_group; a pip CUDA libtorch ships no Gloo headers, so ltkit may have no Gloo there) and Gloo on CPU.
 */
export function environmentGroup(device = 'cpu'): ProcessGroup | null {
  if (worldGroup === undefined) {
    const backend = defaultBackend(device);
    worldGroup = process.env.WORLD_SIZE && process.env.WORLD_SIZE !== '1' ? processGroupFromEnv({ backend }) : null;
  }
  return worldGroup;
}

/** LTKIT_DIST_BACKEND, else 'nccl' for cuda devices and 'gloo' for the CPU. */
export function defaultBackend(device: string): Backend {
  return backendFromEnv() ?? (device.startsWith('cuda') ? 'nccl' : 'gloo');
}

/** The context of this process: a local one, or rank r of the launched world. */
export function executionContext(o: {
  device?: string;
  channelsLast?: boolean;
  precision?: Precision | 'auto';
  findUnusedParameters?: boolean;
}): ExecContext {
  const group = environmentGroup(o.device);
  // `device: cuda` under a launcher: each process takes the GPU of its local rank (torchrun's LOCAL_RANK).
  const device = group && o.device === 'cuda' ? `cuda:${distEnv()!.localRank}` : o.device;
  const local = localContext({ ...o, device });
  if (!group) return local;
  return {
    ...local,
    rank: group.rank,
    worldSize: group.worldSize,
    isMain: group.rank === 0,
    group,
    findUnusedParameters: o.findUnusedParameters ?? false,
  };
}

/** Rank 0's parameters and buffers copied into every other rank's replica (in place). */
export function broadcastModule(ctx: ExecContext, module: Module): void {
  if (!ctx.group) return;
  const tensors = [...module.parameters(), ...module.buffers()];
  noGrad(() => ctx.group!.broadcast(tensors, 0));
}

/** SyncBatchNorm: every BatchNorm of `module` takes its training statistics over all ranks. */
export function syncBatchNorms(ctx: ExecContext, module: Module): number {
  const group = ctx.group;
  if (!group) return 0;
  const norms = module.modules().filter((m): m is BatchNorm2d => m instanceof BatchNorm2d);
  for (const bn of norms) bn.sync = group;
  return norms.length;
}

/**
 * Numbers through a collective: one float64 tensor on the run's device (NCCL takes device tensors only), `op`
 * applied to it, the result back as numbers.
 */
export function numbersThrough(
  ctx: Pick<ExecContext, 'device'>,
  values: ArrayLike<number>,
  op: (t: Tensor) => void,
): Float64Array {
  return tidy(() => {
    const t = tensor(Float64Array.from(values), [values.length], { dtype: 'float64', device: ctx.device });
    op(t);
    return t.toArray() as Float64Array;
  });
}

/** Rank 0's values, on every rank (a decision only rank 0 may take, such as whether a run exists yet). */
export function fromMain(ctx: ExecContext, values: number[]): number[] {
  const group = ctx.group;
  if (!group) return values;
  return Array.from(numbersThrough(ctx, values, (t) => group.broadcast([t], 0)));
}

/**
 * Rank 0's buffers (BatchNorm running statistics) copied to every rank. DDP broadcasts them before every
 * forward (broadcast_buffers=True), so rank 0's statistics evolve from its own batches alone and the others'
 * are overwritten; training-mode forwards never read them, so doing it once before each evaluation gives every
 * rank what DDP would. With SyncBatchNorm they are equal anyway.
 */
export function broadcastBuffers(ctx: ExecContext, module: Module): void {
  if (!ctx.group) return;
  const buffers = module.buffers();
  if (buffers.length > 0) noGrad(() => ctx.group!.broadcast(buffers, 0));
}

/** What the loop calls when a stage trains on several ranks. */
export interface StageParallel {
  /** Before each backward: arms the reducer (gradients are averaged as backward produces them). */
  beforeBackward(outputs: Tensor[]): void;
  /** True when any rank asked to stop; every rank gets the same answer at the same step. */
  agreeStop(local: boolean): boolean;
  /** Element-wise sums across ranks. */
  sum(values: number[]): number[];
  dispose(): void;
}

/** The stage's data-parallel helper, or null in a one-process run. */
export function stageParallel(
  ctx: ExecContext,
  optimizer: Optimizer | null,
  o: { findUnusedParameters?: boolean } = {},
): StageParallel | null {
  const group = ctx.group;
  if (!group || ctx.worldSize <= 1) return null;
  const params = (optimizer?.parameters?.() ?? []).filter((p) => p.requiresGrad);
  // DDP's default: every trainable parameter gets a gradient each step. A model with branches a step may skip
  // needs train.findUnusedParameters (unused ones are then found from the loss's graph every step).
  const findUnused = o.findUnusedParameters ?? false;
  const reducer =
    params.length > 0 ? new GradReducer(group as ProcessGroup, params, { findUnusedParameters: findUnused }) : null;
  const arm = (outputs: Tensor[]) => {
    try {
      reducer?.prepareForBackward(outputs);
    } catch (e) {
      const hint = findUnused
        ? ''
        : ' (if some parameters get no gradient in a step, set train.findUnusedParameters=true)';
      throw new Error(`${(e as Error).message}${hint}`);
    }
  };
  const sum = (values: number[]): number[] =>
    Array.from(numbersThrough(ctx, values, (t) => group.allreduce([t], 'sum')));
  return {
    beforeBackward: arm,
    agreeStop: (local) => sum([local ? 1 : 0])[0] > 0,
    sum,
    dispose: () => reducer?.dispose(),
  };
}
