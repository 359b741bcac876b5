// scripts/c10d.sh's NCCL detection on the folder layout of a pip CUDA torch, without a GPU: a fake site-packages
// with torch/lib (a libtorch_cuda.so that exports ProcessGroupNCCL's constructor, as the real one does, built here
// with g++), torch/include, and NVIDIA's pip packages beside it — CUDA 13's headers all in nvidia/cu13/include
// (CCCL's in its cccl/ subfolder), NCCL's in nvidia/nccl/include (the layout of nvidia-nccl-cu13). What the GPU
// machine's build gets from c10d_find is what binding.gyp compiles dist.cc with (LTKIT_C10D_*).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CUDA_HEADERS =
  'cuda_runtime_api.h cuda_runtime.h cuda.h cuda_fp16.h cublas_v2.h cublasLt.h cusparse.h cusolverDn.h';
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
// CUDA headers in /usr/include come before pip's folders: the expected folders below would differ there. (A
// toolkit in /usr/local/cuda does not matter: CUDA_HOME names a fake one.)
const systemCuda = fs.existsSync('/usr/include/cuda_runtime_api.h');
const why =
  !have('g++') || !have('nm')
    ? 'needs g++ and nm'
    : systemCuda
      ? 'this machine has CUDA headers in /usr/include'
      : false;

let tmp = '';
let site = '';
let torch = '';

/** A shared library from C++ source, at `file`. */
function sharedLib(file: string, source: string): void {
  const src = `${file}.cc`;
  fs.writeFileSync(src, source);
  const r = spawnSync('g++', ['-shared', '-fPIC', '-o', file, src], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** c10d_find's exports and note for the fake torch, with extra environment. */
function c10dFind(env: Record<string, string> = {}): Record<string, string> {
  const script = [
    'source scripts/c10d.sh',
    `torch_lib=${JSON.stringify(path.join(torch, 'lib'))}`,
    `torch_inc=${JSON.stringify(`${torch}/include ${torch}/include/torch/csrc/api/include`)}`,
    'c10d_find',
    'printf "NCCL=%s\\nGLOO=%s\\nINCLUDES=%s\\nLIBS=%s\\nNOTE=%s\\n" "$LTKIT_C10D_NCCL" "$LTKIT_C10D_GLOO" "$LTKIT_C10D_INCLUDES" "$LTKIT_C10D_LIBS" "$c10d_note"',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      CUDA_HOME: path.join(tmp, 'no-cuda-toolkit'),
      NCCL_INCLUDE_DIR: '',
      LTKIT_NO_NCCL: '',
      ...env,
    },
  });
  assert.equal(r.status, 0, r.stderr);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

before(() => {
  if (why) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ltkit-c10d-'));
  site = path.join(tmp, 'site-packages');
  torch = path.join(site, 'torch');
  fs.mkdirSync(path.join(torch, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(torch, 'include', 'torch', 'csrc', 'distributed', 'c10d'), { recursive: true });
  fs.mkdirSync(path.join(torch, 'include', 'torch', 'csrc', 'api', 'include'), { recursive: true });
  fs.writeFileSync(path.join(torch, 'include', 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroup.hpp'), '');
  // libtorch_cpu without Gloo: pip's torch ships no gloo/ headers, and this one has no Gloo group either.
  sharedLib(path.join(torch, 'lib', 'libtorch_cpu.so'), 'int ltkit_fake_torch_cpu() { return 0; }\n');
  sharedLib(
    path.join(torch, 'lib', 'libtorch_cuda.so'),
    'namespace c10d { struct ProcessGroupNCCL { ProcessGroupNCCL(int); }; ProcessGroupNCCL::ProcessGroupNCCL(int) {} }\n',
  );
  const cu13 = path.join(site, 'nvidia', 'cu13', 'include');
  fs.mkdirSync(path.join(cu13, 'cccl'), { recursive: true });
  for (const h of CUDA_HEADERS.split(' ')) fs.writeFileSync(path.join(cu13, h), '');
  fs.mkdirSync(path.join(site, 'nvidia', 'nccl', 'include'), { recursive: true });
  fs.writeFileSync(path.join(site, 'nvidia', 'nccl', 'include', 'nccl.h'), '');
  // A package without headers (nvidia/cudnn's lib only, say) must not matter.
  fs.mkdirSync(path.join(site, 'nvidia', 'cudnn', 'lib'), { recursive: true });
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('pip torch: NCCL compiled in from nvidia/cu13 and nvidia/nccl headers, with cu13/cccl', { skip: why }, () => {
  const r = c10dFind();
  assert.equal(r.NCCL, '1', r.NOTE);
  assert.equal(r.GLOO, '0');
  const nv = path.join(site, 'nvidia');
  assert.equal(r.INCLUDES, `${nv}/cu13/include ${nv}/cu13/include/cccl ${nv}/nccl/include`);
  assert.equal(r.LIBS.trim(), '-ltorch_cuda -lc10_cuda');
  assert.match(r.NOTE, /has no Gloo process group.*NCCL compiled in/);
});

test('pip torch: a missing header leaves NCCL out and names it; NCCL_INCLUDE_DIR supplies it', { skip: why }, () => {
  const ncclH = path.join(site, 'nvidia', 'nccl', 'include', 'nccl.h');
  const elsewhere = path.join(tmp, 'nccl-elsewhere');
  fs.mkdirSync(elsewhere, { recursive: true });
  fs.renameSync(ncclH, path.join(elsewhere, 'nccl.h'));
  try {
    const r = c10dFind();
    assert.equal(r.NCCL, '0');
    assert.equal(r.INCLUDES, '');
    assert.match(r.NOTE, /NCCL left out: nccl\.h not found/);
    const s = c10dFind({ NCCL_INCLUDE_DIR: elsewhere });
    assert.equal(s.NCCL, '1', s.NOTE);
    const nv = path.join(site, 'nvidia');
    assert.equal(s.INCLUDES, `${nv}/cu13/include ${nv}/cu13/include/cccl ${elsewhere}`);
  } finally {
    fs.renameSync(path.join(elsewhere, 'nccl.h'), ncclH);
  }
});

test(
  'a toolkit without cuBLAS/cuSOLVER headers (pip-made, as /usr/local/cuda-13.0 can be) comes first, pip supplies the rest',
  { skip: why },
  () => {
    const toolkit = path.join(tmp, 'cuda-13.0');
    fs.mkdirSync(path.join(toolkit, 'include', 'cccl'), { recursive: true });
    for (const h of ['cuda_runtime_api.h', 'cuda_runtime.h', 'cuda.h', 'cuda_fp16.h']) {
      fs.writeFileSync(path.join(toolkit, 'include', h), '');
    }
    const r = c10dFind({ CUDA_HOME: toolkit });
    assert.equal(r.NCCL, '1', r.NOTE);
    const nv = path.join(site, 'nvidia');
    assert.equal(
      r.INCLUDES,
      `${toolkit}/include ${toolkit}/include/cccl ${nv}/cu13/include ${nv}/cu13/include/cccl ${nv}/nccl/include`,
    );
  },
);

test('LTKIT_NO_NCCL=1 leaves NCCL out; a libtorch_cuda without ProcessGroupNCCL has none', { skip: why }, () => {
  const r = c10dFind({ LTKIT_NO_NCCL: '1' });
  assert.equal(r.NCCL, '0');
  assert.match(r.NOTE, /NCCL left out: LTKIT_NO_NCCL=1/);
  const lib = path.join(torch, 'lib', 'libtorch_cuda.so');
  fs.renameSync(lib, `${lib}.nccl`);
  try {
    sharedLib(lib, 'int ltkit_fake_torch_cuda() { return 0; }\n');
    const s = c10dFind();
    assert.equal(s.NCCL, '0');
    assert.match(s.NOTE, /no NCCL in .*libtorch_cuda\.so/);
  } finally {
    fs.renameSync(`${lib}.nccl`, lib);
  }
});
