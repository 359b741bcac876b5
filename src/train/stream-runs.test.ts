// Streamed file data through every reader of a run's images: MoCo pre-training (S1 Tables 4–5's "+ SSP"
// rows) and a fine-tuning run from it, and the training-time analyses, on a folder of JPEGs made here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { train } from './trainer';
import type { TrainConfigInput } from './config';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-stream-runs-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

/** root/<class>/<j>.jpg: 24 / 8 / 4 images, one colour per class with a gradient (crops differ). */
async function folder(root: string): Promise<void> {
  const counts = [24, 8, 4];
  for (const [c, n] of counts.entries()) {
    for (let j = 0; j < n; j++) {
      const [w, h] = [28 + (j % 3) * 6, 30 + (j % 2) * 8];
      const px = Buffer.alloc(w * h * 3);
      for (let i = 0; i < w * h; i++) {
        px[3 * i] = (80 * c + (i % w) * 3) % 256;
        px[3 * i + 1] = (220 - 70 * c + Math.floor(i / w) * 2) % 256;
        px[3 * i + 2] = (30 + 90 * c + j) % 256;
      }
      const file = path.join(root, `class${c}`, `${j}.jpg`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      await sharp(px, { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 })
        .toFile(file);
    }
  }
}

const base = (dir: string, name: string, extra: Partial<TrainConfigInput> = {}): TrainConfigInput => ({
  name,
  outDir: path.join(tmp, 'runs'),
  data: { dataset: `folder:${dir}`, cropSize: 16, testFraction: 0.25 },
  model: { name: 'resnet10' },
  train: { epochs: 1, batchSize: 8, maxStepsPerEpoch: 2, progress: 'on' },
  threads: 1,
  ...extra,
});

test('streamed folder: MoCo pre-training, then ssp-moco+ce fine-tuning from it; analyses on streamed images', async () => {
  const dir = path.join(tmp, 'own');
  await folder(dir);
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);

  // The recipe's ssp-moco trains (or reuses) the pre-training run on the same streamed images first.
  const r = await train(
    base(dir, 'ssp', { method: { recipe: 'ssp-moco+ce' }, pretrain: { epochs: 1, moco: { queue: 16, bnGroups: 2 } } }),
    { log },
  );
  assert.equal(r.status, 'completed', lines.join('\n'));
  const started = lines.find((l) => /ssp-moco: starting the pre-training run (.*)$/.test(l));
  assert.ok(started, 'the pre-training run started');
  const preDir = /ssp-moco: starting the pre-training run (.*)$/.exec(started)![1];
  const pre = JSON.parse(fs.readFileSync(path.join(preDir, 'run.json'), 'utf8'));
  assert.equal(pre.status, 'completed');
  // Its kNN monitor classified the streamed test images: one count per class, summing to the split.
  const metrics = fs
    .readFileSync(path.join(preDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const last = metrics[metrics.length - 1];
  assert.ok(last.test, 'the pre-training epoch has kNN test metrics');
  assert.ok(last.test.top1 >= 0 && last.test.top1 <= 1);
  assert.ok(
    lines.some((l) => /^model\.initFrom .*moco-.*: loaded \d+ backbone tensors/.test(l)),
    'the fine-tuning run started from the pre-trained encoder',
  );

  // The analyses read the streamed images in order (clean pass): per-class progress for every class.
  const a = await train(base(dir, 'analysed', { analysis: { progress: true } }), { log });
  assert.equal(a.status, 'completed', lines.join('\n'));
  const records = fs
    .readFileSync(path.join(a.runDir, 'analysis.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const progress = records.find((x) => x.type === 'progress');
  assert.ok(progress, 'a progress record');
  assert.equal(progress.accuracy.length, 3);
  assert.ok(
    progress.accuracy.every((v: number | null) => v !== null && v >= 0 && v <= 1),
    'every class has images',
  );
});
