// Buffers (BatchNorm running statistics) saved and put back around forward passes that must not move them:
// the extra passes of a semi-supervised loss term over unlabeled images, as USB's bn_controller freezes
// them (microsoft/Semi-supervised-learning, semilearn/core/utils/bn_controller).
import { dispose, keep, noGrad, tidy } from '../engine';
import { copy_ } from '../engine/ops.generated';
import type { Module } from './module';

/**
 * Saves every buffer of `model`; the returned function puts them back and frees the copies. Call it after
 * the step's backward pass: the batch-norm graph holds the buffers' versions until then.
 */
export function saveRunningStats(model: Module): () => void {
  const buffers = model.buffers();
  const saved = noGrad(() => buffers.map((b) => keep(b.clone())));
  return () => {
    noGrad(() => buffers.forEach((b, i) => tidy(() => copy_(b, saved[i]))));
    dispose(saved);
  };
}
