// export/: the trained model as an ONNX file (structural exporter, hand-written protobuf), checked with ONNX Runtime.
export {
  exportOnnx,
  registerOnnxEmitter,
  onnxSupportedModules,
  OnnxExportError,
  OnnxGraph,
  DEFAULT_OPSET,
  SUPPORTED_OPSETS,
} from './onnx';
export type { OnnxExportOptions, OnnxExport, Emitter, EmitContext } from './onnx';
export { readOnnxModel } from './onnx-proto';
export type { OnnxModelInfo } from './onnx-proto';
export { checkOnnx, runOnnx } from './verify';
export type { OnnxCheck, OnnxRunOptions } from './verify';
export { exportRun, runMetadata } from './run-export';
export type { ExportRunOptions, ExportRunResult } from './run-export';
