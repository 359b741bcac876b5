// The default device: tensor() and the factory operators (no tensor argument) follow it; operators with a
// tensor argument keep their own rule. Checked with the 'meta' device here (no GPU needed); a CUDA run that
// trains two steps on the GPU when this libtorch has one (skipped otherwise).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tensor, zeros, zerosLike, arange, randn, setDefaultDevice, defaultDevice, cudaAvailable } from '.';
import { runCli, tinyRunSets } from '../cli/test-util';

test('setDefaultDevice routes tensor() and factory ops; ops on tensors follow their input', () => {
  const cpu = tensor([1, 2, 3]);
  setDefaultDevice('meta');
  try {
    assert.equal(defaultDevice(), 'meta');
    assert.equal(tensor([1, 2]).device, 'meta');
    assert.equal(zeros([2, 3]).device, 'meta');
    assert.equal(arange(0, 4).device, 'meta');
    assert.equal(randn([2]).device, 'meta');
    assert.equal(zeros([2], { device: 'cpu' }).device, 'cpu', 'a named device wins');
    assert.equal(zerosLike(cpu).device, 'cpu', 'zeros_like follows its input');
    assert.equal(cpu.add(1).device, 'cpu');
  } finally {
    setDefaultDevice('cpu');
  }
  assert.equal(zeros([1]).device, 'cpu');
  assert.throws(() => setDefaultDevice('gpu0'), /not a device/);
  if (!cudaAvailable()) assert.throws(() => setDefaultDevice('cuda:0'), /no CUDA device/);
});

test(
  'device: cuda trains two steps on the GPU',
  { skip: !cudaAvailable() && 'this libtorch has no CUDA device' },
  async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-cuda-'));
    try {
      const sets = [...tinyRunSets(tmp), 'device=cuda', 'method.recipe=ldam+drw'];
      const r = await runCli(['train', ...sets.flatMap((s) => ['--set', s]), '--name', 'cuda']);
      assert.equal(r.code, 0, r.stderr);
      const run = JSON.parse(fs.readFileSync(path.join(tmp, 'cuda', 'run.json'), 'utf8'));
      assert.equal(run.status, 'completed');
      assert.equal(run.config.device, 'cuda');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
);
