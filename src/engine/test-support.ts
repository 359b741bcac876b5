// For tests that count live tensors: the count after a full garbage collection (scripts/run-tests.js runs
// node with --expose-gc). Tensors that only the collector still held — garbage from an earlier test — are
// freed first, so a count taken before a block of code compares exactly with one taken after it.
import { memory } from './tensor';

export function settledMemory(): { numTensors: number; numBytes: number } {
  (globalThis as { gc?: () => void }).gc?.();
  return memory();
}
