// ImageNet-style ResNet-10/18/50 (He et al., CVPR 2016, Table 1) for ImageNet-LT / iNaturalist
// (SPEC §2), with torchvision's module names so torchvision / MoCo checkpoints load as they are:
// conv1, bn1, layer1..4.{i}.{conv,bn}{1,2,3}, layerK.0.downsample.{0,1}, fc.
// ResNet-10 (BasicBlock [1,1,1,1], 512-d) is the decoupling/S1 reference's ImageNet-LT backbone
// (YyzHarry/imbalanced-semi-self imagenet_inat/models/ResNet10Feature.py); ResNet-50 (Bottleneck,
// stride on the 3×3 conv as in torchvision ≥ 0.2 and the reference, 2048-d) is the iNat / MoCo one.
//
//   stem   conv7×7/2 (→64, no bias) → BN → ReLU → maxpool 3×3/2        [B, 64, H/4, W/4]
//   layer1..4 at 64/128/256/512 planes (×4 for Bottleneck), stride 1/2/2/2
//   pool   global average (adaptive; = the reference AvgPool2d(7) at 224²) → features
//   head   `fc`: nn.Linear(featureDim, C) or NormedLinear
//
// Init as torchvision / the reference: conv weights N(0, 2 / (k·k·out)) (kaiming_normal_, fan_out,
// relu), BN weight 1 / bias 0, fc PyTorch's default nn.Linear init.
import { Tensor } from '../engine/tensor';
import { adaptiveAvgPool2d, add, flatten, maxPool2d, relu } from '../engine/ops.generated';
import { Module } from '../nn/module';
import { BatchNorm2d, Conv2d, Linear, NormedLinear, Sequential } from '../nn/layers';
import { kaimingNormal_ } from '../nn/init';
import { ClassifierModel, ForwardFeaturesOptions, ResetHeadOptions, Stage, applyHooks } from './classifier';

interface Block extends Module {
  forward(x: Tensor): Tensor;
}

export class ImageNetBasicBlock extends Module implements Block {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inplanes: number, planes: number, stride: number, downsample: Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inplanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = this.registerModule('downsample', downsample);
  }
  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.forward(this.conv1.forward(x)));
    out = this.bn2.forward(this.conv2.forward(out));
    return relu(add(out, this.downsample === null ? x : this.downsample.forward(x)));
  }
}

export class Bottleneck extends Module implements Block {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  constructor(inplanes: number, planes: number, stride: number, downsample: Sequential | null) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inplanes, planes, 1, { bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv3 = this.registerModule('conv3', new Conv2d(planes, planes * 4, 1, { bias: false }));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * 4));
    this.downsample = this.registerModule('downsample', downsample);
  }
  forward(x: Tensor): Tensor {
    let out = relu(this.bn1.forward(this.conv1.forward(x)));
    out = relu(this.bn2.forward(this.conv2.forward(out)));
    out = this.bn3.forward(this.conv3.forward(out));
    return relu(add(out, this.downsample === null ? x : this.downsample.forward(x)));
  }
}

export type BlockKind = 'basic' | 'bottleneck';

export interface ResNetImageNetOptions {
  block: BlockKind;
  layers: [number, number, number, number];
  numClasses: number;
  normedLinear?: boolean;
  inChannels?: number;
}

export class ResNetImageNet extends ClassifierModel {
  readonly featureDim: number;
  numClasses: number;
  readonly stages: readonly Stage[] = ['input', 'stem', 'layer1', 'layer2', 'layer3', 'layer4'];
  readonly headPrefix = 'fc.';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly layer4: Sequential;

  constructor(o: ResNetImageNetOptions) {
    super();
    if (!Number.isInteger(o.numClasses) || o.numClasses < 1) throw new Error(`numClasses must be a positive integer`);
    const expansion = o.block === 'basic' ? 1 : 4;
    this.numClasses = o.numClasses;
    this.featureDim = 512 * expansion;
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(o.inChannels ?? 3, 64, 7, { stride: 2, padding: 3, bias: false }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    let inplanes = 64;
    const makeLayer = (planes: number, blocks: number, stride: number): Sequential => {
      let downsample: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * expansion) {
        downsample = new Sequential(
          new Conv2d(inplanes, planes * expansion, 1, { stride, bias: false }),
          new BatchNorm2d(planes * expansion),
        );
      }
      const seq = new Sequential();
      for (let i = 0; i < blocks; i++) {
        const s = i === 0 ? stride : 1;
        const ds = i === 0 ? downsample : null;
        seq.append(
          o.block === 'basic'
            ? new ImageNetBasicBlock(inplanes, planes, s, ds)
            : new Bottleneck(inplanes, planes, s, ds),
        );
        inplanes = planes * expansion;
      }
      return seq;
    };
    this.layer1 = this.registerModule('layer1', makeLayer(64, o.layers[0], 1));
    this.layer2 = this.registerModule('layer2', makeLayer(128, o.layers[1], 2));
    this.layer3 = this.registerModule('layer3', makeLayer(256, o.layers[2], 2));
    this.layer4 = this.registerModule('layer4', makeLayer(512, o.layers[3], 2));
    this.registerModule('fc', this.makeHead(o.numClasses, o.normedLinear ?? false));
    for (const m of this.modules()) {
      if (m instanceof Conv2d) kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    }
  }

  private makeHead(numClasses: number, normed: boolean): Module {
    return normed ? new NormedLinear(this.featureDim, numClasses) : new Linear(this.featureDim, numClasses);
  }

  get head(): Module {
    return this.child('fc');
  }

  /** Fresh head; 'kaiming' and 'default' both give nn.Linear's default init here (torchvision's). */
  resetHead(opts: ResetHeadOptions = {}): void {
    const numClasses = opts.numClasses ?? this.numClasses;
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`numClasses must be a positive integer`);
    const head = this.makeHead(numClasses, opts.normedLinear ?? this.head instanceof NormedLinear);
    // On the model's device; the old parameters are disposed (build optimizers after a reset).
    this.replaceHead(head);
    this.numClasses = numClasses;
  }

  forwardBackbone(x: Tensor, opts?: ForwardFeaturesOptions): Tensor {
    const hooks = this.hookTable(opts);
    let out = applyHooks(hooks, 'input', x);
    out = relu(this.bn1.forward(this.conv1.forward(out)));
    out = applyHooks(hooks, 'stem', maxPool2d(out, 3, { stride: 2, padding: 1 }));
    out = applyHooks(hooks, 'layer1', this.layer1.forward(out));
    out = applyHooks(hooks, 'layer2', this.layer2.forward(out));
    out = applyHooks(hooks, 'layer3', this.layer3.forward(out));
    out = applyHooks(hooks, 'layer4', this.layer4.forward(out));
    return flatten(adaptiveAvgPool2d(out, [1, 1]), { startDim: 1 }); // [B, featureDim]
  }
}
