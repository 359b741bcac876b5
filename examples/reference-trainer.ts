// A readable spec of ltkit's training loop: CE + DRW on a long-tailed set, written with the public `ltkit` API
// only — no registry, no recipe machinery, no hooks. It takes the same steps as `lt.train` with recipe
// `ce+drw` (src/train/loop.ts with the classification task), and the test checks that both reach the same
// weights bit for bit.
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
  warmupEpochs?: number;
  /** Limit steps per epoch (tests). */
  maxSteps?: number;
  dataset: 'fmnist-lt' | 'synthetic';
  /** Imbalance ratio (default 100). */
  rho?: number;
  seed?: number;
  log?: (s: string) => void;
}

export async function referenceTrainer(
  o: ExampleOptions,
): Promise<{ top1: number; balanced: number; weights: Record<string, lt.Tensor> }> {
  const log = o.log ?? console.log;
  const seed = o.seed ?? 0;

  // 1. Data: a long-tailed training subset (reference selection) and the balanced test set.
  const cfg = lt.resolveConfig({ seed, data: { dataset: o.dataset, rho: o.rho ?? 100, imbType: 'exp' } });
  const data = lt.data.buildTrainData(cfg.data);
  const [, H, W, C] = data.train.shape; // N×H×W×C uint8
  const counts = data.clsNumList; // images per class, head first
  log(`train ${data.train.targets.length} images, per class ${counts.join(' ')}`);

  // 2. Model and optimizer: ResNet-8 (CIFAR style), SGD with momentum and weight decay.
  lt.manualSeed(seed);
  const model = lt.models.create('resnet8', { numClasses: data.numClasses, inChannels: C });
  const opt = new lt.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 2e-4 });
  // The trainer's schedule: linear warm-up, ×0.01 after 80% and ×0.0001 after 90% of the epochs.
  const schedule = lt.optim.cifarSchedule({ baseLr: 0.1, epochs: o.epochs, warmupEpochs: o.warmupEpochs ?? 5 });

  // 3. Batches: uint8 pixels → float32 NCHW, normalised; random crop (pad 4) + flip for training, in a
  //    seeded shuffled order (epoch e, step s draws its augmentation from (seed, e, s)).
  const pipes = lt.batchPipelines({ imageShape: [H, W, C], mean: data.mean, std: data.std }, true);
  const loader = new lt.data.DataLoader(new lt.data.InMemorySource(data.train), {
    sampler: new lt.data.InstanceSampler(data.train.targets.length, seed),
    batchSize: o.batchSize,
    transform: pipes.train,
    seed,
  });
  const drwEpoch = lt.rebalance.deferredSwitchEpoch(o.epochs, 0.8);
  const cbWeights = lt.rebalance.cbWeights(counts, 0.9999);

  for (let epoch = 0; epoch < o.epochs; epoch++) {
    // DRW: plain CE until 80% of the epochs, class-balanced weights after.
    const weight = epoch >= drwEpoch ? lt.tensor(cbWeights).keep() : null;
    opt.setLr(schedule.lrAt(epoch));
    model.train();
    let lossSum = 0;
    let steps = 0;
    for (const b of loader.epoch(epoch)) {
      if (o.maxSteps !== undefined && steps === o.maxSteps) break;
      lossSum += lt.tidy(() => {
        const logits = model.forward(b.x); // [B, classes]
        const loss = lt.crossEntropyLoss(logits, b.y, { weight }); // Σ w_y ℓ / Σ w_y
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      });
      steps++;
    }
    weight?.dispose();
    log(`epoch ${epoch + 1}/${o.epochs} lr ${schedule.lrAt(epoch)} loss ${(lossSum / steps).toFixed(4)}`);
  }

  // 4. Evaluate: overall and balanced (mean per-class) accuracy on the balanced test set.
  const sum = lt.evaluateModel(model, data.test, pipes.test, { numClasses: data.numClasses, trainCounts: counts });
  log(
    `test top-1 ${(100 * (sum.top1 ?? 0)).toFixed(2)}%, balanced ${(100 * (sum.balancedAccuracy ?? 0)).toFixed(2)}% (${H}×${W})`,
  );
  const weights = model.stateDict(); // views that keep the weights alive after the model is freed
  model.dispose();
  opt.dispose();
  return { top1: sum.top1 ?? 0, balanced: sum.balancedAccuracy ?? 0, weights };
}

if (require.main === module) {
  const epochs = Number(process.argv[2] ?? 10);
  referenceTrainer({ epochs, batchSize: 128, dataset: 'fmnist-lt' })
    .then((r) => lt.dispose(r.weights))
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
