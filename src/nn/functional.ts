// Functional helpers that PyTorch has in torch.nn.functional but ATen has no single op for.
import { Tensor } from '../engine/tensor';
import { clampMin, div, expandAs, norm } from '../engine/ops.generated';

/**
 * F.normalize: x / max(‖x‖_p, eps) along `dim` (PyTorch 1.13's exact formula: the norm is clamped,
 * then broadcast), so gradients match PyTorch's.
 */
export function normalize(x: Tensor, o: { p?: number; dim?: number; eps?: number } = {}): Tensor {
  const denom = clampMin(norm(x, o.p ?? 2, o.dim ?? 1, { keepdim: true }), o.eps ?? 1e-12);
  return div(x, expandAs(denom, x));
}
