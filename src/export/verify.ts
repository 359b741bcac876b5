// Checks an exported ONNX file against the model it came from: the same float32 inputs through ltkit (libtorch,
// eval mode) and through ONNX Runtime (onnxruntime-node, CPU execution provider, its default graph
// optimisations — what a consumer of the file gets); compares the logits and the top-1 classes.
import { Tensor, noGrad, tidy } from '../engine';
import { contiguous, toDevice } from '../engine/ops.generated';
import type { Module } from '../nn/module';

/** ONNX Runtime is loaded on first use only (its native library is large, and most commands never need it). */
async function ort(): Promise<typeof import('onnxruntime-node')> {
  try {
    return await import('onnxruntime-node');
  } catch (e) {
    throw new Error(
      `ONNX Runtime (npm package onnxruntime-node) cannot be loaded: ${(e as Error).message}. ` +
        'Install the project dependencies (npm install); the check can be skipped with --verify 0',
    );
  }
}

export interface OnnxRunOptions {
  inputName?: string;
  outputName?: string;
  /** ONNX Runtime intra-op threads (default: its own choice). */
  threads?: number;
}

/** Runs an ONNX model on one float32 input with ONNX Runtime (CPU); returns the output's values and dims. */
export async function runOnnx(
  bytes: Uint8Array,
  input: Float32Array,
  dims: number[],
  o: OnnxRunOptions = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  const rt = await ort();
  const session = await rt.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
  });
  try {
    const inputName = o.inputName ?? session.inputNames[0];
    const outputName = o.outputName ?? session.outputNames[0];
    const result = await session.run({ [inputName]: new rt.Tensor('float32', input, dims) });
    const out = result[outputName];
    return { data: Float32Array.from(out.data as Float32Array), dims: [...out.dims] };
  } finally {
    await session.release();
  }
}

export interface OnnxCheck {
  /** Inputs compared. */
  n: number;
  /** max |logit(ltkit) − logit(ONNX Runtime)| over every input and class. */
  maxAbsDiff: number;
  /** max |logit| of the model (the scale the difference is measured against). */
  maxAbsLogit: number;
  /** Inputs whose top-1 class is the same. */
  top1Agree: number;
  /** Disagreements on inputs whose two best ltkit logits are within 2·tolerance (a tie either way). */
  nearTies: number;
  tolerance: number;
  /** maxAbsDiff ≤ tolerance and every top-1 disagreement is a near tie. */
  ok: boolean;
  runtime: string;
}

function argmaxRows(a: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (a[r * cols + c] > a[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** Float32 NCHW values of a tensor (CPU copy in standard layout, e.g. of a channels-last batch). */
export function tensorValues(t: Tensor): Float32Array {
  return noGrad(() => tidy(() => contiguous(toDevice(t.detach(), 'cpu', 'float32')).toArray() as Float32Array));
}

/**
 * Runs `input` [N, C, H, W] through `model` (eval mode, no grad; its train/eval flags are restored) and through
 * the ONNX file, and compares the logits.
 */
export async function checkOnnx(
  bytes: Uint8Array,
  model: Module,
  input: Tensor,
  o: OnnxRunOptions & { tolerance?: number } = {},
): Promise<OnnxCheck> {
  const tolerance = o.tolerance ?? 1e-4;
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  let expected: Float32Array;
  try {
    expected = noGrad(() => tidy(() => tensorValues(model.forward(input))));
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  const got = await runOnnx(bytes, tensorValues(input), input.shape, o);
  const n = input.shape[0];
  const classes = expected.length / n;
  if (got.data.length !== expected.length || got.dims[0] !== n) {
    throw new Error(`ONNX output has shape [${got.dims}], the model's is [${n}, ${classes}]`);
  }
  let maxAbsDiff = 0;
  let maxAbsLogit = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(expected[i] - got.data[i]);
    if (!(d <= maxAbsDiff)) maxAbsDiff = d; // NaN sticks
    maxAbsLogit = Math.max(maxAbsLogit, Math.abs(expected[i]));
  }
  const a = argmaxRows(expected, n, classes);
  const b = argmaxRows(got.data, n, classes);
  let top1Agree = 0;
  let nearTies = 0;
  for (let r = 0; r < n; r++) {
    if (a[r] === b[r]) top1Agree++;
    else if (expected[r * classes + a[r]] - expected[r * classes + b[r]] <= 2 * tolerance) nearTies++;
  }
  const rt = await ort();
  return {
    n,
    maxAbsDiff,
    maxAbsLogit,
    top1Agree,
    nearTies,
    tolerance,
    ok: maxAbsDiff <= tolerance && top1Agree + nearTies === n,
    runtime: `onnxruntime-node ${rt.env.versions?.node ?? '?'} (CPU)`,
  };
}
