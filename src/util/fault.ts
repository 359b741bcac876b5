// Fault injection for the crash-consistency tests: with LTKIT_FAULT=<point> (or <point>@<n>) in the
// environment, the process kills itself with SIGKILL the n-th time (default the first) execution reaches
// `faultPoint(<point>)` — as a power cut or `kill -9` would at that instant. Unset, a point costs one
// comparison. The points are listed here so the tests can try every one of them.

/** Every write point a kill can hit (resume.test.ts and faults.test.ts kill at each). */
export const FAULT_POINTS = [
  'checkpoint:model', // a checkpoint's files, each just written into its temporary folder
  'checkpoint:optimizer',
  'checkpoint:best',
  'checkpoint:state',
  'checkpoint:synced', // the temporary folder complete and synced, not yet renamed
  'checkpoint:renamed', // the folder in place, latest.json not yet switched
  'checkpoint:committed', // latest.json switched, the previous checkpoint not yet removed
  'atomic:run.json', // an atomic file written to its temporary, not yet renamed over the old one
  'atomic:final-metrics.json',
  'atomic:subset-indices.json',
  'metrics:appended', // an epoch's metrics line appended
  'metrics:torn', // half an epoch's metrics line written
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

const spec = /^([\w:.-]+)(?:@(\d+))?$/.exec(process.env.LTKIT_FAULT ?? '');
const target = spec ? { point: spec[1], n: Number(spec[2] ?? 1) } : null;
let reached = 0;

/** True when the process is to die at this occurrence of `point` (the caller may do a partial write first). */
export function faultDue(point: FaultPoint): boolean {
  return target !== null && target.point === point && ++reached === target.n;
}

/** Kills the process (SIGKILL) when LTKIT_FAULT names this point and occurrence. */
export function faultPoint(point: FaultPoint): void {
  if (faultDue(point)) die();
}

export function die(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL');
}
