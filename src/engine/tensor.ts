// Tensor: a JS owner of one native tensor box, with tidy scopes for deterministic memory release.
//
// Memory model (ARCHITECTURE.md "engine/"): every Tensor created while a `tidy` scope is open is
// tracked by the innermost scope and disposed when the scope ends, unless it is returned from the
// scope (then it moves to the parent scope) or was `keep()`-ed. Outside any scope, tensors live
// until `dispose()` or garbage collection (the native finalizer frees the box).
import { native, Handle } from './native';
import { DType, dtypeCode, dtypeName, typedView, AnyTypedArray, isFloating } from './dtype';

type Scope = Tensor[];
const scopes: Scope[] = [];

export class Tensor {
  /** @internal */
  handle: Handle;
  /** @internal: kept tensors survive their scope. */
  kept = false;

  /** @internal: use the factories (`tensor`, `zeros`, …) or ops. */
  constructor(handle: Handle) {
    this.handle = handle;
    const top = scopes[scopes.length - 1];
    if (top !== undefined) top.push(this);
  }

  get shape(): number[] {
    return native.Shape(this.handle);
  }
  get dtype(): DType {
    return dtypeName(native.Meta(this.handle)[1]);
  }
  get device(): string {
    return native.Meta(this.handle)[2];
  }
  get ndim(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get isDisposed(): boolean {
    return native.IsDisposed(this.handle);
  }

  get requiresGrad(): boolean {
    return native.Meta(this.handle)[3];
  }
  set requiresGrad(on: boolean) {
    native.SetRequiresGrad(this.handle, on);
  }
  /** Sets requires_grad and returns this (like PyTorch's `requires_grad_()`). */
  requiresGrad_(on = true): this {
    native.SetRequiresGrad(this.handle, on);
    return this;
  }

  /** The accumulated gradient (a new JS owner of the same storage), or null. */
  get grad(): Tensor | null {
    const h = native.Grad(this.handle);
    return h === null ? null : new Tensor(h);
  }
  set grad(g: Tensor | null) {
    native.SetGrad(this.handle, g === null ? null : g.handle);
  }
  get gradFn(): string | null {
    return native.GradFn(this.handle);
  }
  get isLeaf(): boolean {
    return native.IsLeaf(this.handle);
  }
  retainGrad(): this {
    native.RetainGrad(this.handle);
    return this;
  }
  backward(gradient?: Tensor, opts: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    const create = opts.createGraph ?? false;
    native.Backward(this.handle, gradient?.handle ?? null, opts.retainGraph ?? create, create);
  }

  /** The single value of a one-element tensor, as a JS number (int64 → number). */
  item(): number {
    if (this.size !== 1) {
      throw new Error(`item(): tensor has ${this.size} elements (shape [${this.shape}]), expected 1`);
    }
    const v = this.toArray()[0];
    return typeof v === 'bigint' ? Number(v) : (v as number);
  }

  /** A copy of the data as a typed array (row-major; float16/bfloat16 as raw Uint16Array). */
  toArray(): AnyTypedArray {
    return typedView(this.dtype, native.ToBuffer(this.handle));
  }
  /** Data as a plain number array (int64 converted to number). */
  toList(): number[] {
    const a = this.toArray();
    return Array.from(a as ArrayLike<number | bigint>, (v) => Number(v));
  }

  /** Releases the native tensor now; later use throws. Idempotent. */
  dispose(): void {
    native.Dispose(this.handle);
  }
  /** Exempts this tensor from the enclosing tidy scopes. */
  keep(): this {
    this.kept = true;
    return this;
  }

  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    const s = this.shape;
    const head = this.size <= 8 ? ` [${this.toList().map((v) => +v.toPrecision(6))}]` : '';
    return `Tensor(shape=[${s}], dtype=${this.dtype}, device=${this.device})${head}`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

// ------------------------------------------------------------------ calling ops

function toNativeArg(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNativeArg);
  return a;
}

function fromNative(r: unknown): unknown {
  if (r === null || r === undefined) return r;
  if (Array.isArray(r)) return r.map(fromNative);
  if (typeof r === 'object') return new Tensor(r as Handle);
  return r;
}

const opIds = new Map<string, number>();

/** Resolves `aten::name` + overload once and caches the id. */
export function resolveOp(name: string, overload = ''): number {
  const key = name + '.' + overload;
  let id = opIds.get(key);
  if (id === undefined) {
    id = native.ResolveOp(name.includes('::') ? name : 'aten::' + name, overload);
    opIds.set(key, id);
  }
  return id;
}

/**
 * Calls an ATen operator through the dispatcher. `args` follow the schema's order; `undefined`
 * takes the schema default. Used by the generated wrappers in ops.generated.ts.
 */
export function callOp(id: number, args: unknown[]): unknown {
  return fromNative(native.CallOp(id, args.map(toNativeArg)));
}

/** Calls any ATen operator by name, e.g. `op('aten::erfinv', '', x)`. */
export function op(name: string, overload: string, ...args: unknown[]): unknown {
  return callOp(resolveOp(name, overload), args);
}

// --------------------------------------------------------------------- memory

function collect(x: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 8 || x === null || x === undefined) return;
  if (x instanceof Tensor) {
    out.add(x);
  } else if (Array.isArray(x)) {
    for (const v of x) collect(v, out, depth + 1);
  } else if (x instanceof Map) {
    for (const v of x.values()) collect(v, out, depth + 1);
  } else if (typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    for (const v of Object.values(x as object)) collect(v, out, depth + 1);
  }
}

/**
 * Runs `fn` in a memory scope: tensors it creates are disposed when it returns, except those in
 * its result (which move to the enclosing scope) and kept ones. Synchronous only; nestable.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = [];
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous');
  } catch (e) {
    scopes.pop();
    for (const t of scope) if (!t.kept) t.dispose();
    throw e;
  }
  scopes.pop();
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) {
      if (parent !== undefined) parent.push(t);
    } else if (!t.kept) {
      t.dispose();
    }
  }
  return result;
}

/** Marks tensors as kept (they outlive their tidy scopes). */
export function keep<T>(x: T): T {
  const s = new Set<Tensor>();
  collect(x, s);
  for (const t of s) t.kept = true;
  return x;
}

/** Disposes every tensor found in a value (tensor, array, plain object, Map). */
export function dispose(x: unknown): void {
  const s = new Set<Tensor>();
  collect(x, s);
  for (const t of s) t.dispose();
}

/** Live native tensors (boxes holding a tensor) and their bytes (views count their own size). */
export function memory(): { numTensors: number; numBytes: number } {
  const [numTensors, numBytes] = native.LiveTensors();
  return { numTensors, numBytes };
}

// ------------------------------------------------------------------- autograd

/** Runs `fn` with gradient recording off (like `torch.no_grad()`). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.SetGradEnabled(false);
  try {
    return fn();
  } finally {
    native.SetGradEnabled(prev);
  }
}

export function enableGrad<T>(fn: () => T): T {
  const prev = native.SetGradEnabled(true);
  try {
    return fn();
  } finally {
    native.SetGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.IsGradEnabled();
}

/** `torch.autograd.grad`: gradients of `outputs` w.r.t. `inputs` (null where unused). */
export function grad(
  outputs: Tensor | Tensor[],
  inputs: Tensor | Tensor[],
  opts: { gradOutputs?: Tensor[]; retainGraph?: boolean; createGraph?: boolean; allowUnused?: boolean } = {},
): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? outputs : [outputs];
  const ins = Array.isArray(inputs) ? inputs : [inputs];
  const r = native.AutogradGrad(
    outs.map((t) => t.handle),
    ins.map((t) => t.handle),
    opts.gradOutputs ? opts.gradOutputs.map((t) => t.handle) : null,
    opts.retainGraph ?? null,
    opts.createGraph ?? false,
    opts.allowUnused ?? false,
  );
  return r.map((h) => (h === null ? null : new Tensor(h)));
}

// -------------------------------------------------------------------- runtime

/** Seeds libtorch's default generators (CPU and CUDA), like `torch.manual_seed`. */
export function manualSeed(seed: number): void {
  native.ManualSeed(seed);
}
export function setNumThreads(n: number): void {
  native.SetNumThreads(n);
}
export function getNumThreads(): number {
  return native.GetNumThreads();
}
export function runtimeInfo(): ReturnType<typeof native.Runtime> & { numThreads: number } {
  return { ...native.Runtime(), numThreads: native.GetNumThreads() };
}
export function cudaAvailable(): boolean {
  return native.Runtime().cuda;
}

let defaultDeviceName = 'cpu';

/**
 * Where new tensors go when no device is named: `tensor()` and the factory operators without a tensor
 * argument (zeros, randn, arange, …). The trainer sets it to the run's device (`device: cuda:0`), so that the
 * methods' own tensors (class weights, margins, index lists) are made where the model is. Default 'cpu'.
 */
export function setDefaultDevice(device: string): void {
  // 'meta' (shapes without storage) lets the device routing be checked on a machine without a GPU.
  if (device !== 'cpu' && device !== 'meta' && !/^cuda(:\d+)?$/.test(device)) {
    throw new Error(`setDefaultDevice: '${device}' is not a device (cpu, cuda, cuda:N, meta)`);
  }
  if (device.startsWith('cuda') && !cudaAvailable()) {
    throw new Error(
      `setDefaultDevice: '${device}' asked for, but this libtorch has no CUDA device (runtimeInfo().cuda)`,
    );
  }
  native.SetDefaultDevice(device === 'cpu' ? null : device);
  defaultDeviceName = device;
}

/** The device new tensors go to when none is named (see setDefaultDevice). */
export function defaultDevice(): string {
  return defaultDeviceName;
}

// ------------------------------------------------------------------ factories

export type NumericArray = ArrayLike<number> | AnyTypedArray;
export interface FactoryOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

function inferDType(data: unknown): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  return 'float32';
}

function flatten(data: unknown, shape: number[], out: number[]): void {
  if (Array.isArray(data)) {
    shape.push(data.length);
    if (data.length > 0 && Array.isArray(data[0])) {
      const inner: number[] = [];
      for (let i = 0; i < data.length; i++) {
        const s: number[] = [];
        flatten(data[i], s, out);
        if (i === 0) inner.push(...s);
        else if (s.join() !== inner.join()) throw new Error('tensor(): ragged nested array');
      }
      shape.push(...inner);
    } else {
      for (const v of data) out.push(typeof v === 'boolean' ? (v ? 1 : 0) : (v as number));
    }
  }
}

/**
 * Creates a tensor from data: a typed array or number array (with `shape`), a nested array, or
 * a number (a scalar). dtype defaults to the typed array's, else float32.
 */
export function tensor(
  data: NumericArray | number | number[][] | number[][][] | boolean[],
  shape?: number[] | DType | FactoryOptions,
  dtype?: DType | FactoryOptions,
): Tensor {
  let opts: FactoryOptions = {};
  if (typeof shape === 'string') {
    opts = { dtype: shape };
    shape = undefined;
  } else if (shape !== undefined && !Array.isArray(shape)) {
    // tensor(data, {dtype, device, requiresGrad})
    opts = { ...shape };
    shape = undefined;
  }
  if (typeof dtype === 'string') opts = { ...opts, dtype };
  else if (dtype) opts = { ...opts, ...dtype };
  let flat: NumericArray;
  let shp: number[];
  if (typeof data === 'number') {
    flat = [data];
    shp = shape ?? [];
  } else if (Array.isArray(data) && !shape) {
    const s: number[] = [];
    const out: number[] = [];
    flatten(data, s, out);
    flat = out;
    shp = s;
  } else {
    flat = data as NumericArray;
    shp = shape ?? [flat.length];
  }
  const dt = opts.dtype ?? inferDType(flat);
  const numel = shp.reduce((a, b) => a * b, 1);
  if (numel !== flat.length) {
    throw new Error(`tensor(): ${flat.length} values do not fill shape [${shp}] (${numel} elements)`);
  }
  const half = (dt === 'float16' || dt === 'bfloat16') && !(flat instanceof Uint16Array);
  const buf = toTypedArray(flat, half ? 'float32' : dt);
  let t = new Tensor(native.FromBuffer(buf, shp, dtypeCode(half ? 'float32' : dt), opts.device ?? defaultDeviceName));
  if (half) {
    // Numbers become float32 first; libtorch rounds them to the half type.
    const f32 = t;
    t = op('aten::to', 'dtype', f32, dtypeCode(dt)) as Tensor;
    f32.dispose();
  }
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

function toTypedArray(flat: NumericArray, dt: DType): ArrayBufferView {
  const matches =
    (dt === 'float32' && flat instanceof Float32Array) ||
    (dt === 'float64' && flat instanceof Float64Array) ||
    (dt === 'int32' && flat instanceof Int32Array) ||
    (dt === 'int64' && flat instanceof BigInt64Array) ||
    (dt === 'int16' && flat instanceof Int16Array) ||
    (dt === 'int8' && flat instanceof Int8Array) ||
    ((dt === 'uint8' || dt === 'bool') && flat instanceof Uint8Array) ||
    ((dt === 'float16' || dt === 'bfloat16') && flat instanceof Uint16Array);
  if (matches) return flat as ArrayBufferView;
  const n = flat.length;
  const src = flat as ArrayLike<number | bigint>;
  switch (dt) {
    case 'float32':
      return Float32Array.from(src, Number);
    case 'float64':
      return Float64Array.from(src, Number);
    case 'int32':
      return Int32Array.from(src, Number);
    case 'int16':
      return Int16Array.from(src, Number);
    case 'int8':
      return Int8Array.from(src, Number);
    case 'uint8':
      return Uint8Array.from(src, Number);
    case 'bool':
      return Uint8Array.from(src, (v) => (Number(v) !== 0 ? 1 : 0));
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (typeof v === 'number' && !Number.isInteger(v)) {
          throw new TypeError(`tensor(): int64 value ${v} at index ${i} is not an integer`);
        }
        out[i] = BigInt(v);
      }
      return out;
    }
    case 'float16':
    case 'bfloat16':
      return Uint16Array.from(src, Number);
  }
}

export { isFloating };
