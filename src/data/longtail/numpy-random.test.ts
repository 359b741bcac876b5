// Tests for the NumPy legacy RandomState port against fixtures from fixtures/data/gen_numpy_subsets.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomState } from './numpy-random';
import { loadFixture } from './fixtures.test-util';

interface RngCase {
  seed: number;
  random_sample: number[];
  randint_0_10: number[];
  randint_m5_1000: number[];
  randint_0_2p31: number[];
  randint_0_2p32: number[];
  randint_0_2p32m1: number[];
  randint_scalar_7: number;
  shuffle_10: number[];
  shuffle_1000: number[];
  permutation_37: number[];
  choice_100_10_noreplace: number[];
  choice_50_10_replace: number[];
  choice_4_12_p: number[];
  random_sample_after: number[];
}
interface RngFixture {
  cases: RngCase[];
  arrays: { seed: number[]; random_sample: number[]; permutation_20: number[] }[];
  global_seed3_randint_0_100: number[];
}

const fx = loadFixture<RngFixture>('rng.json');

test('MT19937 init_genrand reference output (seed 5489 first word)', () => {
  // Matsumoto & Nishimura reference: genrand_int32() after init_genrand(5489) = 3499211612.
  assert.equal(new RandomState(5489).nextUint32(), 3499211612);
});

for (const c of fx.cases) {
  test(`RandomState(${c.seed}) matches NumPy stream index for index`, () => {
    const rs = new RandomState(c.seed);
    assert.deepEqual(Array.from(rs.randomSampleN(8)), c.random_sample);
    assert.deepEqual(rs.randintN(0, 10, 20), c.randint_0_10);
    assert.deepEqual(rs.randintN(-5, 1000, 10), c.randint_m5_1000);
    assert.deepEqual(rs.randintN(0, 2 ** 31, 5), c.randint_0_2p31);
    assert.deepEqual(rs.randintN(0, 2 ** 32, 5), c.randint_0_2p32);
    assert.deepEqual(rs.randintN(0, 2 ** 32 - 1, 5), c.randint_0_2p32m1);
    assert.equal(rs.randint(7), c.randint_scalar_7);
    const a10 = Int32Array.from({ length: 10 }, (_, i) => i);
    assert.deepEqual(Array.from(rs.shuffle(a10)), c.shuffle_10);
    const a1000 = Array.from({ length: 1000 }, (_, i) => i);
    assert.deepEqual(rs.shuffle(a1000), c.shuffle_1000);
    assert.deepEqual(Array.from(rs.permutation(37)), c.permutation_37);
    assert.deepEqual(Array.from(rs.choice(100, 10, false)), c.choice_100_10_noreplace);
    assert.deepEqual(Array.from(rs.choice(50, 10)), c.choice_50_10_replace);
    assert.deepEqual(Array.from(rs.choice(4, 12, true, [0.1, 0.2, 0.3, 0.4])), c.choice_4_12_p);
    assert.deepEqual(Array.from(rs.randomSampleN(4)), c.random_sample_after);
  });
}

test('array seeds use init_by_array like np.random.seed([...])', () => {
  for (const a of fx.arrays) {
    const rs = new RandomState(a.seed);
    assert.deepEqual(Array.from(rs.randomSampleN(5)), a.random_sample, `seed ${JSON.stringify(a.seed)}`);
    assert.deepEqual(Array.from(rs.permutation(20)), a.permutation_20);
  }
});

test('np.random.seed(3) global == RandomState(3)', () => {
  assert.deepEqual(new RandomState(3).randintN(0, 100, 10), fx.global_seed3_randint_0_100);
});

test('clone continues identically; bad seeds rejected', () => {
  const a = new RandomState(9);
  a.randomSample();
  const b = a.clone();
  assert.deepEqual(Array.from(a.permutation(50)), Array.from(b.permutation(50)));
  assert.throws(() => new RandomState(-1));
  assert.throws(() => new RandomState(2 ** 32));
  assert.throws(() => new RandomState(1.5));
  assert.throws(() => new RandomState([]));
});
