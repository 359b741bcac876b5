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
# Finding libtorch and building the addon are scripts/install-addon.sh's (one implementation, which a
# package install runs too); set-up adds what needs root: installing Debian's libtorch-dev.
# shellcheck source=install-addon.sh
source scripts/install-addon.sh
addon_tag="[setup]"
addon_quiet=$quiet
if ! torch_find; then
  if [ -z "${LIBTORCH:-}" ] && can_apt; then
    apt_install libtorch-dev
    torch_find || die "libtorch-dev installed, but: $torch_error"
  else
    die "$torch_error"
  fi
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

# ------------------------------------------------------ process groups (c10d)
# `ltkit launch` and data-parallel training use libtorch's c10d. Compiling its Gloo process group needs gloo's
# headers, which Debian ships apart from libtorch-dev (libgloo-dev); a libtorch without c10d builds without it.
# shellcheck source=c10d.sh
source scripts/c10d.sh
c10d_find
if [ "$c10d_need_gloo_headers" = 1 ]; then
  if can_apt; then
    apt_install libgloo-dev
    c10d_find
  else say "note: $c10d_note; without it, ltkit launch and multi-process training are unavailable"
  fi
fi

# ----------------------------------------------------------- native addon
# Rebuilt when its sources, binding.gyp, the libtorch or the build settings changed (a hash in
# native/build/.build-key).
addon_build || die "native build failed"
# What c10d's part of the build found, for distributedSupport()'s message (src/dist).
echo "$c10d_note" >native/build/c10d.txt

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
# Which libtorch: the version its headers declare (torch/version.h; 2.x keeps the numbers in
# torch/headeronly/version.h).
torch_version=$(for d in $torch_inc; do cat "$d/torch/version.h" "$d/torch/headeronly/version.h" 2>/dev/null || true; done |
  awk '$1 == "#define" && $2 ~ /^TORCH_VERSION_(MAJOR|MINOR|PATCH)$/ { v[$2] = $3 }
       END { if (v["TORCH_VERSION_MAJOR"] != "") print v["TORCH_VERSION_MAJOR"] "." v["TORCH_VERSION_MINOR"] "." v["TORCH_VERSION_PATCH"] }')
say "ready (libtorch ${torch_version:-of unknown version} in $torch_lib)"
