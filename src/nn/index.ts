// nn/: Module with PyTorch state_dict names, layers, init, functional helpers.
export { Module, stripPrefix } from './module';
export type { LoadStateDictOptions, LoadStateDictResult, RegisterBufferOptions } from './module';
export {
  Conv2d,
  BatchNorm2d,
  Linear,
  NormedLinear,
  ScaledHead,
  Sequential,
  ReLU,
  Identity,
  Flatten,
  MaxPool2d,
  AdaptiveAvgPool2d,
} from './layers';
export type { Conv2dOptions, BatchNormOptions } from './layers';
export * as init from './init';
export { normalize } from './functional';
