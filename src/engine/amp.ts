// Mixed precision: autocast regions and the fp16 gradient scaler.
//
// autocast mirrors `torch.autocast(device_type, dtype)` (torch/amp/autocast_mode.py, PyTorch 1.13): inside the
// region libtorch's Autocast dispatch key casts each operator's inputs — conv2d, linear, matmul to the region's
// dtype, losses and reductions to float32 — per its op lists (aten/src/ATen/autocast_mode.cpp). The state is
// thread-local and every ltkit op runs on the JS thread through the dispatcher, so it applies to all of them.
// As PyTorch recommends (docs "Automatic Mixed Precision", autocast section), only the forward pass and the
// loss belong in the region; backward runs outside it (autograd runs each op's backward in the dtype its
// forward used) and so does the optimizer step (parameters and their gradients stay float32).
//
// GradScaler follows torch.cuda.amp.GradScaler (torch/cuda/amp/grad_scaler.py) and the update rule of
// aten's `_amp_update_scale_` (aten/src/ATen/native/cuda/AmpKernels.cu): the loss is multiplied by a scale
// before backward so that small float16 gradients do not flush to zero; the gradients are divided by it
// again before the optimizer step, which is skipped when any of them is inf or NaN (the scale was too
// large); the scale then shrinks by `backoffFactor`, and grows by `growthFactor` after `growthInterval`
// steps in a row without inf/NaN. Those kernels exist only for CUDA in libtorch 1.13, so the same arithmetic
// is written here with ordinary ops; it runs on any device.
import { native } from './native';
import { dtypeCode, dtypeName, DType } from './dtype';
import { Tensor, tidy } from './tensor';
import { all, any, isfinite, logicalNot, mul, mul_, stack, toDtype } from './ops.generated';
import { AmpPrecision, isCudaDevice } from './precision';

export { cpuHasNativeBf16, resolvePrecision, isCudaDevice, PRECISION_SETTINGS } from './precision';
export type { AmpPrecision, PrecisionSetting } from './precision';

/** The dtype autocast computes in for a precision (fp32: none). */
export function autocastDtype(precision: AmpPrecision): DType {
  return precision === 'bf16' ? 'bfloat16' : precision === 'fp16' ? 'float16' : 'float32';
}

function autocastDevice(device: string): 'cpu' | 'cuda' {
  if (device === 'cpu') return 'cpu';
  if (isCudaDevice(device)) return 'cuda';
  throw new Error(`autocast: device '${device}' has no autocast in ltkit (allowed: cpu, cuda, cuda:N)`);
}

/**
 * Runs `fn` with autocast to the precision's dtype on `device` ('cpu' default; 'cuda[:N]'), like
 * `with torch.autocast(device_type, dtype): fn()`. fp32 just calls fn. Regions nest; the previous state comes
 * back when fn returns or throws, and the cached low-precision weight copies are dropped when the outermost
 * region ends. `fn` must be synchronous: autocast is per thread, an await would leak it to other work.
 */
export function autocast<T>(precision: AmpPrecision, fn: () => T, device = 'cpu'): T {
  if (precision === 'fp32') return fn();
  const kind = autocastDevice(device);
  if (precision === 'fp16' && kind === 'cpu') {
    throw new Error("autocast: 'fp16' needs a CUDA device (libtorch's CPU autocast supports bf16 only)");
  }
  if (precision !== 'bf16' && precision !== 'fp16') {
    throw new Error(`autocast: precision '${String(precision)}' is not allowed (allowed: fp32, bf16, fp16)`);
  }
  const [prevEnabled, prevDtype, prevCache] = native.AutocastEnter(kind, dtypeCode(autocastDtype(precision)));
  let result: T;
  try {
    result = fn();
  } finally {
    native.AutocastExit(kind, prevEnabled, prevDtype, prevCache);
  }
  if (result instanceof Promise) throw new Error('autocast(fn): fn must be synchronous');
  return result;
}

/** Whether autocast is on for 'cpu' or 'cuda' now, and to which dtype. */
export function autocastState(device = 'cpu'): { enabled: boolean; dtype: DType } {
  const [enabled, code] = native.AutocastState(autocastDevice(device));
  return { enabled, dtype: dtypeName(code) };
}

// ------------------------------------------------------------------ gradient scaler (fp16)

export interface GradScalerOptions {
  /** Starting scale (PyTorch: init_scale = 2^16). */
  initScale?: number;
  /** Factor applied after `growthInterval` steps without inf/NaN (PyTorch: 2.0). */
  growthFactor?: number;
  /** Factor applied after a step with inf/NaN gradients (PyTorch: 0.5). */
  backoffFactor?: number;
  /** Consecutive good steps before the scale grows (PyTorch: 2000). */
  growthInterval?: number;
}

/** A scaler's state (PyTorch's state_dict keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker). */
export interface GradScalerState {
  scale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  /** Good steps since the scale last changed. */
  growthTracker: number;
}

export class GradScaler {
  private scaleValue: number;
  private growthTracker = 0;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  /** This step's inf/NaN verdict, once the gradients were unscaled (null: not yet). */
  private foundInf: boolean | null = null;

  constructor(o: GradScalerOptions = {}) {
    this.scaleValue = Math.fround(o.initScale ?? 2 ** 16);
    this.growthFactor = o.growthFactor ?? 2;
    this.backoffFactor = o.backoffFactor ?? 0.5;
    this.growthInterval = o.growthInterval ?? 2000;
    if (!(this.scaleValue > 0 && Number.isFinite(this.scaleValue)))
      throw new Error(`GradScaler: initScale must be positive and finite, got ${o.initScale}`);
    if (!(this.growthFactor > 1)) throw new Error(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1))
      throw new Error(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval > 0))
      throw new Error(`GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`);
  }

  /** The current scale (a float32 value, as PyTorch keeps it). */
  getScale(): number {
    return this.scaleValue;
  }

  /**
   * loss × scale, for backward. A float16 loss is promoted to float32 first (PyTorch multiplies by a float32
   * scale tensor, which promotes), so that the product cannot overflow float16's 65504.
   */
  scale(loss: Tensor): Tensor {
    return tidy(() => {
      const l = loss.dtype === 'float32' || loss.dtype === 'float64' ? loss : toDtype(loss, 'float32');
      return mul(l, this.scaleValue);
    });
  }

  /**
   * Divides the gradients of `params` by the scale, in place (PyTorch's `unscale_`), and returns whether any
   * was inf or NaN before the division (`_amp_foreach_non_finite_check_and_unscale_`). Once per step: a second
   * call before `update` returns the first verdict and leaves the gradients alone (e.g. clipping, then step).
   */
  unscale(params: Tensor[]): boolean {
    if (this.foundInf !== null) return this.foundInf;
    // PyTorch: inv_scale = scale.double().reciprocal().float()
    const inv = Math.fround(1 / this.scaleValue);
    this.foundInf = tidy(() => {
      const bad: Tensor[] = [];
      for (const p of params) {
        const g = p.grad;
        if (g === null) continue;
        bad.push(logicalNot(all(isfinite(g))));
        mul_(g, inv);
      }
      return bad.length > 0 && any(stack(bad)).item() !== 0;
    });
    return this.foundInf;
  }

  /**
   * Unscales (unless already done this step) and runs `optimizer.step()` only when every gradient is finite.
   * Returns whether the optimizer stepped.
   */
  step(optimizer: { step(): void }, params: Tensor[]): boolean {
    const found = this.unscale(params);
    if (!found) optimizer.step();
    return !found;
  }

  /** After `step`: backs the scale off after inf/NaN, grows it after `growthInterval` good steps in a row. */
  update(): void {
    if (this.foundInf === null)
      throw new Error('GradScaler.update: no inf/NaN check this step (call step or unscale first)');
    if (this.foundInf) {
      this.scaleValue = Math.fround(this.scaleValue * this.backoffFactor);
      this.growthTracker = 0;
    } else if (this.growthTracker + 1 === this.growthInterval) {
      const grown = Math.fround(this.scaleValue * this.growthFactor);
      if (Number.isFinite(grown)) this.scaleValue = grown; // never grow past float32's range
      this.growthTracker = 0;
    } else {
      this.growthTracker++;
    }
    this.foundInf = null;
  }

  stateDict(): GradScalerState {
    return {
      scale: this.scaleValue,
      growthFactor: this.growthFactor,
      backoffFactor: this.backoffFactor,
      growthInterval: this.growthInterval,
      growthTracker: this.growthTracker,
    };
  }

  /** Restores the scale and the good-step count (the factors and interval must match this scaler's). */
  loadStateDict(s: GradScalerState, source = 'GradScaler state'): void {
    for (const k of ['growthFactor', 'backoffFactor', 'growthInterval'] as const) {
      if (s[k] !== this[k]) throw new Error(`${source}: ${k} is ${s[k]}, this scaler has ${this[k]}`);
    }
    if (!(s.scale > 0 && Number.isFinite(s.scale))) throw new Error(`${source}: scale ${s.scale} is not positive`);
    if (!(Number.isInteger(s.growthTracker) && s.growthTracker >= 0 && s.growthTracker < this.growthInterval)) {
      throw new Error(`${source}: growthTracker ${s.growthTracker} is not in [0, ${this.growthInterval})`);
    }
    this.scaleValue = Math.fround(s.scale);
    this.growthTracker = s.growthTracker;
    this.foundInf = null;
  }
}
