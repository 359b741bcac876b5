// FMNIST-LT from the Debian package: exact counts, a disjoint unlabeled pool from the unused images.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import { fmnistLT } from './fmnist-lt';
import { buildTrainData, DataSettings } from './train-data';

const have = fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

test(
  'FMNIST-LT rho=100: 2478 labeled images, DU@5x pool from unused images',
  { skip: !have && 'dataset-fashion-mnist not installed' },
  () => {
    const d = fmnistLT({ rho: 100, unlabeled: { k: 5, rhoU: 100 } });
    assert.deepEqual(d.counts, [1000, 599, 359, 215, 129, 77, 46, 27, 16, 10]);
    assert.equal(d.labeled.indices.length, 2478);
    assert.deepEqual(d.labeled.perClass, d.counts);
    const pool = d.pool!;
    assert.equal(pool.total, 5 * 2478);
    const labeled = new Set(d.labeled.indices);
    for (const i of pool.indices) assert.ok(!labeled.has(i), `pool image ${i} is also labeled`);
    // True labels are kept for evaluation and follow the rhoU profile (head class largest).
    for (let k = 0; k < pool.indices.length; k++) assert.equal(pool.trueTargets[k], d.train.targets[pool.indices[k]]);
    assert.ok(pool.relevantPerClass[0] > pool.relevantPerClass[9] * 50);
    // Same seed, same subset.
    assert.equal(fmnistLT({ rho: 100 }).labeled.hash, d.labeled.hash);
  },
);

test(
  'a training set with an empty class is refused, naming the class and the counts',
  { skip: !have && 'dataset-fashion-mnist not installed' },
  () => {
    const settings = (over: Partial<DataSettings>): DataSettings => ({
      dataset: 'fmnist-lt',
      imbType: 'exp',
      rho: 100,
      subsetMode: 'reference',
      subsetSeed: 0,
      valPerClass: 0,
      synthetic: { numClasses: 4, imgMax: 24, size: 16, channels: 3, testPerClass: 8 },
      ...over,
    });
    assert.throws(
      () => buildTrainData(settings({ rho: 2000 })),
      /'fmnist-lt': class 9 \(Ankle boot\) would get no training image \(per-class counts 1000, .*, 0 for data\.rho=2000/,
    );
    assert.throws(
      () => buildTrainData(settings({ imgMax: 50 })),
      /classes 8 \(Bag\), 9 \(Ankle boot\).*data\.imgMax=50/,
    );
    assert.equal(buildTrainData(settings({})).train.targets.length, 2478);
  },
);

test(
  'the validation split comes from the images the subset left unused: disjoint, balanced, seeded',
  { skip: !have && 'dataset-fashion-mnist not installed' },
  () => {
    const d = buildTrainData({
      dataset: 'fmnist-lt',
      imbType: 'exp',
      rho: 100,
      subsetMode: 'reference',
      subsetSeed: 0,
      valPerClass: 20,
      synthetic: { numClasses: 4, imgMax: 24, size: 16, channels: 3, testPerClass: 8 },
    });
    const val = d.valIndices as Int32Array;
    assert.equal(val.length, 200);
    const train = new Set(d.subset.indices);
    assert.ok(
      Array.from(val).every((i) => !train.has(i)),
      'no validation image is a training image',
    );
    assert.equal(new Set(val).size, 200, 'no image twice');
    assert.deepEqual(
      Array.from({ length: 10 }, (_, c) => Array.from(d.val!.targets).filter((t) => t === c).length),
      new Array(10).fill(20),
    );
  },
);
