// CIFAR ResNet-(6n+2) — He et al., "Deep Residual Learning for Image Recognition" (CVPR 2016) §4.2,
// as implemented by Y. Idelbayev and used unchanged by both papers' reference code
// (kaidic/LDAM-DRW and YyzHarry/imbalanced-semi-self, `models/resnet_cifar.py`, `ResNet_s`).
//
//   stem   conv3x3(3→16, no bias) → BN → ReLU                         [B, 16, 32, 32]
//   layer1 n × BasicBlock(16),  stride 1                               [B, 16, 32, 32]
//   layer2 n × BasicBlock(32),  stride 2 (first block)                 [B, 32, 16, 16]
//   layer3 n × BasicBlock(64),  stride 2 (first block)                 [B, 64,  8,  8]
//   pool   global average → features                                   [B, 64]
//   head   `linear`: nn.Linear(64, C) or NormedLinear(64, C)           [B, C]
//
// BasicBlock: conv-BN-ReLU-conv-BN, add the shortcut, ReLU. Shortcut "option A" (the paper's, no
// parameters): x[:, :, ::2, ::2] zero-padded with planes/4 channels on each side. Init (reference
// `_weights_init`): kaiming_normal_ (fan_in, gain √2) on every Conv2d and nn.Linear weight, applied
// after PyTorch's default layer init — we replay the same draws in the same order, so after
// `manualSeed(s)` the weights equal PyTorch's after `torch.manual_seed(s)`.
// State-dict keys equal the reference's: conv1.weight, bn1.*, layer1.0.conv1.weight, …, linear.weight.
import { Tensor } from '../engine/tensor';
import { add, avgPool2d, constantPadNd, relu_, slice, view } from '../engine/ops.generated';
import { Module } from '../nn/module';
import { BatchNorm2d, Conv2d, Linear, NormedLinear, Sequential } from '../nn/layers';
import { kaimingNormal_ } from '../nn/init';
import { ClassifierModel, ForwardFeaturesOptions, ResetHeadOptions, Stage, applyHooks } from './classifier';

export type ShortcutOption = 'A' | 'B';

/** Option-A shortcut: spatial subsampling by 2 and zero channels, planes/4 on each side. */
export class PadShortcut extends Module {
  constructor(readonly padChannels: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    const sub = slice(slice(x, { dim: 2, step: 2 }), { dim: 3, step: 2 }); // x[:, :, ::2, ::2]
    return constantPadNd(sub, [0, 0, 0, 0, this.padChannels, this.padChannels], { value: 0 });
  }
}

export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  /** null = identity (the reference's empty nn.Sequential). */
  readonly shortcut: Module | null;

  constructor(inPlanes: number, planes: number, stride = 1, option: ShortcutOption = 'A') {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride: 1, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    let shortcut: Module | null = null;
    if (stride !== 1 || inPlanes !== planes) {
      if (option === 'A') {
        if (stride !== 2 || inPlanes + 2 * Math.floor(planes / 4) !== planes) {
          throw new Error(
            `BasicBlock option A needs stride 2 and planes = 2·inPlanes (got ${inPlanes}→${planes}, stride ${stride})`,
          );
        }
        shortcut = new PadShortcut(Math.floor(planes / 4));
      } else {
        shortcut = new Sequential(
          new Conv2d(inPlanes, planes * BasicBlock.expansion, 1, { stride, bias: false }),
          new BatchNorm2d(planes * BasicBlock.expansion),
        );
      }
    }
    this.shortcut = this.registerModule('shortcut', shortcut);
  }

  forward(x: Tensor): Tensor {
    // Each intermediate is released as soon as its consumer ran (see Sequential.forward).
    const c1 = this.conv1.forward(x);
    const b1 = this.bn1.forward(c1);
    c1.dispose();
    // In-place ReLU (as torchvision's ResNets): BN's backward needs its input, not its output.
    relu_(b1);
    const c2 = this.conv2.forward(b1);
    b1.dispose();
    const b2 = this.bn2.forward(c2);
    c2.dispose();
    const sc = this.shortcut === null ? x : this.shortcut.forward(x);
    const sum = add(b2, sc);
    b2.dispose();
    if (sc !== x) sc.dispose();
    return relu_(sum); // add's backward needs no saved tensors
  }
}

export interface ResNetCifarOptions {
  /** Blocks per stage: n (ResNet-(6n+2)) or one count per stage. */
  numBlocks: number | [number, number, number];
  numClasses: number;
  /** LDAM's cosine head instead of nn.Linear. */
  normedLinear?: boolean;
  /** Stage widths (default 16/32/64); each must double the previous for option A. */
  widths?: [number, number, number];
  inChannels?: number;
  shortcut?: ShortcutOption;
}

export class ResNetCifar extends ClassifierModel {
  readonly featureDim: number;
  numClasses: number;
  readonly stages: readonly Stage[] = ['input', 'stem', 'layer1', 'layer2', 'layer3'];
  readonly headPrefix = 'linear.';
  readonly normedLinear: boolean;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;

  constructor(o: ResNetCifarOptions) {
    super();
    const blocks = typeof o.numBlocks === 'number' ? [o.numBlocks, o.numBlocks, o.numBlocks] : o.numBlocks;
    if (blocks.some((b) => !Number.isInteger(b) || b < 1))
      throw new Error(`ResNetCifar: bad numBlocks ${JSON.stringify(o.numBlocks)}`);
    checkNumClasses(o.numClasses);
    const widths = o.widths ?? [16, 32, 64];
    const option = o.shortcut ?? 'A';
    this.numClasses = o.numClasses;
    this.normedLinear = o.normedLinear ?? false;
    this.featureDim = widths[2];
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(o.inChannels ?? 3, widths[0], 3, { stride: 1, padding: 1, bias: false }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(widths[0]));
    let inPlanes = widths[0];
    const makeLayer = (planes: number, n: number, stride: number): Sequential => {
      const seq = new Sequential();
      for (let i = 0; i < n; i++) {
        seq.append(new BasicBlock(inPlanes, planes, i === 0 ? stride : 1, option));
        inPlanes = planes * BasicBlock.expansion;
      }
      return seq;
    };
    this.layer1 = this.registerModule('layer1', makeLayer(widths[0], blocks[0], 1));
    this.layer2 = this.registerModule('layer2', makeLayer(widths[1], blocks[1], 2));
    this.layer3 = this.registerModule('layer3', makeLayer(widths[2], blocks[2], 2));
    this.registerModule('linear', this.makeHead(o.numClasses, this.normedLinear));
    // Reference `self.apply(_weights_init)`: after all layers exist, in definition order.
    for (const m of this.modules()) {
      if (m instanceof Conv2d || m instanceof Linear) kaimingNormal_(m.weight);
    }
  }

  private makeHead(numClasses: number, normed: boolean): Module {
    return normed ? new NormedLinear(this.featureDim, numClasses) : new Linear(this.featureDim, numClasses);
  }

  get head(): Module {
    return this.child('linear');
  }

  resetHead(opts: ResetHeadOptions = {}): void {
    const numClasses = opts.numClasses ?? this.numClasses;
    checkNumClasses(numClasses);
    const normed = opts.normedLinear ?? this.head instanceof NormedLinear;
    const head = this.makeHead(numClasses, normed);
    if (head instanceof Linear && (opts.init ?? 'kaiming') === 'kaiming') kaimingNormal_(head.weight);
    // On the model's device; the old parameters are disposed (build optimizers after a reset).
    this.replaceHead(head);
    this.numClasses = numClasses;
  }

  forwardBackbone(x: Tensor, opts?: ForwardFeaturesOptions): Tensor {
    const hooks = this.hookTable(opts);
    // Intermediates are released as soon as the next step consumed them (see Sequential.forward).
    let out = x;
    const step = (next: Tensor): void => {
      if (out !== x && out !== next) out.dispose();
      out = next;
    };
    step(applyHooks(hooks, 'input', x));
    step(this.conv1.forward(out));
    step(this.bn1.forward(out));
    step(applyHooks(hooks, 'stem', relu_(out)));
    step(this.layer1.forward(out));
    step(applyHooks(hooks, 'layer1', out));
    step(this.layer2.forward(out));
    step(applyHooks(hooks, 'layer2', out));
    step(this.layer3.forward(out));
    step(applyHooks(hooks, 'layer3', out));
    const [b, , h, w] = out.shape;
    step(avgPool2d(out, [h, w]));
    return view(out, [b, -1]); // [B, featureDim]
  }
}

function checkNumClasses(c: number): void {
  if (!Number.isInteger(c) || c < 1) throw new Error(`numClasses must be a positive integer, got ${c}`);
}

/** ResNet-(6n+2) for CIFAR: resnet20 (n=3), resnet32 (n=5), resnet44 (n=7), resnet56 (n=9), resnet110 (n=18). */
export function resnetCifar(depth: number, o: Omit<ResNetCifarOptions, 'numBlocks'>): ResNetCifar {
  if ((depth - 2) % 6 !== 0 || depth < 8)
    throw new Error(`CIFAR ResNet depth must be 6n+2 (8, 20, 32, …), got ${depth}`);
  return new ResNetCifar({ ...o, numBlocks: (depth - 2) / 6 });
}
