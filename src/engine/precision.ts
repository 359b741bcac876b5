// Which floating-point precision a run computes in, and how `auto` is decided. Kept free of the native addon
// (core/context.ts resolves the setting before any tensor exists); autocast itself lives in amp.ts.
import * as fs from 'fs';

/** fp32: no autocast; bf16: autocast to bfloat16 (CPU or CUDA); fp16: autocast to float16 with a gradient scaler (CUDA). */
export type AmpPrecision = 'fp32' | 'bf16' | 'fp16';
/** What `train.precision` accepts: a precision, or `auto` (decided by the machine). */
export type PrecisionSetting = AmpPrecision | 'auto';

export const PRECISION_SETTINGS: readonly PrecisionSetting[] = ['fp32', 'bf16', 'fp16', 'auto'];

/** The CPU instruction-set flags that do bfloat16 arithmetic natively (Linux /proc/cpuinfo names). */
const NATIVE_BF16_FLAGS = ['avx512_bf16', 'amx_bf16'];

let cpuinfoFlags: string | undefined;

/** The `flags` line of /proc/cpuinfo (every core reports the same), or '' where there is none (not Linux). */
export function cpuFlags(): string {
  if (cpuinfoFlags === undefined) {
    let text = '';
    try {
      text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      // no /proc (macOS, Windows): no flags, so `auto` stays fp32
    }
    cpuinfoFlags = /^flags\s*:(.*)$/m.exec(text)?.[1].trim() ?? '';
  }
  return cpuinfoFlags;
}

/**
 * Whether the CPU has bfloat16 instructions (AVX512-BF16 or AMX-BF16): there oneDNN's bf16 convolutions and
 * matmuls beat fp32; without them bf16 is emulated and slower than fp32. `flags` (space-separated, as in
 * /proc/cpuinfo) defaults to this machine's.
 */
export function cpuHasNativeBf16(flags?: string): boolean {
  const have = new Set((flags ?? cpuFlags()).split(/\s+/));
  return NATIVE_BF16_FLAGS.some((f) => have.has(f));
}

/** True for 'cuda' and 'cuda:N'. */
export function isCudaDevice(device: string): boolean {
  return device === 'cuda' || device.startsWith('cuda:');
}

/**
 * The precision a setting means on `device`: `auto` is bf16 on a CPU with native bf16 instructions and fp32
 * elsewhere — on CUDA too, where bf16 needs compute capability 8.0 and fp16 a gradient scaler, so a GPU run
 * names its choice. fp16 is refused off CUDA (libtorch's CPU autocast supports bfloat16 only).
 */
export function resolvePrecision(p: PrecisionSetting, device: string, cpuFlagsOverride?: string): AmpPrecision {
  switch (p) {
    case 'fp32':
    case 'bf16':
      return p;
    case 'fp16':
      if (!isCudaDevice(device)) {
        throw new Error(
          `precision 'fp16' needs a CUDA device (device is '${device}'); on CPU use 'bf16' or 'auto' ` +
            `(libtorch's CPU autocast has no float16)`,
        );
      }
      return 'fp16';
    case 'auto':
      return !isCudaDevice(device) && cpuHasNativeBf16(cpuFlagsOverride) ? 'bf16' : 'fp32';
    default:
      throw new Error(`precision '${String(p)}' is not allowed (allowed: ${PRECISION_SETTINGS.join(', ')})`);
  }
}
