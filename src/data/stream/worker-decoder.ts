// WorkerDecoder: sharp decoding in a worker thread, awaited asynchronously (the training loop's async batch
// stream) or synchronously (evaluation, which the loop's hooks call synchronously). The synchronous wait
// blocks the JS thread in Atomics.wait until the worker posts the batch and bumps a shared counter, then takes
// the message with receiveMessageOnPort — so a synchronous iterator can still have batch i+1 decoding in the
// worker while batch i runs through the model.
import * as path from 'path';
import { Worker, MessageChannel, MessagePort, receiveMessageOnPort } from 'worker_threads';
import { DecodeSpec, DecodedBatch, ImageDecoder, loadSharp } from './decode';

interface Reply {
  id: number;
  batch: DecodedBatch | null;
  error: string | null;
}

export class WorkerDecoder implements ImageDecoder {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private readonly done = new Map<number, Reply>();
  private readonly waiting = new Map<number, (r: Reply) => void>();
  /** Batches sent and not yet back: while there are any, the reply port keeps the event loop alive. */
  private outstanding = 0;

  private start(): MessagePort {
    if (this.port) return this.port;
    // sharp must be loaded by the main thread before a worker loads it (glibc: keeps libvips resident).
    loadSharp();
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(path.join(__dirname, 'decode-worker.js'), {
      workerData: { signal: this.signal.buffer, port: port2 },
      transferList: [port2],
    });
    // Requests go over the worker's parentPort, replies come back on port1 (which receiveMessageOnPort can read).
    this.worker.unref();
    port1.on('message', (r: Reply) => this.arrive(r));
    port1.unref();
    this.worker.on('error', (e) => {
      this.outstanding = 0;
      port1.unref();
      for (const [id, cb] of this.waiting) cb({ id, batch: null, error: `decode worker failed: ${e.message}` });
      this.waiting.clear();
    });
    this.port = port1;
    return port1;
  }

  private arrive(r: Reply): void {
    if (--this.outstanding === 0) this.port?.unref();
    const cb = this.waiting.get(r.id);
    if (cb) {
      this.waiting.delete(r.id);
      cb(r);
    } else this.done.set(r.id, r);
  }

  /** Sends a batch to the worker; returns its ticket. */
  submit(paths: readonly string[], spec: DecodeSpec): number {
    const port = this.start();
    if (this.outstanding++ === 0) port.ref();
    const id = this.nextId++;
    (this.worker as Worker).postMessage({ id, paths: [...paths], spec });
    return id;
  }

  /** Awaits a submitted batch. */
  wait(id: number): Promise<DecodedBatch> {
    const r = this.done.get(id);
    const settle = (x: Reply): DecodedBatch => {
      if (!x.batch) throw new Error(x.error ?? 'decode failed');
      return x.batch;
    };
    if (r) {
      this.done.delete(id);
      return Promise.resolve().then(() => settle(r));
    }
    return new Promise<Reply>((resolve) => this.waiting.set(id, resolve)).then(settle);
  }

  /** Blocks until a submitted batch is decoded (the worker keeps decoding later batches meanwhile). */
  waitSync(id: number): DecodedBatch {
    for (;;) {
      const r = this.done.get(id);
      if (r) {
        this.done.delete(id);
        if (!r.batch) throw new Error(r.error ?? 'decode failed');
        return r.batch;
      }
      const seen = Atomics.load(this.signal, 0);
      // Messages the event loop has not delivered yet are taken straight from the worker's port.
      const m = receiveMessageOnPort(this.port as MessagePort);
      if (m) {
        this.arrive(m.message as Reply);
        continue;
      }
      Atomics.wait(this.signal, 0, seen, 1000);
    }
  }

  /** Hands a batch's pixel buffer back to the worker to decode into again (ImageDecoder.recycle). */
  recycle(data: Uint8Array): void {
    // Only a whole buffer the worker made can go back; a view of part of one (or one from elsewhere) is left to GC.
    if (!this.worker || data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength || data.byteLength === 0)
      return;
    const buf = data.buffer as ArrayBuffer;
    this.worker.postMessage({ recycle: buf }, [buf]);
  }

  /** Submit + await (the ImageDecoder interface). */
  decodeBatch(paths: readonly string[], spec: DecodeSpec): Promise<DecodedBatch> {
    return this.wait(this.submit(paths, spec));
  }

  /** Stops the worker thread. */
  close(): void {
    void this.worker?.terminate();
    this.port?.close();
    this.worker = null;
    this.port = null;
  }
}

let shared: WorkerDecoder | null = null;

/** The process's decode worker (started on first use, one thread; sharp spreads each batch over libuv's pool). */
export function sharedDecoder(): WorkerDecoder {
  shared ??= new WorkerDecoder();
  return shared;
}
