// The readable reference loop (examples/reference-trainer.ts) must keep working: it runs end to end
// on the synthetic long-tailed set and learns something.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceTrainer } from '../../examples/reference-trainer';

test('examples/reference-trainer runs CE+DRW end to end', async () => {
  const lines: string[] = [];
  const r = await referenceTrainer({
    epochs: 12,
    batchSize: 16,
    dataset: 'synthetic',
    rho: 4,
    log: (s) => lines.push(s),
  });
  assert.equal(lines.filter((l) => l.startsWith('epoch ')).length, 12);
  assert.ok(r.top1 >= 0 && r.top1 <= 1);
  // Four well-separated synthetic classes: 12 epochs beat chance (25%).
  assert.ok(r.balanced > 0.25, `balanced accuracy ${r.balanced} should beat chance`);
});
