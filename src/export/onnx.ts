// ONNX export of an ltkit classifier: a structural exporter, not a tracer. Every module class has one emitter
// that writes the ONNX nodes its `forward` computes (in eval mode), reading its parameters and buffers as
// initializers under their PyTorch state-dict names; a module class without an emitter is an error that names the
// module and its path. Emitters match the exact class (a subclass may compute something else, so it needs its own).
//
// Decisions (documented in the README paragraph of issue #13):
// - The graph takes what the model takes: float32 NCHW after the test transform (pixels / 255, then
//   (x − mean[c]) / std[c]); the normalisation is not in the graph. The file's metadata_props record the input
//   size, channels, mean/std, pixel scale and class names, so a consumer can reproduce the transform.
// - BatchNorm stays a BatchNormalization node (not folded into the conv): the file mirrors the state dict one to
//   one, and ONNX Runtime folds Conv+BN itself when it optimises the graph on load.
// - The batch dimension is symbolic ('batch'); C, H, W are the run's.
// - Default opset 17 (IR 8), readable by onnx ≥ 1.12 and every current ONNX Runtime; opsets 13–21 are accepted.
//
// Operator semantics cited below are from onnx/onnx docs/Operators.md (the versions current at the chosen opset).
import { Tensor, noGrad, tidy } from '../engine';
import { contiguous, toDevice } from '../engine/ops.generated';
import { Module } from '../nn/module';
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  Identity,
  Linear,
  MaxPool2d,
  NormedLinear,
  ReLU,
  ScaledHead,
  Sequential,
} from '../nn/layers';
import { normalize } from '../nn/functional';
import { BasicBlock, PadShortcut, ResNetCifar } from '../models/resnet-cifar';
import { Bottleneck, ImageNetBasicBlock, ResNetImageNet } from '../models/resnet-imagenet';
import { Attrs, DataType, encodeModel, NodeSpec, TensorSpec } from './onnx-proto';

export const DEFAULT_OPSET = 17;
/** ONNX IR version that goes with each default-domain opset (onnx/onnx docs/Versioning.md, released versions). */
const IR_FOR_OPSET: Record<number, number> = { 13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };
export const SUPPORTED_OPSETS = Object.keys(IR_FOR_OPSET).map(Number);

/** The model has a module that no emitter knows (or a setting an emitter cannot express). */
export class OnnxExportError extends Error {
  override name = 'OnnxExportError';
}

/** The graph being built: nodes in topological order (emitters append as they go), initializers, unique names. */
export class OnnxGraph {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly names = new Set<string>();
  private readonly tensorNames = new Map<Tensor, string>();

  constructor(readonly opset: number) {}

  /** A value name not used yet, from `base` ('layer1.0.conv1' → 'layer1.0.conv1', then '…_1', …). */
  fresh(base: string): string {
    let name = base || 'value';
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  /** Appends a node with one output, named after `name`; returns the output's name. */
  op(opType: string, inputs: string[], name: string, attrs?: Attrs): string {
    const out = this.fresh(name);
    this.nodes.push({ opType, inputs, outputs: [out], name: out, attrs });
    return out;
  }

  /** A float32 initializer holding `t`'s values (copied to the CPU, standard layout); one per tensor. */
  weight(name: string, t: Tensor): string {
    const known = this.tensorNames.get(t);
    if (known !== undefined) return known;
    const values = noGrad(() =>
      tidy(() => contiguous(toDevice(t.detach(), 'cpu', 'float32')).toArray() as Float32Array),
    );
    const n = this.floats(name, values, t.shape);
    this.tensorNames.set(t, n);
    return n;
  }

  /** A float32 initializer. */
  floats(name: string, values: ArrayLike<number>, dims: number[]): string {
    const f = Float32Array.from(values);
    return this.init(name, DataType.FLOAT, dims, new Uint8Array(f.buffer));
  }

  /** An int64 initializer (shape inputs: Slice starts/ends, Pad pads, ReduceL2 axes at opset ≥ 18). */
  int64s(name: string, values: (number | bigint)[], dims = [values.length]): string {
    const a = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.init(name, DataType.INT64, dims, new Uint8Array(a.buffer));
  }

  private init(name: string, dataType: TensorSpec['dataType'], dims: number[], raw: Uint8Array): string {
    // ONNX raw_data is little-endian; typed arrays are in the platform's order (little-endian on every platform
    // Node and libtorch ship for).
    if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) throw new OnnxExportError('big-endian hosts unsupported');
    const n = this.fresh(name);
    this.initializers.push({ name: n, dataType, dims, raw });
    return n;
  }
}

/** What an emitter gets besides its module and input. */
export interface EmitContext {
  graph: OnnxGraph;
  /** The module's dotted path in the exported model ('' for the model itself). */
  path(m: Module): string;
  /** Emits a (child) module on input `x`; returns its output's name. */
  emit(m: Module, x: string): string;
}

/** Writes the nodes of `m.forward(x)` (eval mode) and returns the name of the output. */
export type Emitter<M extends Module = Module> = (m: M, x: string, ctx: EmitContext) => string;

type ModuleClass<M extends Module> = abstract new (...args: never[]) => M;
const emitters = new Map<ModuleClass<Module>, Emitter<never>>();

/** Teaches the exporter a module class (exactly that class; register subclasses separately). */
export function registerOnnxEmitter<M extends Module>(cls: ModuleClass<M>, emit: Emitter<M>): void {
  emitters.set(cls, emit as Emitter<never>);
}

/** The module classes the exporter knows, by name. */
export function onnxSupportedModules(): string[] {
  return [...emitters.keys()].map((c) => c.name).sort();
}

/** Joins a module path and a member name as a state-dict key. */
const key = (path: string, member: string) => (path ? `${path}.${member}` : member);
/** A node name under the module's path. */
const at = (ctx: EmitContext, m: Module, what: string) => key(ctx.path(m), what);

// ------------------------------------------------------------------------------------------------ layers

registerOnnxEmitter(Conv2d, (m, x, ctx) => {
  const p = ctx.path(m);
  const inputs = [x, ctx.graph.weight(key(p, 'weight'), m.weight)];
  if (m.bias) inputs.push(ctx.graph.weight(key(p, 'bias'), m.bias));
  // Conv-11: Y = X ⋆ W (+ B); pads = [x1_begin, x2_begin, x1_end, x2_end] (PyTorch pads both sides equally);
  // group = channel groups; dilations and strides per spatial axis. Same cross-correlation as aten::conv2d.
  const [ph, pw] = m.padding;
  return ctx.graph.op('Conv', inputs, p || 'conv', {
    kernel_shape: m.kernelSize,
    strides: m.stride,
    pads: [ph, pw, ph, pw],
    dilations: m.dilation,
    group: m.groups,
  });
});

registerOnnxEmitter(BatchNorm2d, (m, x, ctx) => {
  const p = ctx.path(m);
  const mean = m.runningMean;
  const variance = m.runningVar;
  if (mean === null || variance === null) {
    throw new OnnxExportError(
      `BatchNorm2d '${p}' has no running statistics (trackRunningStats: false): its eval forward normalises ` +
        'with batch statistics, which ONNX inference does not express',
    );
  }
  const c = m.numFeatures;
  const g = ctx.graph;
  const scale = m.weight ? g.weight(key(p, 'weight'), m.weight) : g.floats(key(p, 'weight'), new Array(c).fill(1), [c]);
  const bias = m.bias ? g.weight(key(p, 'bias'), m.bias) : g.floats(key(p, 'bias'), new Array(c).fill(0), [c]);
  // BatchNormalization-15 (inference, training_mode = 0): Y = (X − input_mean) / sqrt(input_var + epsilon) ·
  // scale + B, per channel (axis 1) — PyTorch's eval-mode batch_norm with the running statistics.
  return g.op(
    'BatchNormalization',
    [x, scale, bias, g.weight(key(p, 'running_mean'), mean), g.weight(key(p, 'running_var'), variance)],
    p || 'bn',
    { epsilon: { float: m.eps } },
  );
});

// Relu-14: Y = max(0, X).
registerOnnxEmitter(ReLU, (m, x, ctx) => ctx.graph.op('Relu', [x], at(ctx, m, 'relu')));
registerOnnxEmitter(Identity, (_m, x) => x);

registerOnnxEmitter(Flatten, (m, x, ctx) => {
  if (m.startDim !== 1 || m.endDim !== -1) {
    throw new OnnxExportError(`Flatten '${ctx.path(m)}': only startDim 1, endDim −1 is exported (ONNX Flatten axis=1)`);
  }
  // Flatten-13 (axis = 1): [d0, d1·…·dn] — torch.flatten(x, 1).
  return ctx.graph.op('Flatten', [x], at(ctx, m, 'flatten'), { axis: 1 });
});

registerOnnxEmitter(MaxPool2d, (m, x, ctx) => {
  const pair = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);
  const k = pair(m.kernelSize);
  const s = pair(m.o.stride ?? m.kernelSize);
  const [ph, pw] = pair(m.o.padding ?? 0);
  return maxPool(ctx, at(ctx, m, 'maxpool'), x, k, s, [ph, pw]);
});

/** MaxPool-12: padded positions never win (as PyTorch's −∞ padding); ceil_mode 0 = floor, PyTorch's default. */
function maxPool(
  ctx: EmitContext,
  name: string,
  x: string,
  kernel: [number, number],
  stride: [number, number],
  [ph, pw]: [number, number],
): string {
  return ctx.graph.op('MaxPool', [x], name, {
    kernel_shape: kernel,
    strides: stride,
    pads: [ph, pw, ph, pw],
    ceil_mode: 0,
  });
}

registerOnnxEmitter(AdaptiveAvgPool2d, (m, x, ctx) => {
  const o = m.outputSize;
  if (!(o === 1 || (Array.isArray(o) && o[0] === 1 && o[1] === 1))) {
    throw new OnnxExportError(`AdaptiveAvgPool2d '${ctx.path(m)}': only output size 1×1 is exported`);
  }
  // GlobalAveragePool-1: the mean over all spatial positions, [N, C, 1, 1].
  return ctx.graph.op('GlobalAveragePool', [x], at(ctx, m, 'avgpool'));
});

registerOnnxEmitter(Linear, (m, x, ctx) => {
  const p = ctx.path(m);
  const inputs = [x, ctx.graph.weight(key(p, 'weight'), m.weight)];
  if (m.bias) inputs.push(ctx.graph.weight(key(p, 'bias'), m.bias));
  // Gemm-13 with transB = 1: Y = A · Bᵀ (+ C) — nn.Linear's x·Wᵀ + b with W stored [out, in] (C is optional
  // since Gemm-11, so a bias-free head, e.g. τ-norm's, is A · Bᵀ).
  return ctx.graph.op('Gemm', inputs, p || 'linear', { transB: 1 });
});

registerOnnxEmitter(NormedLinear, (m, x, ctx) => {
  const p = ctx.path(m);
  const g = ctx.graph;
  // logits = normalize(x, dim 1) · normalize(W, dim 0). The weight's normalisation is a constant: computed here
  // with ltkit's own `normalize` (the same op the forward runs), stored as one [in, out] initializer.
  const wn = noGrad(() => tidy(() => normalize(m.weight.detach(), { dim: 0 })));
  let wName: string;
  try {
    wName = g.weight(key(p, 'weight_normalized'), wn);
  } finally {
    wn.dispose();
  }
  const xn = l2Normalize(ctx, key(p, 'normalize'), x, 1, 1e-12);
  // MatMul-13: [B, in] · [in, out] → [B, out] cosines.
  return g.op('MatMul', [xn, wName], p || 'normed_linear');
});

registerOnnxEmitter(ScaledHead, (m, x, ctx) => {
  const p = ctx.path(m);
  const g = ctx.graph;
  const inner = ctx.emit(m.inner, x);
  // LWS: inner(x) · factor · scales, in the forward's order. Mul-14 broadcasts numpy-style: factor [1] and
  // scales [C] against [B, C].
  const f = g.op('Mul', [inner, g.weight(key(p, 'factor'), m.buffer('factor'))], key(p, 'mul_factor'));
  return g.op('Mul', [f, g.weight(key(p, 'scales'), m.scales)], key(p, 'mul_scales'));
});

/**
 * F.normalize(x, p=2, dim=axis, eps): x / max(‖x‖₂, eps) (PyTorch's formula: the norm is clamped, not added to),
 * as ReduceL2 (keepdims) → Max with the eps constant → Div. ReduceL2 takes `axes` as an attribute before
 * opset 18 and as an int64 input from ReduceL2-18 on.
 */
function l2Normalize(ctx: EmitContext, name: string, x: string, axis: number, eps: number): string {
  const g = ctx.graph;
  const norm =
    g.opset >= 18
      ? g.op('ReduceL2', [x, g.int64s(`${name}.axes`, [axis])], `${name}.norm`, { keepdims: 1 })
      : g.op('ReduceL2', [x], `${name}.norm`, { axes: [axis], keepdims: 1 });
  // Max-13: elementwise maximum with broadcasting; Div-14: elementwise quotient with broadcasting.
  const clamped = g.op('Max', [norm, g.floats(`${name}.eps`, [eps], [])], `${name}.clamp`);
  return g.op('Div', [x, clamped], name);
}

registerOnnxEmitter(Sequential, (m, x, ctx) => {
  let y = x;
  for (const c of m) y = ctx.emit(c, y);
  return y;
});

// ------------------------------------------------------------------------------------------------ ResNets

registerOnnxEmitter(PadShortcut, (m, x, ctx) => {
  const p = ctx.path(m) || 'shortcut';
  const g = ctx.graph;
  // x[:, :, ::2, ::2] — Slice-13 with starts 0, ends INT64_MAX ("slice to the end"), axes [2, 3], steps [2, 2].
  const end = (1n << 63n) - 1n;
  const sub = g.op(
    'Slice',
    [
      x,
      g.int64s(`${p}.starts`, [0, 0]),
      g.int64s(`${p}.ends`, [end, end]),
      g.int64s(`${p}.axes`, [2, 3]),
      g.int64s(`${p}.steps`, [2, 2]),
    ],
    `${p}.subsample`,
  );
  // Zero channels on both sides — Pad-13, mode 'constant' (value 0 by default); pads = [x1_begin, …, x4_begin,
  // x1_end, …, x4_end] over N, C, H, W.
  const c = m.padChannels;
  return g.op('Pad', [sub, g.int64s(`${p}.pads`, [0, c, 0, 0, 0, c, 0, 0])], `${p}.pad`, { mode: 'constant' });
});

/** conv → BN (→ ReLU): the pattern every block repeats. */
function convBn(ctx: EmitContext, conv: Conv2d, bn: BatchNorm2d, x: string, relu: boolean): string {
  const y = ctx.emit(bn, ctx.emit(conv, x));
  return relu ? ctx.graph.op('Relu', [y], `${ctx.path(bn)}.relu`) : y;
}

/** out + shortcut, then ReLU — Add-14 (same shapes here) and Relu-14. */
function residual(ctx: EmitContext, m: Module, out: string, shortcut: string): string {
  const sum = ctx.graph.op('Add', [out, shortcut], at(ctx, m, 'add'));
  return ctx.graph.op('Relu', [sum], at(ctx, m, 'relu'));
}

registerOnnxEmitter(BasicBlock, (m, x, ctx) => {
  const out = convBn(ctx, m.conv2, m.bn2, convBn(ctx, m.conv1, m.bn1, x, true), false);
  return residual(ctx, m, out, m.shortcut === null ? x : ctx.emit(m.shortcut, x));
});

registerOnnxEmitter(ImageNetBasicBlock, (m, x, ctx) => {
  const out = convBn(ctx, m.conv2, m.bn2, convBn(ctx, m.conv1, m.bn1, x, true), false);
  return residual(ctx, m, out, m.downsample === null ? x : ctx.emit(m.downsample, x));
});

registerOnnxEmitter(Bottleneck, (m, x, ctx) => {
  let out = convBn(ctx, m.conv1, m.bn1, x, true);
  out = convBn(ctx, m.conv2, m.bn2, out, true);
  out = convBn(ctx, m.conv3, m.bn3, out, false);
  return residual(ctx, m, out, m.downsample === null ? x : ctx.emit(m.downsample, x));
});

registerOnnxEmitter(ResNetCifar, (m, x, ctx) => {
  let out = convBn(ctx, m.conv1, m.bn1, x, true);
  out = ctx.emit(m.layer3, ctx.emit(m.layer2, ctx.emit(m.layer1, out)));
  // avg_pool2d with the whole feature map as its kernel = GlobalAveragePool-1; view(B, −1) = Flatten-13 axis 1.
  const pooled = ctx.graph.op('GlobalAveragePool', [out], 'avgpool');
  return ctx.emit(m.head, ctx.graph.op('Flatten', [pooled], 'flatten', { axis: 1 }));
});

registerOnnxEmitter(ResNetImageNet, (m, x, ctx) => {
  let out = convBn(ctx, m.conv1, m.bn1, x, true);
  out = maxPool(ctx, 'maxpool', out, [3, 3], [2, 2], [1, 1]);
  for (const layer of [m.layer1, m.layer2, m.layer3, m.layer4]) out = ctx.emit(layer, out);
  // adaptive_avg_pool2d(·, 1×1) = GlobalAveragePool-1; flatten(·, 1) = Flatten-13 axis 1.
  const pooled = ctx.graph.op('GlobalAveragePool', [out], 'avgpool');
  return ctx.emit(m.head, ctx.graph.op('Flatten', [pooled], 'flatten', { axis: 1 }));
});

// ------------------------------------------------------------------------------------------------ export

export interface OnnxExportOptions {
  /**
   * One example's input dims, e.g. [C, H, W] for an image model (float32 NCHW after the test transform); the
   * graph input is ['batch', ...inputShape], the batch size symbolic.
   */
  inputShape: number[];
  /** Default-domain opset (default 17; 13–21). */
  opset?: number;
  inputName?: string;
  outputName?: string;
  /** ModelProto.metadata_props (string → string). */
  metadata?: Record<string, string>;
  docString?: string;
  graphName?: string;
  producerVersion?: string;
}

export interface OnnxExport {
  /** The .onnx file's bytes. */
  bytes: Uint8Array;
  opset: number;
  irVersion: number;
  inputName: string;
  outputName: string;
  /** Node count per op type. */
  ops: Record<string, number>;
  numInitializers: number;
}

/**
 * Exports `model`'s inference forward (eval mode: BatchNorm with running statistics) as an ONNX model. The
 * model's train/eval flags are restored afterwards, as torch.onnx.export does. Throws OnnxExportError naming
 * the first module (with its path) that no emitter knows.
 */
export function exportOnnx(model: Module, o: OnnxExportOptions): OnnxExport {
  const opset = o.opset ?? DEFAULT_OPSET;
  const irVersion = IR_FOR_OPSET[opset];
  if (irVersion === undefined) {
    throw new OnnxExportError(`opset ${opset} is not supported (supported: ${SUPPORTED_OPSETS.join(', ')})`);
  }
  const inputName = o.inputName ?? 'input';
  const outputName = o.outputName ?? 'logits';
  const paths = new Map<Module, string>();
  for (const [p, m] of model.namedModules()) if (!paths.has(m)) paths.set(m, p);
  const graph = new OnnxGraph(opset);
  graph.fresh(inputName);
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  const ctx: EmitContext = {
    graph,
    path: (m) => paths.get(m) ?? '',
    emit(m, x) {
      const emit = emitters.get(m.constructor as ModuleClass<Module>) as Emitter<Module> | undefined;
      if (emit === undefined) {
        const where = paths.has(m) ? `'${paths.get(m) || '(the model)'}'` : '(not a registered submodule)';
        throw new OnnxExportError(
          `cannot export module ${where} of class ${m.constructor.name} to ONNX: no emitter for that class ` +
            `(supported: ${onnxSupportedModules().join(', ')}; add one with registerOnnxEmitter)`,
        );
      }
      return emit(m, x, ctx);
    },
  };
  let out: string;
  try {
    out = ctx.emit(model, inputName);
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  // The graph output must be a node output with the chosen name: rename the last node's output (or, when the
  // model is the identity, add an Identity node).
  const last = graph.nodes[graph.nodes.length - 1];
  if (last && last.outputs[0] === out && out !== inputName) last.outputs[0] = outputName;
  else graph.nodes.push({ opType: 'Identity', inputs: [out], outputs: [outputName], name: outputName });

  const bytes = encodeModel({
    irVersion,
    opsetVersion: opset,
    producerName: 'ltkit',
    producerVersion: o.producerVersion ?? '',
    docString: o.docString,
    graphName: o.graphName ?? 'ltkit',
    nodes: graph.nodes,
    initializers: graph.initializers,
    inputs: [{ name: inputName, elemType: DataType.FLOAT, shape: ['batch', ...o.inputShape] }],
    outputs: [{ name: outputName, elemType: DataType.FLOAT, shape: ['batch', outputDim(model)] }],
    metadata: o.metadata ?? {},
  });
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return { bytes, opset, irVersion, inputName, outputName, ops, numInitializers: graph.initializers.length };
}

/** The number of logits, when the model says (a ClassifierModel's numClasses), else a symbolic dimension. */
function outputDim(model: Module): number | string {
  const c = (model as { numClasses?: unknown }).numClasses;
  return typeof c === 'number' && Number.isInteger(c) ? c : 'classes';
}
