// Semi-supervised training end to end (S1 §3): the pool a run records (SPEC §1.2 counts on FMNIST-LT, relevance
// mixing with MNIST digits, errors that name the key), pseudo-label files (round trip, threshold), training on
// labeled ∪ pseudo-labeled ('concat' and 'stream'), the self-training chain reusing finished parts, and a run
// with an EMA teacher resuming to the uninterrupted result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PNG } from 'pngjs';
import { buildTrainData, DataSettings } from '../data/train-data';
import { unlabeledCounts } from '../data/longtail';
import { readPseudoLabels, keptIndices } from '../data/pseudo-labels';
import { loadMnistDigits } from '../data/unlabeled-sources';
import { ConfigError } from '../core/errors';
import { resolveConfig, TrainConfigInput } from './config';
import { train } from './trainer';
import { pseudoLabel, selfTrain } from './pseudo-label';

const OUT = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-semi-'));
process.on('exit', () => fs.rmSync(OUT, { recursive: true, force: true }));

const haveFmnist = fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

function fmnist(unlabeled: Record<string, unknown>, over: Partial<DataSettings> = {}): DataSettings {
  const c = resolveConfig({ data: { dataset: 'fmnist-lt', rho: 100, unlabeled } });
  return { ...c.data, ...over };
}

/** SPEC §1.2, written out again: first = ⌊U/C⌋, u_i = ⌊first·ρU^(−i/(C−1))⌋, then u_i = ⌊u_i·U/Σu⌋. */
function specCounts(U: number, C: number, rhoU: number): number[] {
  const first = Math.floor(U / C);
  const u = Array.from({ length: C }, (_, i) => Math.floor(first * Math.pow(rhoU, -i / (C - 1))));
  const s = u.reduce((a, b) => a + b, 0);
  return u.map((v) => Math.floor((v * U) / s));
}

test(
  'pool manifests follow SPEC §1.2 for several (k, ρU, r) on FMNIST-LT',
  { skip: !haveFmnist && 'no dataset-fashion-mnist' },
  () => {
    const digits = loadMnistDigits();
    for (const [k, rhoU, r, valPerClass] of [
      [5, 1, 1, 0],
      [5, 100, 1, 0],
      [2, 50, 1, 20],
      [5, 1, 0.5, 0],
      [1, 200, 0.25, 0],
    ]) {
      const what = `k=${k} ρU=${rhoU} r=${r}`;
      const d = buildTrainData(fmnist({ k, rhoU, relevance: r }, { valPerClass }));
      const pool = d.pool;
      assert.ok(pool, what);
      const m = pool.manifest;
      const U = Math.floor(k * 2478);
      const relTotal = Math.round(r * U);
      const want = specCounts(relTotal, 10, rhoU);
      assert.deepEqual(m.requestedPerClass, want, `${what}: planned per-class counts`);
      assert.deepEqual(m.perClass, want, `${what}: per-class counts obtained`);
      assert.equal(
        m.relevantTotal,
        want.reduce((a, b) => a + b, 0),
        what,
      );
      assert.equal(m.outOfTaskTotal, U - relTotal, `${what}: out-of-task images`);
      assert.equal(m.total, m.relevantTotal + m.outOfTaskTotal);
      // True labels of the relevant part follow the plan; the images handed to training carry no label.
      const seen = new Array(10).fill(0);
      for (let i = 0; i < m.total; i++) if (m.source[i] === 0) seen[pool.trueTargets[i]]++;
      assert.deepEqual(seen, want, `${what}: true labels of the pool`);
      assert.ok(
        pool.images.targets.every((t) => t === -1),
        `${what}: training sees no true label`,
      );
      // Relevant images are unused training images: not in the subset, not in the validation split.
      const used = new Set([...d.subset.indices, ...(d.valIndices ?? [])]);
      for (let i = 0; i < m.total; i++)
        if (m.source[i] === 0) assert.ok(!used.has(m.indices[i]), `${what}: image ${m.indices[i]} reused`);
      assert.equal(new Set(m.indices.filter((_, i) => m.source[i] === 0)).size, m.relevantTotal, 'no duplicates');
      // Out-of-task images are MNIST digits, byte for byte.
      const per = 28 * 28;
      for (let i = m.relevantTotal; i < Math.min(m.total, m.relevantTotal + 5); i++) {
        const j = m.indices[i];
        assert.deepEqual(
          pool.images.images.subarray(i * per, (i + 1) * per),
          digits.images.subarray(j * per, (j + 1) * per),
        );
      }
      // The same settings give the same pool (the hash ties pseudo-labels to it).
      assert.equal(buildTrainData(fmnist({ k, rhoU, relevance: r }, { valPerClass })).pool?.manifest.hash, m.hash);
    }
    // The labeled subset and the pool's counts equal the reference stream (fmnist-lt.test checks that pool).
    assert.deepEqual(unlabeledCounts({ total: 12390, numClasses: 10, rhoU: 1 }), specCounts(12390, 10, 1));
  },
);

test('bad unlabeled settings are refused, naming the key', { skip: !haveFmnist && 'no dataset-fashion-mnist' }, () => {
  assert.throws(
    () => buildTrainData(fmnist({ k: 40 })),
    (e: Error) =>
      e instanceof ConfigError &&
      /data\.unlabeled: the pool is smaller than asked/.test(e.message) &&
      /lower data\.unlabeled\.k/.test(e.message),
  );
  assert.throws(() => resolveConfig({ data: { unlabeled: { relevance: 1.5 } } }), /data\.unlabeled\.relevance/);
  assert.throws(() => resolveConfig({ data: { unlabeled: { rhoU: 0.5 } } }), /data\.unlabeled\.rhoU/);
  // Out-of-task images of another size.
  const dir = path.join(OUT, 'rgb32');
  fs.mkdirSync(dir, { recursive: true });
  const png = new PNG({ width: 32, height: 32 });
  png.data.fill(200);
  fs.writeFileSync(path.join(dir, 'a.png'), PNG.sync.write(png));
  assert.throws(
    () => buildTrainData(fmnist({ k: 1, relevance: 0.5, outOfTask: `folder:${dir}` })),
    (e: Error) => /data\.unlabeled\.outOfTask: .*a\.png is 32×32×3, the labeled images are 28×28×1/.test(e.message),
  );
  // More out-of-task images asked for than the source has.
  assert.throws(
    () => buildTrainData(fmnist({ k: 5, relevance: 0, outOfTask: 'mnist' })),
    /data\.unlabeled\.outOfTask: 'mnist' has \d+ images/,
  );
});

const synth = (name: string, over: Record<string, unknown> = {}): TrainConfigInput => ({
  name,
  outDir: OUT,
  seed: 1,
  data: {
    dataset: 'synthetic',
    synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 },
    unlabeled: { k: 2 },
    ...((over.data as object) ?? {}),
  },
  model: { name: 'resnet8' },
  method: { recipe: 'ce', ...((over.method as object) ?? {}) },
  schedule: { warmupEpochs: 1 },
  train: { epochs: 3, batchSize: 8, progress: 'off', ...((over.train as object) ?? {}) },
});

test('pseudo-labels: the file round-trips, the threshold drops what it should, concat and stream train on them', async () => {
  const base = await train(synth('pl-base'));
  assert.equal(base.status, 'completed');
  assert.ok(fs.existsSync(path.join(base.runDir, 'pool.json')), 'the base run records its pool');
  const all = pseudoLabel(base.runDir);
  const confs = all.labels.confidences.slice().sort((a, b) => a - b);
  const threshold = confs[Math.floor(confs.length / 2)];
  const r = pseudoLabel(base.runDir, { threshold });
  const back = readPseudoLabels(base.runDir);
  assert.equal(back.file, r.file);
  assert.deepEqual(back.labels, r.labels, 'the file holds what was returned');
  const baseRun = JSON.parse(fs.readFileSync(path.join(base.runDir, 'run.json'), 'utf8'));
  const labeled = baseRun.data.labeledCounts.reduce((a: number, b: number) => a + b, 0);
  const poolSize = baseRun.data.pool.total;
  assert.ok(poolSize > 0 && poolSize <= 2 * labeled);
  assert.equal(r.labels.labels.length, poolSize, 'every pool image is labelled');
  const kept = keptIndices(r.labels);
  assert.equal(r.labels.kept, r.labels.confidences.filter((c) => c >= threshold).length);
  assert.equal(kept.length, r.labels.kept);
  assert.ok(kept.length < poolSize && kept.length >= poolSize / 2, `the median threshold keeps half (${kept.length})`);
  assert.deepEqual(all.labels.labels, r.labels.labels, 'the threshold drops labels, it does not change them');
  // Quality against the synthetic pool's known labels.
  const truth = buildTrainData(resolveConfig(synth('x')).data).pool?.trueTargets as Int32Array;
  const right = r.labels.labels.filter((l, i) => l === truth[i]).length;
  assert.equal(r.labels.quality?.accuracy, right / poolSize);

  const concat = await train(synth('pl-concat', { data: { unlabeled: { k: 2, pseudoLabels: base.runDir } } }));
  const runC = JSON.parse(fs.readFileSync(path.join(concat.runDir, 'run.json'), 'utf8'));
  assert.equal(runC.data.trainSize, labeled + kept.length);
  assert.deepEqual(
    runC.data.clsNumList,
    runC.data.labeledCounts.map((n: number, c: number) => n + r.labels.perClass[c]),
    'class counts include the pseudo-labels',
  );
  assert.equal(runC.data.pseudoLabels.sha256, back.sha256);
  // Shot groups stay those of the labeled counts.
  const fm = JSON.parse(fs.readFileSync(path.join(concat.runDir, 'final-metrics.json'), 'utf8'));
  assert.deepEqual(fm.final.perClass.trainCounts, runC.data.labeledCounts);
  assert.equal(runC.data.pseudoLabels.kept, kept.length);

  const stream = await train(
    synth('pl-stream', { data: { unlabeled: { k: 2, pseudoLabels: r.file, use: 'stream', weight: 0.5 } } }),
  );
  const runS = JSON.parse(fs.readFileSync(path.join(stream.runDir, 'run.json'), 'utf8'));
  assert.equal(runS.data.trainSize, labeled, 'the labeled set only: the pseudo-labels are the second stream');
  assert.deepEqual(runS.data.clsNumList, runC.data.clsNumList);
  const line = JSON.parse(fs.readFileSync(path.join(stream.runDir, 'metrics.jsonl'), 'utf8').split('\n')[0]);
  assert.deepEqual(Object.keys(line.lossTerms).sort(), ['ce', 'pseudo'], 'the stream logs its own term');

  // One unlabeled stream per run: a pseudo-label stream and an unlabeled method cannot share it.
  await assert.rejects(
    train(
      synth('pl-both', {
        method: { recipe: 'ce+vat' },
        data: { unlabeled: { k: 2, pseudoLabels: r.file, use: 'stream' } },
      }),
    ),
    /data\.unlabeled\.use: 'stream' and the recipe's unlabeled method both need the unlabeled stream/,
  );
  // Pseudo-labels of one pool cannot train on another; a changed file stops a resume.
  await assert.rejects(
    train(synth('pl-other', { data: { unlabeled: { k: 3, pseudoLabels: base.runDir } } })),
    /data\.unlabeled\.pseudoLabels: .* labels pool .*, this run's data\.unlabeled gives pool/,
  );
  const half = await train(synth('pl-resume', { data: { unlabeled: { k: 2, pseudoLabels: r.file } } }), {
    stopAfterEpochs: 1,
  });
  assert.equal(half.status, 'interrupted');
  pseudoLabel(base.runDir, { threshold: 0 });
  await assert.rejects(
    train(synth('pl-resume', { data: { unlabeled: { k: 2, pseudoLabels: r.file } } }), { resume: true }),
    /that file has changed since; not resuming/,
  );
});

test('an unlabeled method without data.unlabeled is refused, naming the key', async () => {
  const noPool = synth('no-pool', { method: { recipe: 'ce+fixmatch' } }) as { data: Record<string, unknown> };
  delete noPool.data.unlabeled;
  await assert.rejects(train(noPool as TrainConfigInput), /'fixmatch' trains on unlabeled images; set data\.unlabeled/);
});

test('self-training: base → pseudo-labels → round 1 → round 2; a second call reuses every finished part', async () => {
  const lines: string[] = [];
  const cfg = synth('chain', { train: { epochs: 2 } });
  const r1 = await selfTrain(cfg, { baseRecipe: 'ldam+drw', rounds: 2, log: (l) => lines.push(l) });
  assert.equal(r1.status, 'completed');
  assert.equal(r1.rounds.length, 2);
  const baseRun = JSON.parse(fs.readFileSync(path.join(r1.base, 'run.json'), 'utf8'));
  assert.equal(baseRun.config.method.recipe, 'ldam+drw', 'the base has its own recipe');
  const round2 = JSON.parse(fs.readFileSync(path.join(r1.rounds[1].run, 'run.json'), 'utf8'));
  assert.equal(round2.config.data.unlabeled.pseudoLabels, path.join(r1.rounds[0].run, 'pseudo-labels.json'));
  assert.ok(fs.existsSync(path.join(r1.dir, 'chain.json')));
  const plStat = fs.statSync(path.join(r1.base, 'pseudo-labels.json')).mtimeMs;

  lines.length = 0;
  const r2 = await selfTrain(cfg, { baseRecipe: 'ldam+drw', rounds: 2, log: (l) => lines.push(l) });
  assert.equal(r2.status, 'completed');
  assert.equal(lines.filter((l) => /reusing the finished run/.test(l)).length, 3, lines.join('\n'));
  assert.equal(lines.filter((l) => /reusing .*pseudo-labels\.json/.test(l)).length, 2);
  assert.equal(fs.statSync(path.join(r1.base, 'pseudo-labels.json')).mtimeMs, plStat, 'pseudo-labels not rewritten');
  assert.equal(JSON.parse(fs.readFileSync(path.join(r1.base, 'run.json'), 'utf8')).startedAt, baseRun.startedAt);
  assert.deepEqual(r2.rounds[1].result?.final?.top1, r1.rounds[1].result?.final?.top1);

  // Another configuration under the same chain is refused before anything runs.
  await assert.rejects(
    selfTrain({ ...cfg, seed: 9 }, { baseRecipe: 'ldam+drw', rounds: 2, log: () => undefined }),
    /seed/,
  );
  await assert.rejects(
    selfTrain(cfg, { baseRecipe: 'ce', log: () => undefined }),
    /base recipe \(was ldam\+drw, now ce\)/,
  );

  // An interrupted chain continues where it stopped and reaches the uninterrupted result.
  const cut = synth('chain-cut', { train: { epochs: 2 } });
  const s1 = await selfTrain(cut, {
    baseRecipe: 'ldam+drw',
    rounds: 1,
    log: () => undefined,
    train: { stopAfterEpochs: 1 },
  });
  assert.equal(s1.status, 'interrupted');
  const s2 = await selfTrain(cut, { baseRecipe: 'ldam+drw', rounds: 1, log: () => undefined });
  assert.equal(s2.status, 'completed');
  assert.deepEqual(s2.rounds[0].result?.final, r1.rounds[0].result?.final, 'same result as the uninterrupted chain');
});

for (const recipe of ['ce+mean-teacher', 'ce+fixmatch']) {
  test(`a run with an unlabeled stream resumes to the uninterrupted result (${recipe})`, async () => {
    const tag = recipe.replace(/\+/g, '_');
    const cfg = (n: string) => synth(`${n}-${tag}`, { method: { recipe }, train: { epochs: 3, maxStepsPerEpoch: 2 } });
    const a = await train(cfg('A'));
    const b1 = await train(cfg('B'), { stopAfterEpochs: 1 });
    assert.equal(b1.status, 'interrupted');
    const b2 = await train(cfg('B'), { resume: true });
    assert.equal(b2.status, 'completed');
    assert.deepEqual(b2.final, a.final);
    const weights = (dir: string) => {
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'checkpoints', 'latest.json'), 'utf8'));
      return m.files['model.safetensors'].sha256;
    };
    assert.equal(weights(b2.runDir), weights(a.runDir), 'same final weights');
    const terms = JSON.parse(fs.readFileSync(path.join(a.runDir, 'metrics.jsonl'), 'utf8').split('\n')[0]).lossTerms;
    assert.equal(Object.keys(terms).length, 2, 'the method logs its own loss term');
  });
}
