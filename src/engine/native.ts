// Loads the native addon (native/src/addon.cc) and gives its entry points types.
// Nothing outside src/engine imports this file but src/dist, which types the process-group entry points itself.
import * as fs from 'fs';
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
  SetDefaultDevice(device: string | null): void;
  // Autocast (native/src/amp.cc): thread-local state of the JS thread.
  /** Enters a region: returns the previous [enabled, dtypeCode, cacheEnabled]. */
  AutocastEnter(device: 'cpu' | 'cuda', dtype: number): [boolean, number, boolean];
  /** Leaves a region, restoring what AutocastEnter returned; returns the nesting depth left. */
  AutocastExit(device: 'cpu' | 'cuda', prevEnabled: boolean, prevDtype: number, prevCache: boolean): number;
  AutocastState(device: 'cpu' | 'cuda'): [boolean, number];
}

function load(): NativeAddon {
  // The package root: the repository checkout, or node_modules/ltkit when installed as a dependency
  // (whose install script, scripts/install-addon.sh, built the addon there).
  const root = path.resolve(__dirname, '..', '..', '..');
  const file = path.join(root, 'native', 'build', 'Release', 'ltkit.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as NativeAddon;
  } catch (e) {
    // Only a checkout has the set-up script (package.json "files" leaves it out of the package).
    const fix = fs.existsSync(path.join(root, 'scripts', 'setup.sh'))
      ? `Run 'npm run setup' (it finds or installs libtorch and builds the addon; set LIBTORCH to use your own).`
      : `Build it with 'npm rebuild ltkit' in your project: it needs libtorch (Debian/Ubuntu: apt-get install ` +
        `libtorch-dev; or set LIBTORCH to a libtorch folder with include/ and lib/) and a C++ compiler. If npm ` +
        `did not run ltkit's install script (--ignore-scripts, or an allowScripts entry denying it), allow it ` +
        `first: npm approve-scripts ltkit.`;
    const why = fs.existsSync(file) ? (e as Error).message : 'it has not been built';
    throw new Error(`ltkit: cannot load the native addon ${file}: ${why}\n${fix}`);
  }
}

export const native: NativeAddon = load();

// libtorch defaults to 1 intra-op thread when embedded; PyTorch uses one per core.
const envThreads = Number(process.env.LTKIT_NUM_THREADS);
native.SetNumThreads(Number.isInteger(envThreads) && envThreads > 0 ? envThreads : os.cpus().length);
