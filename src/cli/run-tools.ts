// `ltkit eval` and `ltkit predict`: everything is read from a run directory (run.json + checkpoints).
import * as fs from 'fs';
import { tensor, tidy, noGrad, loadSafetensors, dispose, softmax, topk } from '../engine';
import { resolveConfig, TrainConfig } from '../train/config';
import { buildTrainData, take } from '../train/datasets';
import { batchPipelines } from '../train/pipelines';
import { buildModel, evaluate, usesChannelsLast } from '../train/trainer';
import { parseRecipe } from '../methods/recipe';
import { RunDir } from '../train/run-dir';
import { loadSource, readImageFile } from '../data/sources';
import type { ClassifierModel } from '../models';

interface RunJson {
  config: TrainConfig;
  data: {
    numClasses: number;
    classNames: string[];
    clsNumList: number[];
    /** [H, W, C] of the training images, and their normalisation. */
    imageShape: [number, number, number];
    mean: number[];
    std: number[];
  };
}

function loadRunModel(dir: string, checkpoint: string): { run: RunDir; info: RunJson; model: ClassifierModel } {
  const run = RunDir.open(dir);
  const info = run.readRun<RunJson>();
  const cfg = resolveConfig(info.config, `${run.file('run.json')}: config`);
  const file = run.file('checkpoints', `${checkpoint}.safetensors`);
  if (!fs.existsSync(file)) {
    const have = fs.readdirSync(run.file('checkpoints')).filter((f) => f.endsWith('.safetensors'));
    throw new Error(`no checkpoint '${checkpoint}' in ${run.dir} (have: ${have.join(', ') || 'none'})`);
  }
  const weights = loadSafetensors(file);
  const recipe = parseRecipe({ ...cfg.method }, cfg.data.imbType);
  const [h, w, channels] = info.data.imageShape;
  const model = buildModel(cfg, recipe, {
    numClasses: info.data.numClasses,
    train: { images: new Uint8Array(0), shape: [0, h, w, channels], targets: new Int32Array(0) },
  });
  model.loadStateDict(weights);
  dispose(weights);
  model.eval();
  return { run, info, model };
}

export function evalRun(
  dir: string,
  o: { checkpoint: string; dataset?: string; root?: string },
): Record<string, unknown> {
  const { info, model } = loadRunModel(dir, o.checkpoint);
  const cfg = resolveConfig(info.config);
  const data = buildTrainData(cfg);
  let test = data.test;
  if (o.dataset) {
    const src = loadSource(o.dataset, { root: o.root, split: 'test' });
    if (src.numClasses !== info.data.numClasses) {
      throw new Error(`--data ${o.dataset} has ${src.numClasses} classes; the run has ${info.data.numClasses}`);
    }
    test = take(
      src,
      Int32Array.from({ length: src.length }, (_, i) => i),
    );
  }
  const pipes = batchPipelines(data, false, { channelsLast: usesChannelsLast(cfg) });
  return evaluate(model, test, pipes, {
    numClasses: info.data.numClasses,
    trainCounts: info.data.clsNumList,
    batchSize: 256,
  });
}

export interface Prediction {
  file: string;
  top: { classIndex: number; className: string; probability: number }[];
}

export function predictImages(dir: string, files: string[], o: { checkpoint: string; top: number }): Prediction[] {
  const { info, model } = loadRunModel(dir, o.checkpoint);
  const cfg = resolveConfig(info.config);
  const [size, , channels] = info.data.imageShape;
  const pipes = batchPipelines(
    { train: { shape: [0, ...info.data.imageShape] }, mean: info.data.mean, std: info.data.std },
    false,
    { channelsLast: usesChannelsLast(cfg) },
  );
  const k = Math.max(1, Math.min(o.top, info.data.numClasses));
  return files.map((file) => {
    const img = readImageFile(file);
    const pixels = resizeNearest(img.data, img.height, img.width, img.channels, size, channels);
    return tidy(() =>
      noGrad(() => {
        const x = pipes.test(tensor(pixels, [1, size, size, channels], 'uint8'));
        const p = softmax(model.forward(x), 1);
        const [vals, idx] = topk(p, k, { dim: 1 });
        const pv = vals.toList();
        return {
          file,
          top: idx
            .toList()
            .map((c, j) => ({ classIndex: c, className: info.data.classNames[c] ?? String(c), probability: pv[j] })),
        };
      }),
    );
  });
}

/** Nearest-neighbour resize to size×size and conversion to `channels` (gray ↔ RGB). */
function resizeNearest(src: Uint8Array, h: number, w: number, c: number, size: number, channels: number): Uint8Array {
  const out = new Uint8Array(size * size * channels);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / size));
    for (let x = 0; x < size; x++) {
      const sx = Math.min(w - 1, Math.floor(((x + 0.5) * w) / size));
      const s = (sy * w + sx) * c;
      const d = (y * size + x) * channels;
      if (channels === 1)
        out[d] = c >= 3 ? Math.round(0.299 * src[s] + 0.587 * src[s + 1] + 0.114 * src[s + 2]) : src[s];
      else for (let k = 0; k < channels; k++) out[d + k] = src[s + (c >= 3 ? k : 0)];
    }
  }
  return out;
}
