// `ltkit export`: a run's model — every stage of its recipe applied, as `ltkit eval` and `predict` load it
// (train/run-model.ts) — written as an ONNX file, then checked with ONNX Runtime on a batch of the run's test
// images (after the test transform): max logit difference and top-1 agreement.
import * as path from 'path';
import { tensor, tidy, randn, keep, dispose } from '../engine';
import type { Tensor } from '../engine';
import { buildTrainData } from '../data/train-data';
import { loadRunModel, LoadedRun, RunCheckpoint } from '../train/run-model';
import { ltkitVersion } from '../train/run-dir';
import { writeFileAtomic } from '../util/fs';
import { exportOnnx, DEFAULT_OPSET } from './onnx';
import { checkOnnx, OnnxCheck } from './verify';

export interface ExportRunOptions {
  /** 'final' (default): every stage applied; 'best': the selected epoch of the main training. */
  checkpoint?: RunCheckpoint;
  /** The .onnx file (default RUN/model.onnx, or RUN/model-best.onnx for 'best'). */
  out?: string;
  opset?: number;
  /** Test images to check the file on with ONNX Runtime (default 64; 0 = no check). */
  verify?: number;
  /** Largest logit difference the check accepts (default 1e-4). */
  tolerance?: number;
  /** ONNX Runtime threads for the check. */
  threads?: number;
}

export interface ExportRunResult {
  file: string;
  bytes: number;
  /** Which weights, in words (as `ltkit eval` prints). */
  model: string;
  opset: number;
  irVersion: number;
  ops: Record<string, number>;
  metadata: Record<string, string>;
  /** The ONNX Runtime comparison, or null with --verify 0. */
  check: (OnnxCheck & { inputs: string }) | null;
}

/**
 * What a consumer needs to feed the graph (ModelProto.metadata_props; string values, arrays as JSON). The graph
 * takes float32 NCHW after the test transform; the transform itself is not in the graph.
 */
export function runMetadata(r: LoadedRun, which: RunCheckpoint): Record<string, string> {
  const [h, w, c] = r.input.imageShape;
  return {
    model: r.description,
    run: path.basename(path.resolve(r.run.dir)),
    checkpoint: which,
    architecture: r.config.model.name,
    recipe: r.config.method.recipe,
    dataset: r.config.data.dataset,
    num_classes: String(r.info.data.numClasses),
    class_names: JSON.stringify(r.info.data.classNames),
    input_name: 'input',
    input_layout: 'NCHW',
    input_dtype: 'float32',
    input_channels: String(c),
    input_height: String(h),
    input_width: String(w),
    mean: JSON.stringify(r.input.mean),
    std: JSON.stringify(r.input.std),
    preprocessing:
      `not in the graph: image resized to ${h}x${w}, ${c === 1 ? 'gray' : 'RGB'} pixels p in 0..255, ` +
      'x[c] = (p[c] / 255 - mean[c]) / std[c], laid out NCHW float32',
    output: 'logits [batch, num_classes], before softmax',
    ltkit_version: ltkitVersion(),
  };
}

/** Up to `n` test images spread over the test set (after the test transform), or N(0, 1) inputs when the
 * run's data cannot be loaded here. */
function checkInputs(r: LoadedRun, n: number): { x: Tensor; inputs: string } {
  const [h, w, c] = r.input.imageShape;
  try {
    const test = buildTrainData(r.config.data).test;
    const total = test.targets.length;
    const k = Math.min(n, total);
    const per = h * w * c;
    const bytes = new Uint8Array(k * per);
    for (let i = 0; i < k; i++) {
      const j = Math.floor((i * total) / k);
      bytes.set(test.images.subarray(j * per, (j + 1) * per), i * per);
    }
    return {
      x: keep(tidy(() => r.pipes.test(tensor(bytes, [k, h, w, c], 'uint8')))),
      inputs: `${k} test images of ${r.config.data.dataset}`,
    };
  } catch (e) {
    return {
      x: keep(randn([n, c, h, w])),
      inputs: `${n} N(0,1) inputs (the run's test data could not be loaded: ${(e as Error).message.split('\n')[0]})`,
    };
  }
}

export async function exportRun(dir: string, o: ExportRunOptions = {}): Promise<ExportRunResult> {
  const which = o.checkpoint ?? 'final';
  const r = loadRunModel(dir, which);
  try {
    const [h, w, c] = r.input.imageShape;
    const metadata = runMetadata(r, which);
    const e = exportOnnx(r.model, {
      inputShape: [c, h, w],
      opset: o.opset ?? DEFAULT_OPSET,
      metadata,
      graphName: `${metadata.architecture} (${metadata.recipe})`,
      docString: `ltkit run ${metadata.run}: ${r.description}. Input: ${metadata.preprocessing}.`,
      producerVersion: metadata.ltkit_version,
    });
    const file = o.out ?? r.run.file(which === 'best' ? 'model-best.onnx' : 'model.onnx');
    writeFileAtomic(file, Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength));
    let check: ExportRunResult['check'] = null;
    const n = o.verify ?? 64;
    if (n > 0) {
      const { x, inputs } = checkInputs(r, n);
      try {
        check = { ...(await checkOnnx(e.bytes, r.model, x, { tolerance: o.tolerance, threads: o.threads })), inputs };
      } finally {
        dispose(x);
      }
    }
    return {
      file,
      bytes: e.bytes.byteLength,
      model: r.description,
      opset: e.opset,
      irVersion: e.irVersion,
      ops: e.ops,
      metadata,
      check,
    };
  } finally {
    r.model.dispose();
  }
}
