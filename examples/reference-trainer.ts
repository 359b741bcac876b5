// A readable spec of ltkit's training loop: CE + DRW on a long-tailed set, no registry, no recipe
// machinery — the same steps src/train/trainer.ts takes, top to bottom.
//
// Reference: Cao et al., "Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss"
// (NeurIPS 2019), code kaidic/LDAM-DRW cifar_train.py: SGD(0.9, wd 2e-4), lr 0.1 with a linear warm-up,
// ×0.01 at 80% and ×0.0001 at 90% of the epochs; DRW switches CE to class-balanced weights
// (β = 0.9999, Cui et al. 2019) at 80% of the epochs.
//
// Run: node dist/examples/reference-trainer.js [epochs]   (FMNIST-LT ρ=100 when Fashion-MNIST is installed)
import * as lt from '../src';

export interface ExampleOptions {
  epochs: number;
  batchSize: number;
  /** Limit steps per epoch (tests). */
  maxSteps?: number;
  dataset: 'fmnist-lt' | 'synthetic';
  /** Imbalance ratio (default 100). */
  rho?: number;
  log?: (s: string) => void;
}

export async function referenceTrainer(o: ExampleOptions): Promise<{ top1: number; balanced: number }> {
  const log = o.log ?? console.log;
  const seed = 0;

  // 1. Data: a long-tailed training subset (reference selection) and the balanced test set.
  const cfg = lt.resolveConfig({ seed, data: { dataset: o.dataset, rho: o.rho ?? 100, imbType: 'exp' } });
  const { buildTrainData } = await import('../src/train/datasets');
  const data = buildTrainData(cfg);
  const [, H, W, C] = data.train.shape; // N×H×W×C uint8
  const counts = data.clsNumList; // images per class, head first
  log(`train ${data.train.targets.length} images, per class ${counts.join(' ')}`);

  // 2. Model and optimizer: ResNet-8 (CIFAR style), SGD with momentum and weight decay.
  lt.manualSeed(seed);
  const model = lt.models.create('resnet8', { numClasses: data.numClasses, inChannels: C });
  const opt = new lt.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });

  // 3. Batches: uint8 pixels → float32 NCHW, normalised; random crop (pad 4) + flip for training.
  const { batchPipelines } = await import('../src/train/pipelines');
  const { gatherImages } = await import('../src/train/trainer');
  const pipes = batchPipelines(data, true);
  const drwEpoch = Math.floor(0.8 * o.epochs);
  const cbWeights = lt.rebalance.cbWeights(counts, 0.9999);

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    // DRW: plain CE until 80% of the epochs, class-balanced weights after.
    const weight = epoch >= drwEpoch ? lt.tensor(cbWeights).keep() : null;
    // Reference step schedule: lr 0.1, ×0.01 at 80%, ×0.0001 at 90% of the epochs (the 5-epoch
    // warm-up of the 200-epoch schedule is left out of this short example).
    const lr = epoch >= Math.round(0.9 * o.epochs) ? 0.1 * 1e-4 : epoch >= drwEpoch ? 0.1 * 0.01 : 0.1;
    opt.setLr(lr);
    const order = new lt.data.InstanceSampler(data.train.targets.length, seed).epochIndices(epoch);
    const aug = new lt.data.transforms.AugRng(seed, epoch);
    model.train();
    let lossSum = 0;
    let steps = 0;
    for (let s = 0; s < order.length && (o.maxSteps === undefined || steps < o.maxSteps); s += o.batchSize, steps++) {
      const idx = order.subarray(s, Math.min(order.length, s + o.batchSize));
      lossSum += lt.tidy(() => {
        const x = pipes.train(gatherImages(data.train, idx), aug.fork(steps)); // [B, C, H, W]
        const y = lt.tensor(
          Int32Array.from(idx, (i) => data.train.targets[i]),
          [idx.length],
          'int64',
        );
        const logits = model.forward(x); // [B, classes]
        const loss = lt.crossEntropyLoss(logits, y, { weight }); // Σ w_y ℓ / Σ w_y
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      });
    }
    weight?.dispose();
    log(`epoch ${epoch + 1}/${o.epochs} lr ${lr} loss ${(lossSum / steps).toFixed(4)}`);
  }

  // 4. Evaluate: overall and balanced (mean per-class) accuracy on the balanced test set.
  model.eval();
  const meter = new lt.evaluation.ClassificationMeter(data.numClasses, { trainCounts: counts });
  lt.noGrad(() => {
    for (let s = 0; s < data.test.targets.length; s += 256) {
      const idx = Int32Array.from({ length: Math.min(256, data.test.targets.length - s) }, (_, k) => s + k);
      lt.tidy(() => {
        const y = lt.tensor(
          Int32Array.from(idx, (i) => data.test.targets[i]),
          [idx.length],
          'int64',
        );
        meter.update(model.forward(pipes.test(gatherImages(data.test, idx))), y);
      });
    }
  });
  const sum = meter.summary();
  log(
    `test top-1 ${(100 * (sum.top1 ?? 0)).toFixed(2)}%, balanced ${(100 * (sum.balancedAccuracy ?? 0)).toFixed(2)}% (${H}×${W})`,
  );
  return { top1: sum.top1 ?? 0, balanced: sum.balancedAccuracy ?? 0 };
}

if (require.main === module) {
  const epochs = Number(process.argv[2] ?? 10);
  referenceTrainer({ epochs, batchSize: 128, dataset: 'fmnist-lt' }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
