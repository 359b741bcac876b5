#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner.
// Usage: node scripts/run-tests.js [substring ...]  (only files whose path contains one of them)
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.test.js')) files.push(path.relative(root, p));
  }
})(path.join(root, 'dist'));
const chosen = files.filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (chosen.length === 0) {
  console.error('no test files matched ' + JSON.stringify(filters) + ' (did the TypeScript compile?)');
  process.exit(1);
}
// One libtorch load costs ~0.6 s and ~200 MB per process; two files at a time on 2 cores.
const r = spawnSync(process.execPath, ['--expose-gc', '--test', '--test-concurrency=2', '--test-reporter=spec', ...chosen], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, LTKIT_NUM_THREADS: process.env.LTKIT_NUM_THREADS || '1' },
});
process.exit(r.status === null ? 1 : r.status);
