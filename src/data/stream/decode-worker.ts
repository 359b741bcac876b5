// The worker thread of WorkerDecoder (./worker-decoder.ts): decodes the batches it is sent with sharp and
// posts each back on the channel port it was given (its pixels transferred, not copied), then wakes a main thread that may be blocked waiting.
// Imports only ./decode (never the libtorch addon).
import { parentPort, workerData, MessagePort } from 'worker_threads';
import { decodeFiles, DecodeSpec } from './decode';

interface Request {
  id: number;
  paths: string[];
  spec: DecodeSpec;
}

const data = workerData as { signal: SharedArrayBuffer; port: MessagePort };
const signal = new Int32Array(data.signal);
const reply = data.port;
if (parentPort) {
  parentPort.on('message', (r: Request) => {
    void decodeFiles(r.paths, r.spec)
      .then(
        (b) => ({ id: r.id, batch: b, error: null as string | null }),
        (e: Error) => ({ id: r.id, batch: null, error: e.message }),
      )
      .then((msg) => {
        reply.postMessage(msg, msg.batch ? [msg.batch.data.buffer as ArrayBuffer] : []);
        Atomics.add(signal, 0, 1);
        Atomics.notify(signal, 0);
      });
  });
}
