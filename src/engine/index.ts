// engine/: Tensor, generated typed ops, autograd, memory scopes, random, runtime.
export * from './dtype';
export {
  Tensor,
  tensor,
  tidy,
  keep,
  dispose,
  memory,
  noGrad,
  enableGrad,
  isGradEnabled,
  grad,
  manualSeed,
  setNumThreads,
  getNumThreads,
  runtimeInfo,
  cudaAvailable,
  setDefaultDevice,
  defaultDevice,
  op,
  callOp,
  resolveOp,
} from './tensor';
export type { FactoryOptions, NumericArray } from './tensor';
export * as ops from './ops.generated';
export * from './ops.generated';
export * from './safetensors';
export * from './amp';
