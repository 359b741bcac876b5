#!/usr/bin/env bash
# ltkit set-up: find (or install) libtorch, install npm dependencies, build the native addon and
# the TypeScript. Idempotent, and fast when everything is already done. Run by `npm test`,
# `npm run main` and `npm run bench` before their work.
#
#   LIBTORCH=/path/to/libtorch   use that libtorch (a folder with include/ and lib/)
#   LTKIT_NO_APT=1               never call apt-get
#   --quiet                      print only when something is done
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quiet=0
bench=0
for a in "$@"; do
  case "$a" in
    --quiet) quiet=1 ;;
    --bench) bench=1 ;;  # also the PyTorch reference for `npm run bench`
  esac
done
say() { [ $quiet = 1 ] || echo "[setup] $*"; }
act() { echo "[setup] $*"; }
die() { echo "[setup] error: $*" >&2; exit 1; }

can_apt() { [ "${LTKIT_NO_APT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_updated=0
apt_install() {
  if [ $apt_updated = 0 ]; then
    act "apt-get update"
    apt-get update -q >/dev/null
    apt_updated=1
  fi
  act "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------- libtorch
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
find_system_torch() {
  for d in "/usr/lib/$multiarch" /usr/lib /usr/local/lib; do
    if [ -e "$d/libtorch_cpu.so" ] && [ -e "$d/libc10.so" ]; then echo "$d"; return 0; fi
  done
  return 1
}
if [ -n "${LIBTORCH:-}" ]; then
  [ -d "$LIBTORCH/include" ] && [ -d "$LIBTORCH/lib" ] ||
    die "LIBTORCH=$LIBTORCH must be a folder with include/ and lib/ (e.g. an unpacked libtorch archive)"
  [ -e "$LIBTORCH/lib/libtorch_cpu.so" ] || die "LIBTORCH=$LIBTORCH: lib/libtorch_cpu.so is missing"
  torch_lib="$LIBTORCH/lib"
  torch_inc="$LIBTORCH/include $LIBTORCH/include/torch/csrc/api/include"
  # pytorch.org's cxx11 archives and Debian use the new ABI; a pip wheel's folder may not.
  abi=1
  if command -v nm >/dev/null && nm -DC "$torch_lib/libc10.so" 2>/dev/null | grep -q 'c10::Error::Error(c10::SourceLocation, std::string)'; then
    abi=0
  fi
else
  if ! torch_lib=$(find_system_torch) || [ ! -d /usr/include/torch/csrc/api/include ]; then
    if can_apt; then
      apt_install libtorch-dev
      torch_lib=$(find_system_torch) || die "libtorch-dev installed but libtorch_cpu.so not found"
    else
      die "libtorch not found. Install Debian's libtorch-dev (apt-get install libtorch-dev, as root),
       or set LIBTORCH to an unpacked libtorch folder (with include/ and lib/)."
    fi
  fi
  torch_inc="/usr/include /usr/include/torch/csrc/api/include"
  abi=1
fi

# Fashion-MNIST is the embedded default data set (the main job and some tests read it).
fmnist=/usr/share/datasets/fashion-mnist
if [ ! -e "$fmnist/train-images-idx3-ubyte.gz" ] && [ -z "${LTKIT_FMNIST:-}" ]; then
  if can_apt; then apt_install dataset-fashion-mnist
  else say "note: Fashion-MNIST not found in $fmnist (apt-get install dataset-fashion-mnist); tests that need it will skip"
  fi
fi

# The benchmark compares against PyTorch (Debian's python3-torch + torchvision, /usr/bin/python3).
if [ $bench = 1 ] && ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  if can_apt; then apt_install python3-torch python3-torchvision
  else say "note: /usr/bin/python3 lacks torch/torchvision; the benchmark will report ltkit figures only"
  fi
fi

# ------------------------------------------------------------ npm packages
stamp=node_modules/.ltkit-installed
if [ ! -e "$stamp" ] || [ package.json -nt "$stamp" ]; then
  act "npm install"
  # onnxruntime-node carries its CPU runtime; ONNXRUNTIME_NODE_INSTALL=skip stops its postinstall from
  # downloading the optional CUDA provider (an npm that runs dependency scripts; package.json's
  # allowScripts denies that script on npm >= 11.x's allow-list).
  ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi

# ------------------------------------------------------------- chromium
# The report test renders an HTML report in headless Chromium (driven by puppeteer-core, which downloads
# nothing); Debian's package is the browser.
if ! command -v chromium >/dev/null; then
  if can_apt; then apt_install chromium
  else say "note: no chromium; the report browser test will be skipped (apt-get install chromium)"
  fi
fi

# ----------------------------------------------------------- native addon
addon=native/build/Release/ltkit.node
need_build=0
[ -e "$addon" ] || need_build=1
if [ $need_build = 0 ]; then
  for f in native/src/*.cc native/src/*.h native/binding.gyp; do [ "$f" -nt "$addon" ] && need_build=1; done
  [ "$(cat native/build/.torch 2>/dev/null)" = "$torch_lib" ] || need_build=1
fi
if [ $need_build = 1 ]; then
  act "building the native addon against libtorch in $torch_lib (about a minute)"
  export LTKIT_TORCH_INCLUDES="$torch_inc" LTKIT_TORCH_LIBDIR="$torch_lib" LTKIT_TORCH_CXX11_ABI="$abi"
  # nodedir=/usr: build against this machine's Node headers; never download them.
  nodedir=""
  [ -e /usr/include/node/node_api.h ] && nodedir="--nodedir=/usr"
  (cd native && npx --no-install node-gyp rebuild $nodedir -j 2 >build.log 2>&1) || {
    tail -40 native/build.log >&2
    die "native build failed (full log: native/build.log)"
  }
  echo "$torch_lib" >native/build/.torch
fi

# ------------------------------------------------------------- TypeScript
# Compiled files whose TypeScript source is gone (a deleted or renamed module) would still load, and a
# stale *.test.js would still run: remove them.
if [ -d dist ]; then
  while IFS= read -r js; do
    src=${js#dist/}
    [ -e "${src%.js}.ts" ] || rm -f "$js" "${js%.js}.d.ts" "$js.map"
  done < <(find dist -name '*.js')
fi
ts_stamp=dist/.tsbuildinfo
need_tsc=0
[ -e "$ts_stamp" ] || need_tsc=1
if [ $need_tsc = 0 ] && [ -n "$(find src bench examples tsconfig.json -newer "$ts_stamp" -name '*.ts' -o -newer "$ts_stamp" -name tsconfig.json 2>/dev/null | head -1)" ]; then
  need_tsc=1
fi
if [ $need_tsc = 1 ]; then
  act "compiling TypeScript"
  npx --no-install tsc -p tsconfig.json
fi
say "ready (libtorch: $torch_lib)"
