// models/: classifiers registered by name (timm-style): `createModel('resnet32', {numClasses: 10})`.
// Duplicate names are refused; tests iterate `listModels()`, so a registered model is tested at once.
import { ClassifierModel } from './classifier';
import { ResNetCifar } from './resnet-cifar';
import { ResNetImageNet } from './resnet-imagenet';

export * from './classifier';
/** Any registered classifier (what `createModel` returns). */
export type Model = ClassifierModel;
export { ResNetCifar, BasicBlock, PadShortcut, resnetCifar } from './resnet-cifar';
export type { ResNetCifarOptions, ShortcutOption } from './resnet-cifar';
export { ResNetImageNet, ImageNetBasicBlock, Bottleneck } from './resnet-imagenet';
export type { ResNetImageNetOptions, BlockKind } from './resnet-imagenet';

export interface ModelOptions {
  numClasses: number;
  /** LDAM's cosine classifier head. */
  normedLinear?: boolean;
  /** Input channels (default 3). */
  inChannels?: number;
}

export interface ModelEntry {
  name: string;
  description: string;
  /** Input size the model is meant for ([C, H, W]); tests feed this. */
  inputShape: [number, number, number];
  /** A smaller input the registry tests feed (any size the model accepts); default inputShape. */
  testInputShape?: [number, number, number];
  create: (o: ModelOptions) => ClassifierModel;
}

const registry = new Map<string, ModelEntry>();

export function registerModel(entry: ModelEntry): void {
  if (registry.has(entry.name)) throw new Error(`model '${entry.name}' is already registered`);
  registry.set(entry.name, entry);
}

/** Creates a registered model; the error for an unknown name lists the registered ones. */
export function createModel(name: string, o: ModelOptions): ClassifierModel {
  const e = registry.get(name);
  if (e === undefined) throw new Error(`unknown model '${name}' (registered: ${listModels().join(', ')})`);
  if (o === undefined || !Number.isInteger(o.numClasses) || o.numClasses < 1) {
    throw new Error(`createModel('${name}'): numClasses must be a positive integer, got ${o?.numClasses}`);
  }
  return e.create(o);
}

export function listModels(): string[] {
  return [...registry.keys()].sort();
}

export function modelInfo(name: string): ModelEntry {
  const e = registry.get(name);
  if (e === undefined) throw new Error(`unknown model '${name}' (registered: ${listModels().join(', ')})`);
  return e;
}

/** Short aliases (import as a namespace: `models.create(...)`). */
export { createModel as create, listModels as list, registerModel as register };

const CIFAR: [number, number, number] = [3, 32, 32];
for (const depth of [8, 20, 32, 44, 56, 110]) {
  registerModel({
    name: `resnet${depth}`,
    description: `CIFAR ResNet-${depth} (n=${(depth - 2) / 6}, 16/32/64, option-A shortcuts), reference ResNet_s`,
    inputShape: CIFAR,
    create: (o) =>
      new ResNetCifar({
        numBlocks: (depth - 2) / 6,
        numClasses: o.numClasses,
        normedLinear: o.normedLinear,
        inChannels: o.inChannels,
      }),
  });
}
registerModel({
  name: 'resnet-tiny',
  description: 'ResNet-8 at widths 4/8/16 (tests and smoke runs only)',
  inputShape: [3, 16, 16],
  create: (o) =>
    new ResNetCifar({
      numBlocks: 1,
      widths: [4, 8, 16],
      numClasses: o.numClasses,
      normedLinear: o.normedLinear,
      inChannels: o.inChannels,
    }),
});

const IMAGENET: [number, number, number] = [3, 224, 224];
const imagenet: [string, 'basic' | 'bottleneck', [number, number, number, number]][] = [
  ['resnet10', 'basic', [1, 1, 1, 1]],
  ['resnet18', 'basic', [2, 2, 2, 2]],
  ['resnet50', 'bottleneck', [3, 4, 6, 3]],
];
for (const [name, block, layers] of imagenet) {
  registerModel({
    name,
    description: `ImageNet ResNet-${name.slice(6)} (${block} blocks ${layers.join('/')}, torchvision names), ImageNet-LT / iNat`,
    inputShape: IMAGENET,
    testInputShape: [3, 64, 64],
    create: (o) =>
      new ResNetImageNet({
        block,
        layers,
        numClasses: o.numClasses,
        normedLinear: o.normedLinear,
        inChannels: o.inChannels,
      }),
  });
}
