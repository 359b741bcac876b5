// The worker thread of WorkerDecoder (./worker-decoder.ts): decodes the batches it is sent with sharp and
// posts each back on the channel port it was given (its pixels transferred, not copied), then wakes a main thread
// that may be blocked waiting. Pixel buffers the loader has finished with come back (`recycle`) and are decoded
// into again, so a steady epoch allocates no batch buffers on either thread.
// Imports only ./decode (never the libtorch addon).
import * as v8 from 'v8';
import * as vm from 'vm';
import { parentPort, workerData, MessagePort } from 'worker_threads';
import { decodeFiles, DecodeSpec, tuneSharpForBatches } from './decode';

interface Request {
  id: number;
  paths: string[];
  spec: DecodeSpec;
}

/**
 * Returned buffers kept for reuse (matched by size; the oldest is dropped beyond this). In a steady epoch about
 * one waits here at a time — the next request usually arrives before the last batch comes back — so this leaves
 * room for a second batch size (an evaluation loader's, an epoch's shorter last batch) without holding more than
 * a few batches' worth of pixels.
 */
const POOL_MAX = 4;

const data = workerData as { signal: SharedArrayBuffer; port: MessagePort };
const signal = new Int32Array(data.signal);
const reply = data.port;
const pool: ArrayBuffer[] = [];

/** A returned buffer of exactly `bytes` bytes, if one is waiting. */
function takeBuffer(bytes: number): Uint8Array | undefined {
  const i = pool.findIndex((b) => b.byteLength === bytes);
  return i < 0 ? undefined : new Uint8Array(pool.splice(i, 1)[0]);
}

/**
 * A minor (young-generation) collection of this worker's heap after each batch (about 0.7 ms) and a full one
 * after every 16th (about 8 ms). Every image leaves two dead buffers that only V8 frees: the file's bytes and
 * sharp's pixels (40 + 196 KB at 224²); most die young, but those of the batch still decoding when a minor
 * collection runs survive into the old generation. Left to V8's own pace — a collection once tens of MB of such
 * external memory have piled up — the malloc arenas grew to hold the pile and, never trimmed (the libtorch addon
 * raises glibc's trim threshold to 1 GiB), kept it: RSS rose in steps over the first epochs. `gc` is exposed
 * through the V8 flag for this thread's use only; where that is refused, collection is left to V8.
 */
const collect = ((): (() => void) | null => {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    let batches = 0;
    return () => gc({ type: ++batches % 16 === 0 ? 'major' : 'minor' });
  } catch {
    return null;
  }
})();

tuneSharpForBatches();
if (parentPort) {
  parentPort.on('message', (m: Request | { recycle: ArrayBuffer }) => {
    if ('recycle' in m) {
      if (pool.length >= POOL_MAX) pool.shift();
      pool.push(m.recycle);
      return;
    }
    const r = m;
    const S = r.spec.size;
    void decodeFiles(r.paths, r.spec, takeBuffer(r.paths.length * S * S * 3))
      .then(
        (b) => ({ id: r.id, batch: b, error: null as string | null }),
        (e: Error) => ({ id: r.id, batch: null, error: e.message }),
      )
      .then((msg) => {
        reply.postMessage(msg, msg.batch ? [msg.batch.data.buffer as ArrayBuffer] : []);
        collect?.();
        Atomics.add(signal, 0, 1);
        Atomics.notify(signal, 0);
      });
  });
}
