// The execution context (ARCHITECTURE.md "Execution context and scale-out"): where and how a run
// executes — device, precision, process rank and world size — passed together to the training loop,
// the loader (sampler sharding) and the hooks (only the main process writes files). One CPU process is
// rank 0 of a world of 1; multi-process training fills in rank and world size from torchrun's
// environment conventions once process groups exist.

import type { Tensor } from '../engine';
import { resolvePrecision } from '../engine/precision';
import type { AmpPrecision, PrecisionSetting } from '../engine/precision';

/** The precision a run computes in, resolved (never 'auto'): fp32, bf16 autocast, or fp16 autocast + gradient scaler. */
export type Precision = AmpPrecision;

export interface ExecContext {
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  /** The training step's forward and losses, and evaluation forwards, run under autocast unless fp32 (loop.ts). */
  readonly precision: Precision;
  /** This process's rank in [0, worldSize). */
  readonly rank: number;
  readonly worldSize: number;
  /** Rank 0: the process that writes run files, checkpoints and progress. */
  readonly isMain: boolean;
  /** Models and batches in channels-last memory order (oneDNN's faster CPU convolutions). */
  readonly channelsLast: boolean;
  /**
   * The process group joining the ranks when worldSize > 1 (src/dist), else null. Typed structurally so
   * that core/ does not depend on the distributed runtime.
   */
  readonly group: Collectives | null;
  /** With several processes: find parameters a step leaves without a gradient (DDP's find_unused_parameters). */
  readonly findUnusedParameters?: boolean;
}

/** The collectives data-parallel training uses (src/dist's ProcessGroup provides them). */
export interface Collectives {
  readonly rank: number;
  readonly worldSize: number;
  allreduce(tensors: Tensor[], op?: 'sum' | 'avg' | 'max' | 'min'): void;
  broadcast(tensors: Tensor[], root?: number): void;
  allgather(t: Tensor): Tensor[];
  /** Σ over ranks, differentiable (backward sums the ranks' gradients): SyncBatchNorm's statistics. */
  sumDifferentiable(t: Tensor): Tensor;
  barrier(): void;
}

/**
 * The context of one local process. `precision` is the `train.precision` setting ('auto' is decided here by
 * the CPU's flags — `cpuFlags` overrides /proc/cpuinfo's, for tests); fp16 off CUDA is an error.
 */
export function localContext(
  o: { device?: string; channelsLast?: boolean; precision?: PrecisionSetting; cpuFlags?: string } = {},
): ExecContext {
  const device = o.device ?? 'cpu';
  return {
    device,
    precision: resolvePrecision(o.precision ?? 'fp32', device, o.cpuFlags),
    rank: 0,
    worldSize: 1,
    isMain: true,
    // Channels-last is a CPU oneDNN speed-up (same values to rounding, ~3e-7 relative).
    channelsLast: (o.channelsLast ?? true) && device === 'cpu',
    group: null,
  };
}
