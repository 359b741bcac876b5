// Module.toChannelsLast(): same parameter objects, shapes, values and state dict; the forward pass
// agrees with the NCHW one to float rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, randn, noGrad, tidy, memory } from '../engine';
import { contiguous } from '../engine/ops.generated';
import { create } from '../models';
import { CHANNELS_LAST } from './module';

test('toChannelsLast keeps parameters, values and outputs', () => {
  manualSeed(0);
  const m = create('resnet20', { numClasses: 10 });
  m.eval();
  const x = randn([4, 3, 32, 32]).keep();
  const before = noGrad(() => m.forward(x).keep()).toArray() as Float32Array;
  const params = m.parameters();
  const w0 = m.stateDict()['layer1.0.conv1.weight'].toArray();
  const live = memory().numTensors;
  m.toChannelsLast();
  assert.equal(memory().numTensors, live, 'no tensors leak');
  assert.deepEqual(m.parameters(), params, 'same Tensor objects (optimizers keep their references)');
  const sd = m.stateDict();
  assert.deepEqual(sd['layer1.0.conv1.weight'].shape, [16, 16, 3, 3]);
  assert.deepEqual(sd['layer1.0.conv1.weight'].toArray(), w0, 'values read back in logical order');
  const after = tidy(() =>
    noGrad(() => m.forward(contiguous(x, { memoryFormat: CHANNELS_LAST })).toArray()),
  ) as Float32Array;
  let maxAbs = 0;
  let maxDiff = 0;
  for (let i = 0; i < before.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(before[i]));
    maxDiff = Math.max(maxDiff, Math.abs(before[i] - after[i]));
  }
  assert.ok(maxDiff <= 1e-5 * maxAbs, `channels-last forward differs by ${maxDiff} (max |logit| ${maxAbs})`);
});
