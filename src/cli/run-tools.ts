// `ltkit eval` and `ltkit predict`: the model comes from a run directory (train/run-model.ts), with every
// stage of its recipe applied (a cRT head, a τ-normalised head, LWS scales), and says which weights it used.
import { tensor, tidy, noGrad, softmax, topk } from '../engine';
import { buildTrainData, take, ImageSet } from '../data/train-data';
import { load, readImageFile } from '../data';
import { evaluateModel, forwardLogits } from '../train/classification';
import { loadRunModel, RunCheckpoint } from '../train/run-model';
import type { ClassificationSummary } from '../eval/metrics';

function checkpointName(c: string): RunCheckpoint {
  if (c !== 'final' && c !== 'best') throw new Error(`--checkpoint must be 'final' or 'best', got '${c}'`);
  return c;
}

export function evalRun(
  dir: string,
  o: { checkpoint: string; dataset?: string; root?: string },
): { model: string; summary: ClassificationSummary } {
  const r = loadRunModel(dir, checkpointName(o.checkpoint));
  try {
    let test: ImageSet;
    if (o.dataset) {
      const src = load(o.dataset, { root: o.root, split: 'test' });
      if (src.numClasses !== r.info.data.numClasses) {
        throw new Error(`--data ${o.dataset} has ${src.numClasses} classes; the run has ${r.info.data.numClasses}`);
      }
      test = take(
        src,
        Int32Array.from({ length: src.length }, (_, i) => i),
      );
    } else {
      test = buildTrainData(r.config.data).test;
    }
    const summary = evaluateModel(r.model, test, r.pipes.test, {
      numClasses: r.info.data.numClasses,
      trainCounts: r.info.data.labeledCounts ?? r.info.data.clsNumList,
      ctx: r.ctx,
    });
    return { model: r.description, summary };
  } finally {
    r.model.dispose();
  }
}

export interface Prediction {
  file: string;
  top: { classIndex: number; className: string; probability: number }[];
  /** Why the file could not be classified (the other files still are). */
  error?: string;
}

export function predictImages(
  dir: string,
  files: string[],
  o: { checkpoint: string; top: number; maxPixels?: number },
): { model: string; predictions: Prediction[] } {
  const r = loadRunModel(dir, checkpointName(o.checkpoint));
  const [h, w, channels] = r.input.imageShape;
  const names = r.info.data.classNames;
  const k = Math.max(1, Math.min(o.top, r.info.data.numClasses));
  try {
    const predictions = files.map((file): Prediction => {
      try {
        const img = readImageFile(file, { maxPixels: o.maxPixels });
        const pixels = resizeNearest(img.data, img.height, img.width, img.channels, h, w, channels);
        return tidy(() =>
          noGrad(() => {
            const x = r.pipes.test(tensor(pixels, [1, h, w, channels], 'uint8'));
            // Under the run's autocast, as `ltkit eval` and the run's own evaluations computed its logits.
            const p = softmax(forwardLogits(r.model, x, r.ctx), 1);
            const [vals, idx] = topk(p, k, { dim: 1 });
            const pv = vals.toList();
            return {
              file,
              top: idx
                .toList()
                .map((c, j) => ({ classIndex: c, className: names[c] ?? String(c), probability: pv[j] })),
            };
          }),
        );
      } catch (e) {
        return { file, top: [], error: (e as Error).message };
      }
    });
    return { model: r.description, predictions };
  } finally {
    r.model.dispose();
  }
}

/** Nearest-neighbour resize to h×w and conversion to `channels` (gray ↔ RGB). */
function resizeNearest(
  src: Uint8Array,
  sh: number,
  sw: number,
  c: number,
  h: number,
  w: number,
  channels: number,
): Uint8Array {
  const out = new Uint8Array(h * w * channels);
  for (let y = 0; y < h; y++) {
    const sy = Math.min(sh - 1, Math.floor(((y + 0.5) * sh) / h));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(sw - 1, Math.floor(((x + 0.5) * sw) / w));
      const s = (sy * sw + sx) * c;
      const d = (y * w + x) * channels;
      if (channels === 1)
        out[d] = c >= 3 ? Math.round(0.299 * src[s] + 0.587 * src[s + 1] + 0.114 * src[s + 2]) : src[s];
      else for (let k = 0; k < channels; k++) out[d + k] = src[s + (c >= 3 ? k : 0)];
    }
  }
  return out;
}
