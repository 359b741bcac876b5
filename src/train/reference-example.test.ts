// The readable reference loop (examples/reference-trainer.ts) must keep working and stay the spec of the
// trainer: written with the public API only, it reaches the same weights, bit for bit, as `lt.train` with
// recipe `ce+drw` on the same data, seed and schedule — across the warm-up, the DRW switch and the decays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { referenceTrainer } from '../../examples/reference-trainer';
import * as lt from '../index';

test('examples/reference-trainer (public API) == lt.train ce+drw, weight for weight', async () => {
  const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-reference-'));
  try {
    const lines: string[] = [];
    const epochs = 12;
    const r = await referenceTrainer({
      epochs,
      batchSize: 16,
      warmupEpochs: 2,
      dataset: 'synthetic',
      rho: 4,
      log: (s) => lines.push(s),
    });
    assert.equal(lines.filter((l) => l.startsWith('epoch ')).length, epochs);
    // Four well-separated synthetic classes: 12 epochs beat chance (25%).
    assert.ok(r.balanced > 0.25, `balanced accuracy ${r.balanced} should beat chance`);

    const t = await lt.train({
      name: 'ce-drw',
      outDir: OUT,
      seed: 0,
      data: { dataset: 'synthetic', rho: 4 },
      model: { name: 'resnet8' },
      method: { recipe: 'ce+drw' },
      schedule: { warmupEpochs: 2 },
      // The example keeps the default NCHW memory order.
      train: { epochs, batchSize: 16, channelsLast: false, progress: 'off' },
    });
    assert.equal(t.final?.top1, r.top1, 'same test accuracy');
    const run = lt.loadRunModel(t.runDir);
    const mine = run.model.stateDict();
    try {
      assert.deepEqual(Object.keys(mine), Object.keys(r.weights));
      for (const k of Object.keys(mine)) assert.deepEqual(mine[k].toArray(), r.weights[k].toArray(), `'${k}' differs`);
    } finally {
      lt.dispose([mine, r.weights]);
      run.model.dispose();
    }
  } finally {
    fs.rmSync(OUT, { recursive: true, force: true });
  }
});
