// Loads the native addon (native/src/addon.cc) and gives its entry points types.
// Nothing outside src/engine imports this file.
import * as os from 'os';
import * as path from 'path';

/** Opaque handle to a native tensor box. */
export type Handle = { readonly __brand: 'ltkit.Handle' };

export interface OpArgSchema {
  name: string;
  type: string;
  kwargOnly: boolean;
  mutable: boolean;
  default?: string;
}
export interface OpSchema {
  schema: string;
  args: OpArgSchema[];
  returns: { name: string; type: string; aliasWrite: boolean }[];
}

export interface NativeAddon {
  ResolveOp(name: string, overload: string): number;
  OpSchema(name: string, overload: string): OpSchema | null;
  CallOp(id: number, args: unknown[]): unknown;
  FromBuffer(data: ArrayBufferView, shape: number[], dtype: number, device?: string): Handle;
  ToBuffer(h: Handle): ArrayBuffer;
  Meta(h: Handle): [number[], number, string, boolean];
  Shape(h: Handle): number[];
  Dispose(h: Handle): void;
  IsDisposed(h: Handle): boolean;
  Backward(h: Handle, grad: Handle | null, retainGraph: boolean, createGraph: boolean): void;
  Grad(h: Handle): Handle | null;
  SetGrad(h: Handle, g: Handle | null): void;
  RetainGrad(h: Handle): void;
  SetRequiresGrad(h: Handle, on: boolean): void;
  GradFn(h: Handle): string | null;
  IsLeaf(h: Handle): boolean;
  AutogradGrad(
    outputs: Handle[],
    inputs: Handle[],
    gradOutputs: Handle[] | null,
    retainGraph: boolean | null,
    createGraph: boolean,
    allowUnused: boolean,
  ): (Handle | null)[];
  SetGradEnabled(on: boolean): boolean;
  IsGradEnabled(): boolean;
  ManualSeed(seed: number): void;
  SetNumThreads(n: number): void;
  GetNumThreads(): number;
  Runtime(): {
    torchVersion: string;
    cuda: boolean;
    cudaDevices: number;
    mkldnn: boolean;
    openmp: boolean;
    parallelInfo: string;
    /** Tensors the garbage collector finds unreachable are freed inside the collection (basic finalizers). */
    gcFreesTensors: boolean;
  };
  LiveTensors(): [number, number];
}

function load(): NativeAddon {
  const root = path.resolve(__dirname, '..', '..', '..');
  const file = path.join(root, 'native', 'build', 'Release', 'ltkit.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as NativeAddon;
  } catch (e) {
    throw new Error(
      `ltkit: cannot load the native addon ${file}: ${(e as Error).message}\n` +
        `Run 'npm run setup' (it finds or installs libtorch and builds the addon; set LIBTORCH to use your own).`,
    );
  }
}

export const native: NativeAddon = load();

// libtorch defaults to 1 intra-op thread when embedded; PyTorch uses one per core.
const envThreads = Number(process.env.LTKIT_NUM_THREADS);
native.SetNumThreads(Number.isInteger(envThreads) && envThreads > 0 ? envThreads : os.cpus().length);
