#!/usr/bin/env bash
# Finds libtorch and builds ltkit's native addon (native/build/Release/ltkit.node). The one implementation
# of both steps: the repository's set-up sources this file (scripts/setup.sh, which may first apt-get
# install libtorch-dev), and a package install runs it as ltkit's npm `install` script inside
# node_modules/ltkit.
#
#   LIBTORCH=/path/to/libtorch   use that libtorch: a folder with include/ and lib/ (an unpacked pytorch.org
#                                archive, or a pip torch's folder); else the system's (Debian/Ubuntu libtorch-dev)
#   LTKIT_SKIP_ADDON_BUILD=1     install without building; `require('ltkit')` then fails, naming the fix,
#                                until `npm rebuild ltkit`
#   LTKIT_ADDON_CACHE=<dir>      keep each built addon in <dir>/<build key>/ and reuse it for the same sources,
#                                libtorch and Node ABI (a second project, a CI cache)
#
# Run by hand: bash scripts/install-addon.sh [--quiet]. Without libtorch it exits 1 and says what to install
# or set: a package install fails then, with that message (npm shows a failed script's output, and hides a
# successful one's, so an install that "succeeds" without the addon would only move the error to the import).

# ------------------------------------------------------------------- messages
# scripts/setup.sh defines its own say/act/die; these are used when the file runs on its own.
addon_tag="[ltkit install]"
addon_quiet=0
addon_say() { [ "$addon_quiet" = 1 ] || echo "$addon_tag $*"; }
addon_act() { echo "$addon_tag $*"; }
addon_die() {
  echo "$addon_tag error: $*" >&2
  exit 1
}

# ------------------------------------------------------------------- libtorch
# torch_find: sets torch_lib (folder of libtorch_cpu.so), torch_inc (include folders, space-separated) and
# torch_abi (_GLIBCXX_USE_CXX11_ABI), or returns 1 with the reason in torch_error. Installs nothing.
torch_find() {
  torch_error=""
  if [ -n "${LIBTORCH:-}" ]; then
    if [ ! -d "$LIBTORCH/include" ] || [ ! -d "$LIBTORCH/lib" ]; then
      torch_error="LIBTORCH=$LIBTORCH must be a folder with include/ and lib/ (e.g. an unpacked libtorch archive)"
      return 1
    fi
    if [ ! -e "$LIBTORCH/lib/libtorch_cpu.so" ]; then
      torch_error="LIBTORCH=$LIBTORCH: lib/libtorch_cpu.so is missing"
      return 1
    fi
    torch_lib="$LIBTORCH/lib"
    torch_inc="$LIBTORCH/include $LIBTORCH/include/torch/csrc/api/include"
    # pytorch.org's cxx11 archives and Debian use the new ABI; a pip wheel's folder may not.
    torch_abi=1
    if command -v nm >/dev/null && nm -DC "$torch_lib/libc10.so" 2>/dev/null | grep -q 'c10::Error::Error(c10::SourceLocation, std::string)'; then
      torch_abi=0
    fi
    return 0
  fi
  local multiarch d
  multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
  torch_lib=""
  for d in "/usr/lib/$multiarch" /usr/lib /usr/local/lib; do
    if [ -e "$d/libtorch_cpu.so" ] && [ -e "$d/libc10.so" ]; then
      torch_lib=$d
      break
    fi
  done
  if [ -z "$torch_lib" ] || [ ! -d /usr/include/torch/csrc/api/include ]; then
    torch_error="libtorch not found (neither LIBTORCH nor a system libtorch with headers). Either
  - install Debian/Ubuntu's libtorch-dev: apt-get install libtorch-dev (as root), or
  - set LIBTORCH to a libtorch folder with include/ and lib/: an unpacked archive from pytorch.org, or a pip
    torch's folder (python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))'),
  then build again: 'npm rebuild ltkit' in your project (or 'npm run setup' in an ltkit checkout)."
    return 1
  fi
  torch_inc="/usr/include /usr/include/torch/csrc/api/include"
  torch_abi=1
  return 0
}

# ------------------------------------------------------------------ the addon
# addon_key: a hash of everything the built addon depends on — the native sources, binding.gyp, the build
# settings binding.gyp reads (LTKIT_TORCH_*, LTKIT_C10D_*), the libtorch library and the Node ABI.
addon_key() {
  {
    env | grep -E '^LTKIT_(TORCH|C10D)_' | sort || true
    stat -Lc 'libtorch_cpu %s %Y' "$LTKIT_TORCH_LIBDIR/libtorch_cpu.so" 2>/dev/null || true
    node -p '`${process.platform}-${process.arch} modules ${process.versions.modules} napi ${process.versions.napi}`'
    (cd native && find binding.gyp src -type f ! -name '.*' | LC_ALL=C sort | xargs sha256sum)
  } | sha256sum | cut -c1-20
}

# addon_build: builds native/build/Release/ltkit.node against the libtorch torch_find found, unless the
# addon there was built with the same key. Run from the package root. Returns 1 on failure (with the log
# tail on stderr).
addon_build() {
  local addon=native/build/Release/ltkit.node key gyp nodedir prefix cached
  export LTKIT_TORCH_INCLUDES="$torch_inc" LTKIT_TORCH_LIBDIR="$torch_lib" LTKIT_TORCH_CXX11_ABI="$torch_abi"
  key=$(addon_key)
  if [ -e "$addon" ] && [ "$(cat native/build/.build-key 2>/dev/null)" = "$key" ]; then
    addon_say "native addon up to date (libtorch: $torch_lib)"
    return 0
  fi
  cached="${LTKIT_ADDON_CACHE:-}"
  if [ -n "$cached" ] && [ -e "$cached/$key/ltkit.node" ]; then
    mkdir -p native/build/Release
    cp "$cached/$key/ltkit.node" "$addon.tmp" && mv "$addon.tmp" "$addon"
    addon_act "native addon: reused the build $key from LTKIT_ADDON_CACHE=$cached (libtorch: $torch_lib)"
  else
    addon_act "building the native addon against libtorch in $torch_lib (a minute or two)"
    # node-gyp: ltkit's own dependency, else npm's (npm_config_node_gyp), else one on PATH.
    gyp=$(node -p "require.resolve('node-gyp/bin/node-gyp.js')" 2>/dev/null) || gyp="${npm_config_node_gyp:-}"
    [ -n "$gyp" ] || gyp=$(command -v node-gyp) || {
      echo "node-gyp not found (it is a dependency of ltkit: is node_modules complete?)" >&2
      return 1
    }
    # Build against this Node's own headers (official builds and Debian's nodejs-dev ship them) instead of
    # letting node-gyp download them; an explicit npm nodedir setting wins.
    nodedir=""
    prefix=$(dirname "$(dirname "$(node -p process.execPath)")")
    if [ -z "${npm_config_nodedir:-}" ] && [ -e "$prefix/include/node/node_api.h" ]; then nodedir="--nodedir=$prefix"; fi
    (cd native && node "$gyp" rebuild $nodedir --jobs max >build.log 2>&1) || {
      tail -40 native/build.log >&2
      echo "native build failed (full log: $(pwd)/native/build.log). It needs a C++17 compiler, make and" \
        "python3 (apt-get install g++ make python3)." >&2
      return 1
    }
    if [ -n "$cached" ]; then
      mkdir -p "$cached/$key"
      cp "$addon" "$cached/$key/ltkit.node.tmp$$" && mv "$cached/$key/ltkit.node.tmp$$" "$cached/$key/ltkit.node"
    fi
  fi
  # Load it once here, so that a libtorch the addon cannot link against fails now and not at the first import.
  local err
  err=$(node -e "require(process.argv[1])" "$(pwd)/$addon" 2>&1 >/dev/null) || {
    echo "$err" >&2
    echo "the native addon $addon does not load (libtorch in $torch_lib)" >&2
    return 1
  }
  echo "$key" >native/build/.build-key
}

# ---------------------------------------------------------------------- main
# Sourced (scripts/setup.sh): only the functions above. Run: find libtorch and build.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  cd "$(dirname "$0")/.."
  for a in "$@"; do
    case "$a" in
      --quiet) addon_quiet=1 ;;
      *) addon_die "unknown option $a (usage: bash scripts/install-addon.sh [--quiet])" ;;
    esac
  done
  # `npm install` in a repository checkout runs the root package's own install script too: there the
  # set-up builds the addon (and may install libtorch first), so the lifecycle run does nothing.
  if [ "${npm_lifecycle_event:-}" = install ] && [ -e scripts/setup.sh ]; then
    addon_say "repository checkout: 'npm run setup' builds the native addon"
    exit 0
  fi
  if [ "${LTKIT_SKIP_ADDON_BUILD:-0}" = 1 ]; then
    addon_act "LTKIT_SKIP_ADDON_BUILD=1: native addon not built; run 'npm rebuild ltkit' before using ltkit"
    exit 0
  fi
  torch_find || addon_die "$torch_error"
  # Process groups (native/src/dist.cc): what this libtorch and the system's headers allow, found as the
  # set-up finds it (scripts/c10d.sh; a package install installs nothing, so it only reports gloo's headers).
  # shellcheck source=c10d.sh
  source scripts/c10d.sh
  c10d_find
  if [ "$c10d_need_gloo_headers" = 1 ]; then
    addon_act "note: $c10d_note; without it, ltkit launch and multi-process training are unavailable"
  fi
  addon_build || addon_die "could not build the native addon (see above)"
  echo "$c10d_note" >native/build/c10d.txt
fi
