// The shape every ltkit image classifier has: backbone → pooled feature vector → head → logits,
// with named stages where methods (MFW, manifold mixup) may transform the activation.
import { Tensor } from '../engine/tensor';
import { Module } from '../nn/module';

/**
 * A stage boundary of a backbone. 'input' is the image itself, 'stem' the output of the first
 * conv-BN-ReLU, 'layerK' the output of the K-th residual stage (the paper S2 counts the stem as
 * group 1, so its "after the second group" is 'layer1').
 */
export type Stage = 'input' | 'stem' | 'layer1' | 'layer2' | 'layer3' | 'layer4';

/** Replaces the activation after `stage` with `fn(z)` (training-time feature transforms). */
export interface FeatureHook {
  stage: Stage;
  fn: (z: Tensor) => Tensor;
}

export interface ForwardFeaturesOptions {
  hook?: FeatureHook | FeatureHook[];
}

export interface ClassifierOutput {
  logits: Tensor; // [B, C]
  features: Tensor; // [B, featureDim] pooled, before the head
}

export interface ResetHeadOptions {
  numClasses?: number;
  normedLinear?: boolean;
  /**
   * 'kaiming' (default): the model's construction init (reference `_weights_init`);
   * 'default': PyTorch's nn.Linear init (a fresh classifier as in the decoupling reference, cRT).
   */
  init?: 'kaiming' | 'default';
}

export abstract class ClassifierModel extends Module {
  abstract readonly featureDim: number;
  abstract readonly numClasses: number;
  /** The stages `forwardFeatures` accepts hooks at, in order. */
  abstract readonly stages: readonly Stage[];

  /** Backbone only: pooled features [B, featureDim]. */
  abstract forwardBackbone(x: Tensor, opts?: ForwardFeaturesOptions): Tensor;
  /** The classifier module (registered under the PyTorch name of the reference model). */
  abstract get head(): Module;
  /** Replaces the head with a freshly initialised one (cRT, SSP fine-tuning, rotation pre-training). */
  abstract resetHead(opts?: ResetHeadOptions): void;
  /** State-dict key prefix of the head (e.g. 'linear.' or 'fc.'). */
  abstract readonly headPrefix: string;

  forward(x: Tensor): Tensor {
    return this.head.forward(this.forwardBackbone(x));
  }

  forwardFeatures(x: Tensor, opts: ForwardFeaturesOptions = {}): ClassifierOutput {
    const features = this.forwardBackbone(x, opts);
    return { logits: this.head.forward(features), features };
  }

  /**
   * Installs `head` as the classifier, under the same state-dict prefix (a τ-normalised head, LWS's scaled
   * head). The old head is disposed unless `disposeOld` is false (e.g. when the new head wraps it).
   */
  replaceHead(head: Module, opts: { disposeOld?: boolean } = {}): void {
    const old = this.head;
    const device = this.parameters()[0]?.device ?? 'cpu';
    if (device !== 'cpu') head.to(device);
    this.registerModule(this.headPrefix.slice(0, -1), head);
    if (opts.disposeOld ?? true) old.dispose();
  }

  headParameters(): Tensor[] {
    return this.head.parameters();
  }
  backboneParameters(): Tensor[] {
    const head = new Set(this.headParameters());
    return this.parameters().filter((p) => !head.has(p));
  }

  /** Checks the hook stages exist on this model; returns a stage → functions lookup. */
  protected hookTable(opts?: ForwardFeaturesOptions): Map<Stage, ((z: Tensor) => Tensor)[]> {
    const table = new Map<Stage, ((z: Tensor) => Tensor)[]>();
    const hooks = opts?.hook === undefined ? [] : Array.isArray(opts.hook) ? opts.hook : [opts.hook];
    for (const h of hooks) {
      if (!this.stages.includes(h.stage)) {
        throw new Error(`${this.constructor.name}: no stage '${h.stage}' (stages: ${this.stages.join(', ')})`);
      }
      const list = table.get(h.stage) ?? [];
      list.push(h.fn);
      table.set(h.stage, list);
    }
    return table;
  }
}

/** Applies the hooks registered for `stage` (in order). */
export function applyHooks(table: Map<Stage, ((z: Tensor) => Tensor)[]>, stage: Stage, z: Tensor): Tensor {
  const fns = table.get(stage);
  if (fns === undefined) return z;
  let y = z;
  for (const fn of fns) y = fn(y);
  return y;
}
