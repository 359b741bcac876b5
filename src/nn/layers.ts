// Basic layers with PyTorch's parameter names, shapes, defaults and default initialisation.
import { Tensor, noGrad, tensor } from '../engine/tensor';
import {
  add_,
  adaptiveAvgPool2d,
  batchNorm,
  cat,
  conv2d,
  empty,
  flatten,
  linear,
  maxPool2d,
  mm,
  mul,
  mul_,
  relu,
  renorm_,
  uniform_,
} from '../engine/ops.generated';
import { Module } from './module';
import { constant_, defaultLayerInit_ } from './init';
import { normalize } from './functional';

type Pair = number | [number, number];
const pair = (v: Pair): [number, number] => (typeof v === 'number' ? [v, v] : v);

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  /** Default true, as in PyTorch. */
  bias?: boolean;
  device?: string;
}

/**
 * What nn.Conv2d and nn.Linear share: a float32 `weight` whose first dimension is the output size, an optional
 * `bias` [out] (default on, as in PyTorch), both given PyTorch's default init (`defaultLayerInit_`).
 */
export abstract class WeightBiasLayer extends Module {
  constructor(weightShape: number[], o: { bias?: boolean; device?: string }) {
    super();
    const device = o.device ?? 'cpu';
    const w = empty(weightShape, { dtype: 'float32', device });
    const b = (o.bias ?? true) ? empty([weightShape[0]], { dtype: 'float32', device }) : null;
    defaultLayerInit_(w, b);
    this.registerParameter('weight', w);
    this.registerParameter('bias', b);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
}

/** nn.Conv2d: weight [out, in/groups, kh, kw], bias [out]; PyTorch's default init. */
export class Conv2d extends WeightBiasLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, o: Conv2dOptions = {}) {
    const groups = o.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(`Conv2d: channels ${inChannels}→${outChannels} not divisible by groups ${groups}`);
    }
    super([outChannels, inChannels / groups, ...pair(kernelSize)], o);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(o.stride ?? 1);
    this.padding = pair(o.padding ?? 0);
    this.dilation = pair(o.dilation ?? 1);
    this.groups = groups;
  }
  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, {
      bias: this.bias,
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

export interface BatchNormOptions {
  eps?: number;
  /** Running-average factor (default 0.1); null = cumulative moving average (1 / batches seen). */
  momentum?: number | null;
  affine?: boolean;
  trackRunningStats?: boolean;
  device?: string;
}

/**
 * nn.BatchNorm2d. Train mode normalises with batch statistics and updates running_mean /
 * running_var (unbiased variance) in place and counts num_batches_tracked (int64); eval mode uses the
 * running statistics — exactly PyTorch's `_BatchNorm.forward`.
 */
export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, o: BatchNormOptions = {}) {
    super();
    this.numFeatures = numFeatures;
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum === undefined ? 0.1 : o.momentum;
    this.affine = o.affine ?? true;
    this.trackRunningStats = o.trackRunningStats ?? true;
    const device = o.device ?? 'cpu';
    const f32 = { dtype: 'float32' as const, device };
    if (this.affine) {
      this.registerParameter('weight', constant_(empty([numFeatures], f32), 1));
      this.registerParameter('bias', constant_(empty([numFeatures], f32), 0));
    } else {
      this.registerParameter('weight', null);
      this.registerParameter('bias', null);
    }
    if (this.trackRunningStats) {
      this.registerBuffer('running_mean', constant_(empty([numFeatures], f32), 0));
      this.registerBuffer('running_var', constant_(empty([numFeatures], f32), 1));
      this.registerBuffer('num_batches_tracked', tensor([0], [], { dtype: 'int64', device }));
    } else {
      this.registerBuffer('running_mean', null);
      this.registerBuffer('running_var', null);
      this.registerBuffer('num_batches_tracked', null);
    }
  }
  get weight(): Tensor | null {
    return this.paramOrNull('weight');
  }
  get bias(): Tensor | null {
    return this.paramOrNull('bias');
  }
  get runningMean(): Tensor | null {
    return this.bufferOrNull('running_mean');
  }
  get runningVar(): Tensor | null {
    return this.bufferOrNull('running_var');
  }
  get numBatchesTracked(): Tensor | null {
    return this.bufferOrNull('num_batches_tracked');
  }

  /**
   * Synchronised batch statistics (torch.nn.SyncBatchNorm): in training, the mean and variance are those of
   * the union of all ranks' batches, through a sum over ranks that autograd differentiates. Null: this
   * process's batch alone (DistributedDataParallel's default).
   */
  sync: { worldSize: number; sumDifferentiable(t: Tensor): Tensor } | null = null;

  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new Error(`BatchNorm2d: expected 4D input [N, C, H, W], got shape [${x.shape}]`);
    if (this.sync && this.training) return this.forwardSynced(x, this.sync);
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && this.trackRunningStats && nbt !== null) {
      noGrad(() => add_(nbt, 1));
      if (this.momentum === null) factor = 1 / nbt.item();
    }
    const rm = this.runningMean;
    const rv = this.runningVar;
    const useBatchStats = this.training || (rm === null && rv === null);
    const track = !this.training || this.trackRunningStats;
    return batchNorm(
      x,
      this.weight,
      this.bias,
      track ? rm : null,
      track ? rv : null,
      useBatchStats,
      factor,
      this.eps,
      true,
    );
  }

  // torch/nn/modules/_functions.py SyncBatchNorm: per-channel mean and biased variance over the N·H·W values of
  // every rank; normalisation with the biased variance; running statistics updated with the unbiased one
  // (× n/(n−1)). Two sums over ranks (the mean, then the centred squares) rather than E[x²] − E[x]², which
  // cancels badly in float32. The element count rides along with the first sum.
  private forwardSynced(x: Tensor, sync: NonNullable<BatchNorm2d['sync']>): Tensor {
    const [n, c, h, w] = x.shape;
    const count = tensor([n * h * w], [1], { dtype: x.dtype, device: x.device });
    const totals = sync.sumDifferentiable(cat([x.sum([0, 2, 3]), count], { dim: 0 }));
    const total = totals.narrow(0, c, 1);
    const mean = totals.narrow(0, 0, c).div(total);
    const centred = x.sub(mean.view([1, c, 1, 1]));
    const variance = sync.sumDifferentiable(centred.mul(centred).sum([0, 2, 3])).div(total);
    let y = centred.mul(variance.add(this.eps).rsqrt().view([1, c, 1, 1]));
    if (this.weight) y = y.mul(this.weight.view([1, c, 1, 1]));
    if (this.bias) y = y.add(this.bias.view([1, c, 1, 1]));
    const nbt = this.numBatchesTracked;
    const rm = this.runningMean;
    const rv = this.runningVar;
    if (this.trackRunningStats && nbt && rm && rv) {
      noGrad(() => {
        add_(nbt, 1);
        const f = this.momentum ?? 1 / nbt.item();
        const m = total.item();
        add_(mul_(rm, 1 - f), mean.detach().mul(f));
        add_(mul_(rv, 1 - f), variance.detach().mul((f * m) / Math.max(1, m - 1)));
      });
    }
    return y;
  }
}

/** nn.Linear: weight [out, in], bias [out]; PyTorch's default init. */
export class Linear extends WeightBiasLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, o: { bias?: boolean; device?: string } = {}) {
    super([outFeatures, inFeatures], o);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, { bias: this.bias });
  }
}

/**
 * LDAM's cosine classifier (Cao et al. 2019, reference `NormedLinear` in kaidic/LDAM-DRW
 * models/resnet_cifar.py): weight [in, out] (transposed w.r.t. nn.Linear), no bias,
 * logits = normalize(x, dim 1) · normalize(W, dim 0) ∈ [−1, 1]. Init: U(−1, 1), then each column
 * renormed to unit L2 norm (`renorm_(2, 1, 1e-5).mul_(1e5)`).
 */
export class NormedLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(inFeatures: number, outFeatures: number, o: { device?: string } = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const w = empty([inFeatures, outFeatures], { dtype: 'float32', device: o.device ?? 'cpu' });
    noGrad(() => mul_(renorm_(uniform_(w, { from: -1, to: 1 }), 2, 1, 1e-5), 1e5));
    this.registerParameter('weight', w);
  }
  get weight(): Tensor {
    return this.param('weight');
  }
  forward(x: Tensor): Tensor {
    return mm(normalize(x, { dim: 1 }), normalize(this.weight, { dim: 0 })); // [B, out] cosines
  }
}

/**
 * A classifier head whose logits are scaled per class: `inner(x) · factor · scales` — the learnable weight
 * scaling (LWS) of Kang et al., "Decoupling Representation and Classifier" (ICLR 2020), whose reference
 * (classifier-balancing, TauNormClassifier.py) multiplies the frozen classifier's output (bias included) by a
 * learnable `scales = ones(C)`. `factor` is a fixed logit scale (LDAM's s for a cosine head, else 1).
 * State-dict keys: `inner.*`, `scales`, `factor`.
 */
export class ScaledHead extends Module {
  constructor(inner: Module, numClasses: number, factor = 1) {
    super();
    this.registerModule('inner', inner);
    this.registerParameter('scales', tensor(new Float32Array(numClasses).fill(1), [numClasses]));
    this.registerBuffer('factor', tensor(Float32Array.of(factor), [1]));
  }
  get inner(): Module {
    return this.child('inner');
  }
  get scales(): Tensor {
    return this.param('scales');
  }
  forward(x: Tensor): Tensor {
    return mul(mul(this.inner.forward(x), this.buffer('factor')), this.scales);
  }
}

/** nn.Sequential: children named '0', '1', …; forward chains them. */
export class Sequential extends Module {
  private count = 0;
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }
  append(m: Module): this {
    this.registerModule(String(this.count++), m);
    return this;
  }
  get length(): number {
    return this.count;
  }
  at<M extends Module = Module>(i: number): M {
    return this.child<M>(String(i < 0 ? this.count + i : i));
  }
  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.children()) {
      const next = m.forward(y);
      // Release intermediates as soon as the next module has consumed them, as Python's refcount
      // does: autograd keeps its own references to what it saved, so this only lowers peak memory
      // (and keeps the working set cache-hot — ResNet-32 eval forward was ~1.9x slower without it).
      if (y !== x && y !== next) y.dispose();
      y = next;
    }
    return y;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** nn.Flatten (start dim 1). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return flatten(x, { startDim: this.startDim, endDim: this.endDim });
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernelSize: Pair,
    readonly o: { stride?: Pair; padding?: Pair } = {},
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.o.stride ?? this.kernelSize, padding: this.o.padding ?? 0 });
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
  }
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, pair(this.outputSize));
  }
}
