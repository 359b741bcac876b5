// `ltkit export --run DIR --format onnx`: the run's model, with its classifier stage, as an ONNX file checked
// against ONNX Runtime (src/export/).
import type { CliIO, CommandModule, Parsed } from './args';
import { UsageError } from './args';

export const exportCommand: CommandModule = {
  spec: {
    name: 'export',
    summary: "write a run's model as an ONNX file and check it with ONNX Runtime",
    usage:
      'ltkit export --run DIR [--format onnx] [--out FILE] [--checkpoint final|best] [--opset N] [--verify N] [--json]',
    details:
      "final: the run's final model, every stage of its recipe applied (a cRT head, τ-norm's chosen τ, LWS\n" +
      'scales, a cosine head); best: the selected epoch of the main training. The graph takes the float32 NCHW\n' +
      "tensor the model takes after the run's test transform (pixels / 255, then (x - mean) / std per channel) and\n" +
      'returns the logits [batch, classes]; the normalisation is not in the graph. The file records the input size,\n' +
      'channels, mean/std and class names in its metadata_props. BatchNorm stays a BatchNormalization node (ONNX\n' +
      'Runtime folds it into the conv on load). After writing, the file runs in ONNX Runtime (CPU) on --verify test\n' +
      'images next to the model in ltkit: the max logit difference and the top-1 agreement are printed, and a\n' +
      'difference over --tolerance or a top-1 disagreement (other than a near tie) exits with code 1.',
    options: [
      { name: 'run', type: 'string', help: 'run directory', metavar: 'DIR' },
      { name: 'format', type: 'string', help: 'output format (onnx)', default: 'onnx' },
      { name: 'out', type: 'string', help: 'the file to write (default RUN/model.onnx, RUN/model-best.onnx)' },
      { name: 'checkpoint', type: 'string', help: 'which weights: final or best', default: 'final' },
      { name: 'opset', type: 'number', help: 'ONNX opset (13 to 21)', default: 17 },
      { name: 'verify', type: 'number', help: 'test images to check with ONNX Runtime (0: no check)', default: 64 },
      { name: 'tolerance', type: 'number', help: 'largest logit difference the check accepts', default: 1e-4 },
      { name: 'json', type: 'boolean', help: 'print JSON' },
    ],
    examples: [
      'ltkit export --run runs/cifar10-lt-crt --format onnx',
      'ltkit export --run runs/x --checkpoint best --out x-best.onnx --opset 18',
    ],
  },
  async run(p: Parsed, io: CliIO): Promise<void> {
    if (!p.opts.run) throw new UsageError('ltkit export: --run DIR is required');
    const format = String(p.opts.format).toLowerCase();
    if (format !== 'onnx') throw new UsageError(`ltkit export: --format '${p.opts.format}' (supported: onnx)`);
    const which = String(p.opts.checkpoint);
    if (which !== 'final' && which !== 'best') {
      throw new UsageError(`ltkit export: --checkpoint '${which}' (allowed: final, best)`);
    }
    const verify = Number(p.opts.verify);
    if (!Number.isInteger(verify) || verify < 0) throw new UsageError('ltkit export: --verify must be an integer ≥ 0');
    const { exportRun } = await import('../export/run-export');
    const r = await exportRun(String(p.opts.run), {
      checkpoint: which,
      out: p.opts.out as string | undefined,
      opset: Number(p.opts.opset),
      verify,
      tolerance: Number(p.opts.tolerance),
    });
    if (p.opts.json) io.stdout(JSON.stringify(r, null, 2) + '\n');
    else {
      const ops = Object.entries(r.ops)
        .map(([k, v]) => `${k}×${v}`)
        .join(' ');
      const lines = [
        `model: ${r.model}`,
        `wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB, ONNX opset ${r.opset}, IR ${r.irVersion}): ${ops}`,
        `input 'input' float32 [batch, ${r.metadata.input_channels}, ${r.metadata.input_height}, ${r.metadata.input_width}], ` +
          `normalised with mean ${r.metadata.mean}, std ${r.metadata.std} (not in the graph); output 'logits'`,
      ];
      const c = r.check;
      if (c) {
        lines.push(
          `check (${c.runtime}, ${c.inputs}): max |logit difference| ${c.maxAbsDiff.toExponential(2)} ` +
            `(tolerance ${c.tolerance}; |logits| up to ${c.maxAbsLogit.toPrecision(3)}), top-1 agreement ${c.top1Agree}/${c.n}` +
            (c.nearTies ? ` (+${c.nearTies} near ties)` : '') +
            (c.ok ? ' — ok' : ' — MISMATCH'),
        );
      } else lines.push('check skipped (--verify 0)');
      io.stdout(lines.join('\n') + '\n');
    }
    if (r.check && !r.check.ok) {
      throw new Error(
        `${r.file} does not reproduce the model: max logit difference ${r.check.maxAbsDiff} > ${r.check.tolerance} ` +
          `or top-1 disagreement (${r.check.top1Agree}/${r.check.n} agree)`,
      );
    }
  },
};
