// Test helpers shared by nn/, optim/ and models/ tests: fixture paths and tensor comparisons.
import * as fs from 'fs';
import * as path from 'path';
import assert from 'node:assert/strict';
import { Tensor } from '../engine/tensor';

export function fixturePath(...parts: string[]): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'fixtures'))) {
      return path.join(dir, 'fixtures', ...parts);
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found from ' + __dirname);
    dir = up;
  }
}

export function readJsonFixture<T = unknown>(...parts: string[]): T {
  return JSON.parse(fs.readFileSync(fixturePath(...parts), 'utf8')) as T;
}

function values(x: Tensor | ArrayLike<number>): number[] {
  return x instanceof Tensor ? x.toList() : Array.from(x);
}

/** max |a − b| / max(max |b|, tiny): the relative error used against PyTorch goldens. */
export function relErr(a: Tensor | ArrayLike<number>, b: Tensor | ArrayLike<number>): number {
  const va = values(a);
  const vb = values(b);
  assert.equal(va.length, vb.length, `length ${va.length} vs ${vb.length}`);
  let num = 0;
  let den = 1e-30;
  for (let i = 0; i < va.length; i++) {
    num = Math.max(num, Math.abs(va[i] - vb[i]));
    den = Math.max(den, Math.abs(vb[i]));
  }
  return num / den;
}

export function assertClose(
  a: Tensor | ArrayLike<number>,
  b: Tensor | ArrayLike<number>,
  tol: number,
  what = '',
): void {
  if (a instanceof Tensor && b instanceof Tensor) assert.deepEqual(a.shape, b.shape, `${what}: shape`);
  const e = relErr(a, b);
  assert.ok(e <= tol, `${what}: relative error ${e.toExponential(3)} > ${tol}`);
}
