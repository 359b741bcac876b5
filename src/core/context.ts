// The execution context (ARCHITECTURE.md "Execution context and scale-out"): where and how a run
// executes — device, precision, process rank and world size — passed together to the training loop,
// the loader (sampler sharding) and the hooks (only the main process writes files). One CPU process is
// rank 0 of a world of 1; multi-process training fills in rank and world size from torchrun's
// environment conventions once process groups exist.

export type Precision = 'fp32';

export interface ExecContext {
  /** 'cpu' or 'cuda:N'. */
  readonly device: string;
  readonly precision: Precision;
  /** This process's rank in [0, worldSize). */
  readonly rank: number;
  readonly worldSize: number;
  /** Rank 0: the process that writes run files, checkpoints and progress. */
  readonly isMain: boolean;
  /** Models and batches in channels-last memory order (oneDNN's faster CPU convolutions). */
  readonly channelsLast: boolean;
}

/** The context of one local process. */
export function localContext(o: { device?: string; channelsLast?: boolean } = {}): ExecContext {
  const device = o.device ?? 'cpu';
  return {
    device,
    precision: 'fp32',
    rank: 0,
    worldSize: 1,
    isMain: true,
    // Channels-last is a CPU oneDNN speed-up (same values to rounding, ~3e-7 relative).
    channelsLast: (o.channelsLast ?? true) && device === 'cpu',
  };
}
