// A seeded fuzz pass over the file readers (fuzz-worker.ts, in a child process with a time limit): a few
// thousand mutated safetensors, IDX, pickle, MATLAB, PNG and JPEG files, each of which must parse or throw an
// Error — never crash the process, hang, or throw something else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import { spawnSync } from 'child_process';

test('fuzz: mutated files of every reader give an Error, never a crash or a hang', () => {
  const perReader = 1000;
  const r = spawnSync(process.execPath, [path.join(__dirname, 'fuzz-worker.js'), String(perReader), '7'], {
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, LTKIT_NUM_THREADS: '1' },
  });
  assert.equal(r.signal, null, `the fuzz worker died (${r.signal}) — a crash or a hang:\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map(
      (l) => JSON.parse(l) as { reader: string; cases: number; parsed: number; errors: number; nonErrors: string[] },
    );
  assert.deepEqual(
    lines.map((l) => l.reader),
    ['safetensors', 'idx', 'pickle', 'mat5', 'png', 'jpeg'],
  );
  for (const l of lines) {
    assert.deepEqual(l.nonErrors, [], `${l.reader}: every failure is an Error`);
    assert.equal(l.parsed + l.errors, perReader, `${l.reader}: every case finished`);
    assert.ok(l.errors > perReader / 10, `${l.reader}: the mutations reach the checks (${l.errors} errors)`);
  }
});
