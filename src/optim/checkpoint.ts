// Optimizer state in one safetensors file: momentum buffers as tensors, hyper-parameters as JSON
// in the header's __metadata__ ("ltkit.optim"), so the file reads in PyTorch's safetensors too.
import { dispose } from '../engine/tensor';
import { loadSafetensorsFile, saveSafetensors } from '../engine/safetensors';
import { SGD, SGDStateMeta } from './sgd';

const META_KEY = 'ltkit.optim';

export function saveOptimizer(file: string, opt: SGD): void {
  const { tensors, meta } = opt.stateDict();
  try {
    saveSafetensors(file, tensors, { [META_KEY]: JSON.stringify(meta) });
  } finally {
    dispose(tensors);
  }
}

export function loadOptimizer(file: string, opt: SGD): void {
  const { tensors, metadata } = loadSafetensorsFile(file);
  try {
    const raw = metadata[META_KEY];
    if (raw === undefined) throw new Error(`${file}: no '${META_KEY}' metadata (not an ltkit optimizer file)`);
    opt.loadStateDict({ tensors, meta: JSON.parse(raw) as SGDStateMeta });
  } finally {
    dispose(tensors);
  }
}
