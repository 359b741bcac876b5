// ltkit as a dependency (issue #12, item 8), tried the way a user gets it: `npm pack` (its prepack compiles
// dist/), the tarball installed into an empty project (npm runs ltkit's install script,
// scripts/install-addon.sh, which finds libtorch and builds the addon inside node_modules/ltkit), and from
// that project: require('ltkit'), import('ltkit'), TypeScript's view of both (CommonJS and ESM resolution,
// strict, lib checks on), `npx ltkit`, and training on a tiny in-memory data set through the library API.
//
// Offline and quick: the project gets a lockfile made from this repository's (the same dependency versions,
// tarballs from the npm cache, no registry request), and the install reuses this checkout's addon build
// through LTKIT_ADDON_CACHE when its build key (a hash of the native sources, the libtorch and the Node ABI,
// native/build/.build-key) equals the one the install computes; otherwise it compiles.
// LTKIT_PACKAGE_TEST_BUILD=1 always compiles (a few minutes on 2 cores).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'crypto';
import * as fs from 'fs';
import { builtinModules } from 'module';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

const ROOT = path.resolve(__dirname, '..', '..');
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-package-'));
const PROJECT = path.join(TMP, 'project');

/**
 * The environment of a user's shell: nothing of the npm that may be running this test (its npm_* settings,
 * such as the local prefix, would point the inner npm back at this repository) and no node_modules/.bin.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // LTKIT_* settings could change the install (LTKIT_SKIP_ADDON_BUILD); the thread count is kept.
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || (k.startsWith('LTKIT_') && k !== 'LTKIT_NUM_THREADS')) continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((d) => !d.includes(`node_modules${path.sep}.bin`))
    .join(path.delimiter);
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env = userEnv(), timeoutS = 300) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 64 << 20 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) {
    assert.fail(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${out.slice(-6000)}`);
  }
  return { stdout: r.stdout, out };
}

type LockEntry = Record<string, unknown> & { version?: string; dev?: boolean; dependencies?: Record<string, string> };

/**
 * A lockfile for the empty project: ltkit from the tarball, its dependencies exactly as this repository's
 * lockfile has them (registry URLs written out, as `omit-lockfile-registry-resolved` may have left them
 * out), plus `devTools` and what they need, as the project's devDependencies.
 */
function projectLock(tgz: string, devTools: string[]): { pkg: object; lock: object } {
  const repoLock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const entries = repoLock.packages as Record<string, LockEntry>;
  const withUrl = (key: string, e: LockEntry): LockEntry => {
    const out: LockEntry = { ...e };
    delete out.devOptional;
    if (!out.resolved && !out.link) {
      const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      out.resolved = `https://registry.npmjs.org/${name}/-/${name.split('/').pop()}-${e.version}.tgz`;
    }
    return out;
  };
  const packages: Record<string, LockEntry> = {};
  for (const [key, e] of Object.entries(entries)) {
    if (key !== '' && !e.dev) packages[key] = withUrl(key, e);
  }
  // The dev tools' dependency closure (top-level entries; this repository's lockfile hoists them).
  const devVersions: Record<string, string> = {};
  const todo = [...devTools];
  while (todo.length) {
    const name = todo.pop() as string;
    const key = `node_modules/${name}`;
    if (packages[key]) continue;
    const e = entries[key];
    assert.ok(e, `package-lock.json has no ${key} (needed by the packaging test)`);
    packages[key] = { ...withUrl(key, e), dev: true };
    if (devTools.includes(name)) devVersions[name] = e.version as string;
    todo.push(...Object.keys(e.dependencies ?? {}));
  }
  const spec = `file:${path.relative(PROJECT, tgz)}`;
  const integrity = `sha512-${crypto.createHash('sha512').update(fs.readFileSync(tgz)).digest('base64')}`;
  packages['node_modules/ltkit'] = {
    version: PKG.version,
    resolved: spec,
    integrity,
    hasInstallScript: true,
    license: PKG.license,
    dependencies: PKG.dependencies,
    bin: PKG.bin,
    engines: PKG.engines,
  };
  const root = { name: 'ltkit-user', version: '1.0.0', dependencies: { ltkit: spec }, devDependencies: devVersions };
  packages[''] = root;
  // npm's allow-list (npm >= 11.x): ltkit's own install script builds the addon; onnxruntime-node's only
  // downloads an optional CUDA provider (README, "Use ltkit in your project").
  const pkg = {
    ...root,
    private: true,
    allowScripts: { [`file:${tgz}`]: true, sharp: true, 'onnxruntime-node': false },
  };
  return { pkg, lock: { name: root.name, version: root.version, lockfileVersion: 3, requires: true, packages } };
}

// ------------------------------------------------------------------ the user's files
const TRAIN_TS = `import * as lt from 'ltkit';

// A tiny long-tailed image set in memory: 3 classes of 8×8 grey images, 32 / 12 / 4 of them; class c is a
// bright band across rows 2c..2c+2 over noise.
const counts = [32, 12, 4];
const [H, W, C] = [8, 8, 1];
const n = counts.reduce((a, b) => a + b, 0);
const images = new Uint8Array(n * H * W * C);
const targets = new Int32Array(n);
let i = 0;
let seed = 1;
const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) % 64);
counts.forEach((count, c) => {
  for (let k = 0; k < count; k++, i++) {
    targets[i] = c;
    for (let p = 0; p < H * W; p++) images[i * H * W + p] = noise() + (Math.floor(p / W) >> 1 === c ? 160 : 0);
  }
});
const data: lt.data.InMemoryDataset = { images, targets, shape: [n, H, W, C] };

lt.manualSeed(0);
const model = lt.models.create('resnet8', { numClasses: counts.length, inChannels: C, normedLinear: true }); // LDAM's head
// @ts-expect-error numClasses is a number: the types are ltkit's own, not any (never called)
export const wrong = () => lt.models.create('resnet8', { numClasses: 'three' });
const opt = new lt.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 2e-4 });
const criterion = lt.losses.create('ldam', { clsNumList: counts });
const pipes = lt.batchPipelines({ imageShape: [H, W, C], mean: [0.4], std: [0.3] }, true);
const loader = new lt.data.DataLoader(new lt.data.InMemorySource(data), {
  sampler: new lt.data.InstanceSampler(n, 0),
  batchSize: 16,
  transform: pipes.train,
  seed: 0,
});
const before = model.stateDict()['linear.weight'].toArray() as Float32Array;
const losses: number[] = [];
const live: number[] = [];
model.train();
for (let epoch = 0; epoch < 3; epoch++) {
  for (const b of loader.epoch(epoch)) {
    losses.push(
      lt.tidy(() => {
        const loss = criterion(model.forward(b.x), b.y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
        return loss.item();
      }),
    );
  }
  live.push(lt.memory().numTensors);
}
const afterW = model.stateDict()['linear.weight'].toArray() as Float32Array;
const moved = afterW.some((v, k) => v !== before[k]);

async function main(): Promise<void> {
  const outDir = process.argv[2];
  const result = await lt.train({
    name: 'from-a-project',
    outDir,
    data: { dataset: 'synthetic', synthetic: { size: 8, numClasses: 4, imgMax: 24, testPerClass: 4 } },
    model: { name: 'resnet8' },
    method: { recipe: 'ldam+drw' },
    train: { batchSize: 8, epochs: 2, maxStepsPerEpoch: 1, progress: 'off' },
    schedule: { warmupEpochs: 1 },
  });
  console.log(JSON.stringify({ losses, live, moved, runDir: result.runDir, status: result.status, top1: result.final?.top1 }));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
`;

const ESM_TYPES_MTS = `import * as lt from 'ltkit';
import ltDefault from 'ltkit';

export const t: lt.Tensor = lt.tensor([1, 2, 3]);
export const same: typeof lt.train = ltDefault.train;
// @ts-expect-error tensor() takes numbers: the ESM types are ltkit's own, not any (never called)
export const wrong = () => lt.tensor('x');
`;

const ESM_MJS = `import * as ns from 'ltkit';
import lt from 'ltkit';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('ltkit');
console.log(JSON.stringify({
  missing: Object.keys(cjs).filter((k) => !(k in ns)),
  sameInstance: lt === cjs && ns.tensor === cjs.tensor,
  sum: ns.tensor([1, 2, 3]).sum().item(),
}));
`;

const CJS_JS = `const lt = require('ltkit');
console.log(JSON.stringify({
  exports: Object.keys(lt).length,
  sum: lt.tensor([1, 2, 3]).sum().item(),
  addon: require.resolve('ltkit'),
}));
`;

// ------------------------------------------------------------------------- tests
let files: string[] = [];
let installLog = '';

describe('ltkit as an npm dependency (pack, install into an empty project, use)', { timeout: 900_000 }, () => {
  before(() => {
    // 1. npm pack: prepack compiles the TypeScript; "files" says what goes in.
    const packed = run('npm', ['pack', '--json', '--pack-destination', TMP], ROOT, userEnv(), 600);
    const json = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m))); // after any script output
    files = (json[0].files as { path: string }[]).map((f) => f.path).sort();
    const tgz = path.join(TMP, json[0].filename);

    // 2. An empty project that depends on the tarball (and has TypeScript, as a TS user's project does).
    fs.mkdirSync(PROJECT);
    const { pkg, lock } = projectLock(tgz, ['typescript', '@types/node']);
    fs.writeFileSync(path.join(PROJECT, 'package.json'), JSON.stringify(pkg, null, 2));
    fs.writeFileSync(path.join(PROJECT, 'package-lock.json'), JSON.stringify(lock, null, 2));

    // 3. npm ci runs ltkit's install script; this checkout's addon build seeds the addon cache.
    const cache = path.join(TMP, 'addon-cache');
    const keyFile = path.join(ROOT, 'native', 'build', '.build-key');
    const built = path.join(ROOT, 'native', 'build', 'Release', 'ltkit.node');
    if (process.env.LTKIT_PACKAGE_TEST_BUILD !== '1' && fs.existsSync(keyFile) && fs.existsSync(built)) {
      const key = fs.readFileSync(keyFile, 'utf8').trim();
      fs.mkdirSync(path.join(cache, key), { recursive: true });
      fs.copyFileSync(built, path.join(cache, key, 'ltkit.node'));
    }
    const env = userEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip', LTKIT_ADDON_CACHE: cache });
    const args = ['ci', '--offline', '--foreground-scripts', '--no-audit', '--no-fund'];
    installLog = run('npm', args, PROJECT, env, 900).out;
  });
  after(() => {
    if (process.env.LTKIT_KEEP_PACKAGE_TEST !== '1') fs.rmSync(TMP, { recursive: true, force: true });
  });

  it('packs what a user needs and nothing else', () => {
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'bin/ltkit.js',
      'esm/index.mjs',
      'esm/index.d.mts',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli/main.js',
      'native/binding.gyp',
      'scripts/install-addon.sh',
    ]) {
      assert.ok(files.includes(f), `${f} is not in the package`);
    }
    // The scripts the install script sources, every native source (the install compiles them) ...
    const installer = fs.readFileSync(path.join(ROOT, 'scripts', 'install-addon.sh'), 'utf8');
    for (const m of installer.matchAll(/^\s*source (scripts\/\S+)/gm))
      assert.ok(files.includes(m[1]), `${m[1]} missing`);
    const native: string[] = [];
    (function walk(d: string) {
      for (const e of fs.readdirSync(path.join(ROOT, d), { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        if (e.isDirectory()) walk(`${d}/${e.name}`);
        else native.push(`${d}/${e.name}`);
      }
    })('native/src');
    for (const f of native) assert.ok(files.includes(f), `${f} is not in the package`);
    // ... and every file a native source includes with quotes, or binding.gyp compiles.
    const gyp = fs.readFileSync(path.join(ROOT, 'native', 'binding.gyp'), 'utf8');
    for (const m of gyp.matchAll(/"(src\/[^"]+\.cc)"/g)) assert.ok(files.includes(`native/${m[1]}`), m[1]);
    for (const f of native) {
      const src = fs.readFileSync(path.join(ROOT, f), 'utf8');
      for (const m of src.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
        const here = path.posix.join(path.posix.dirname(f), m[1]);
        const viaShim = path.posix.join('native/src/shim', m[1]);
        if (fs.existsSync(path.join(ROOT, here)) || fs.existsSync(path.join(ROOT, viaShim))) {
          assert.ok(files.includes(here) || files.includes(viaShim), `${f} includes "${m[1]}", not packaged`);
        }
      }
    }
    // Nothing else: no tests, fixtures, sources, maps, benchmarks, examples, builds.
    const unwanted = files.filter(
      (f) =>
        /(\.test\.|test-util|test-support|test-fixtures|fuzz-worker|gen-ops|\.map$)/.test(f) ||
        /^(fixtures|bench|examples|src|dist\/bench|dist\/examples|native\/build|\.ci)\//.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(unwanted, []);
    // No compiled file whose source is gone (prepack removes them).
    const stale = files.filter(
      (f) => f.startsWith('dist/') && f.endsWith('.js') && !fs.existsSync(path.join(ROOT, f.slice(5, -3) + '.ts')),
    );
    assert.deepEqual(stale, []);
  });

  it('every module the package loads is in it, or a Node built-in, or a declared dependency', () => {
    const deps = new Set(Object.keys(PKG.dependencies));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    for (const f of files.filter((x) => x.endsWith('.js') || x.endsWith('.mjs') || x.endsWith('.d.ts'))) {
      const text = fs
        .readFileSync(path.join(PROJECT, 'node_modules', 'ltkit', f), 'utf8')
        .split('\n')
        .filter((l) => !/^\s*(\/\/|\/?\*)/.test(l)) // comments (usage examples)
        .join('\n');
      const specs = [
        ...[...text.matchAll(/\brequire(?:\.resolve)?\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
        ...[...text.matchAll(/\bfrom\s+["']([^"']+)["']/g)].map((m) => m[1]),
        ...[...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]),
      ];
      // Files reached by path, such as worker scripts: path.join(__dirname, 'x.js').
      for (const m of text.matchAll(/__dirname,\s*["']([^"']+\.js)["']\s*\)/g)) specs.push(`./${m[1]}`);
      for (const s of specs) {
        if (s.startsWith('.')) {
          const base = path.posix.join(path.posix.dirname(f), s);
          const ok = [base, `${base}.js`, `${base}.d.ts`, `${base}/index.js`, `${base}/index.d.ts`].some(
            (c) => files.includes(c) || (c.endsWith('.node') && c.startsWith('native/build/')),
          );
          if (!ok && !base.startsWith('native/build/')) problems.push(`${f}: '${s}' is not in the package`);
        } else {
          const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
          if (!builtins.has(s.replace(/^node:/, '')) && !builtins.has(name) && !deps.has(name)) {
            problems.push(`${f}: '${s}' is neither a Node built-in nor one of package.json's dependencies`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  it("npm ran ltkit's install script, which found libtorch and put the addon in node_modules/ltkit", (t) => {
    const said = installLog.match(
      /\[ltkit install\] (native addon: reused|building the native addon against libtorch).*/,
    );
    assert.ok(said, `no word from ltkit's install script:\n${installLog.slice(-3000)}`);
    t.diagnostic(said[0]);
    const addon = path.join(PROJECT, 'node_modules', 'ltkit', 'native', 'build', 'Release', 'ltkit.node');
    assert.ok(fs.existsSync(addon), `${addon} missing; install output:\n${installLog.slice(-3000)}`);
    const c10d = path.join(PROJECT, 'node_modules', 'ltkit', 'native', 'build', 'c10d.txt');
    assert.ok(fs.existsSync(c10d), 'native/build/c10d.txt (what the process groups were built with) is missing');
  });

  it("require('ltkit') (CommonJS) loads the package's own addon", () => {
    fs.writeFileSync(path.join(PROJECT, 'cjs.js'), CJS_JS);
    const r = JSON.parse(run(process.execPath, ['cjs.js'], PROJECT).stdout);
    assert.equal(r.sum, 6);
    assert.ok(r.exports > 50, `only ${r.exports} exports`);
    assert.equal(r.addon, path.join(PROJECT, 'node_modules', 'ltkit', 'dist', 'src', 'index.js'));
  });

  it("import('ltkit') (ESM) has every CommonJS export, the same instance, and a default export", () => {
    fs.writeFileSync(path.join(PROJECT, 'esm.mjs'), ESM_MJS);
    const r = JSON.parse(run(process.execPath, ['esm.mjs'], PROJECT).stdout);
    assert.deepEqual(r.missing, []);
    assert.equal(r.sameInstance, true);
    assert.equal(r.sum, 6);
  });

  it('TypeScript resolves the types (CommonJS and ESM, node16 and node10 resolution), then trains a few steps', () => {
    fs.writeFileSync(path.join(PROJECT, 'train.ts'), TRAIN_TS);
    fs.writeFileSync(path.join(PROJECT, 'esm-types.mts'), ESM_TYPES_MTS);
    const strict = { target: 'es2022', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' };
    const cfg = (o: object, files: string[]) => JSON.stringify({ compilerOptions: { ...strict, ...o }, files });
    // nodenext: train.ts is CommonJS here (no "type": "module"), esm-types.mts is ESM: both "exports" conditions,
    // and ltkit's declarations checked as a strict user's project checks them. node10 ("types"): resolution only.
    fs.writeFileSync(path.join(PROJECT, 'tsconfig.json'), cfg({ module: 'nodenext' }, ['train.ts', 'esm-types.mts']));
    fs.writeFileSync(
      path.join(PROJECT, 'tsconfig.node10.json'),
      cfg({ module: 'commonjs', moduleResolution: 'node', noEmit: true, skipLibCheck: true }, ['train.ts']),
    );
    const tsc = path.join(PROJECT, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], PROJECT);
    run(process.execPath, [tsc, '-p', 'tsconfig.node10.json'], PROJECT);

    // The user's project is a git repository: run.json must not take its commit for ltkit's.
    const git = ['-c', 'user.name=t', '-c', 'user.email=t@example.org'];
    run('git', ['init', '-q'], PROJECT);
    run('git', [...git, 'commit', '-q', '--allow-empty', '-m', 'a user project'], PROJECT);
    const r = JSON.parse(run(process.execPath, [path.join('out', 'train.js'), path.join(TMP, 'runs')], PROJECT).stdout);
    assert.equal(r.losses.length, 9); // 3 epochs × ceil(48 / 16)
    assert.ok(
      r.losses.every((l: number) => Number.isFinite(l) && l > 0),
      `losses ${r.losses}`,
    );
    assert.equal(r.moved, true);
    assert.deepEqual(r.live, [r.live[0], r.live[0], r.live[0]], `live tensors per epoch ${r.live}`);
    assert.equal(r.status, 'completed');
    assert.ok(r.top1 >= 0 && r.top1 <= 1, `top-1 ${r.top1}`);
    const saved = JSON.parse(fs.readFileSync(path.join(r.runDir, 'run.json'), 'utf8'));
    assert.equal(saved.versions.ltkit, PKG.version); // read from node_modules/ltkit/package.json
    assert.equal(saved.versions.gitSha, null, "the user's commit is not ltkit's");
  });

  it('without libtorch a (re)build fails naming what to set; without the addon the import names the fix', () => {
    const env = userEnv({ LIBTORCH: path.join(TMP, 'no-libtorch') });
    const r = spawnSync('npm', ['rebuild', 'ltkit'], { cwd: PROJECT, env, encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0, 'npm rebuild succeeded without a libtorch');
    assert.match(`${r.stdout}${r.stderr}`, /LIBTORCH=\S*no-libtorch must be a folder with include\/ and lib\//);

    const addon = path.join(PROJECT, 'node_modules', 'ltkit', 'native', 'build', 'Release', 'ltkit.node');
    fs.renameSync(addon, `${addon}.away`); // as after LTKIT_SKIP_ADDON_BUILD=1, --ignore-scripts or a denial
    try {
      const e = spawnSync(process.execPath, ['-e', "require('ltkit')"], {
        cwd: PROJECT,
        env: userEnv(),
        encoding: 'utf8',
      });
      assert.notEqual(e.status, 0);
      assert.match(e.stderr, /cannot load the native addon \S+ltkit\.node: it has not been built/);
      assert.match(e.stderr, /npm rebuild ltkit/);
      assert.match(e.stderr, /npm approve-scripts ltkit/);
    } finally {
      fs.renameSync(`${addon}.away`, addon);
    }
  });

  it('npx ltkit works from the project', () => {
    const help = run('npx', ['--no-install', 'ltkit', '--help'], PROJECT).stdout;
    assert.match(help, /usage: ltkit <command>/);
    assert.equal(run('npx', ['--no-install', 'ltkit', '--version'], PROJECT).stdout.trim(), PKG.version);
  });
});
