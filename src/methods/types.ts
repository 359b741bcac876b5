// The slots a method contributes to (ARCHITECTURE.md "methods/"). The trainer knows only these
// slots, never a method's name.
import type { Tensor } from '../engine';
import type { Rng } from '../util/rng';

/** Where a feature hook runs: the network input, after the stem, or after a residual stage. */
export type Stage = 'input' | 'stem' | 'layer1' | 'layer2' | 'layer3';
export const STAGES: Stage[] = ['input', 'stem', 'layer1', 'layer2', 'layer3'];

/** Label mixing recorded by a hook: loss = lam·L(a) + (1 − lam)·L(b) (lam scalar or per sample). */
export interface LabelMix {
  a: Tensor;
  b: Tensor;
  lam: number | Float32Array;
}

/** What a feature hook sees for one training batch. */
export interface HookContext {
  targets: Tensor; // [B] int64
  targetsArray: Int32Array; // the same labels in JS
  clsNumList: number[];
  rng: Rng;
  /** Set by hooks that mix labels (mixup family); MFW keeps labels and leaves it null. */
  labelMix: LabelMix | null;
}

/** The `features` slot: transform the activation after one stage during training. */
export interface FeatureHook {
  name: string;
  /** The stage for this batch (manifold mixup draws one per batch). */
  stage(rng: Rng): Stage;
  apply(z: Tensor, ctx: HookContext): Tensor;
}
