// Test helper: locate and load the NumPy-generated fixtures (fixtures/data/subsets/*.json, written by
// fixtures/data/gen_numpy_subsets.py). Works from both src/ and the compiled dist/src/ tree.
import * as fs from 'fs';
import * as path from 'path';

export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'fixtures'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found from ' + __dirname);
    dir = up;
  }
}

export function loadFixture<T = unknown>(name: string): T {
  const p = path.join(repoRoot(), 'fixtures', 'data', 'subsets', name);
  return JSON.parse(fs.readFileSync(p, 'utf8')) as T;
}
