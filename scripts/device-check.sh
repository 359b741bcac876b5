#!/usr/bin/env bash
# ltkit's GPU checks in one call, for a bare machine with a CUDA PyTorch and no network (the device tool's): run
# from the repository root with .device/ and dist/ carried (scripts/device-bundle.sh makes both; README,
# "Development"). Each step is timed and recorded as pass, fail or skip, and a failing step does not stop the
# others:
#   node          unpack .device's Node into /tmp and put it first on PATH
#   node_modules  unpack .device's node_modules (only where the checkout has none)
#   torch         find the PyTorch of $LTKIT_DEVICE_PYTHON (default python3): its folder is the LIBTORCH
#   build         build the addon against it (scripts/install-addon.sh: CUDA linked when libtorch_cuda.so is
#                 there, NCCL when scripts/c10d.sh finds its headers; gloo's are not in a pip torch, so no Gloo);
#                 if that fails with NCCL, again without it (LTKIT_NO_NCCL=1), so that the rest still runs
#   runtime       runtimeInfo(), distributedSupport(), and a matrix product on the GPU against the CPU's
#   tests         node scripts/run-tests.js engine/device engine/amp src/dist/ (with CUDA, the CUDA training
#                 test must run, not skip)
#   train-*       `ltkit train` on the tiny synthetic settings (src/cli/test-util.ts): on the CPU in fp32 (the
#                 control), on cuda in fp32, bf16 and fp16; run.json must say completed with that device and
#                 precision, and every logged loss must be finite (fp16: the checkpoint's scaler too)
#   gloo          `ltkit launch --nproc 2 -- scripts/device-nccl.js gloo` where the addon has Gloo
#   nccl          `ltkit launch --nproc 1 -- scripts/device-nccl.js nccl` (NCCL allows one rank per GPU)
#   bench         node dist/bench/device-step.js --device cuda: the ResNet-32 step, ltkit against PyTorch
# CUDA steps report "skipped: no CUDA" where the libtorch has no GPU. Logs and summary.json go to $OUT if set,
# else ./device-out: device-check.log (every step's output), summary.json, bench.json, native-build.log (when a
# build failed). The steps share a time budget, LTKIT_DEVICE_BUDGET_S (default 480 s; the device tool allows
# 600 s a call); the build's own limit is LTKIT_DEVICE_BUILD_S (default 360 s). Exits 1 when a step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
PY=${LTKIT_DEVICE_PYTHON:-python3}
export LTKIT_DC_TMP=${LTKIT_DC_TMP:-/tmp/ltkit-device-check}
out=${OUT:-$root/device-out}

# ------------------------------------------------------------ one step (run by the parent under `timeout`)
note() { echo "$*" >"$LTKIT_DC_TMP/$STEP.note"; }
skip() {
  note "$*"
  exit 77
}
cuda_or_skip() { [ "$(cat "$LTKIT_DC_TMP/cuda" 2>/dev/null)" = 1 ] || skip "skipped: no CUDA"; }

step_build() {
  bash scripts/install-addon.sh
  local rc=$?
  [ "$rc" = 0 ] && [ -e native/build/c10d.txt ] && note "c10d: $(cat native/build/c10d.txt)"
  return $rc
}
step_build-no-nccl() { step_build; }

step_runtime() {
  node -e '
const e = require("./dist/src/engine");
const { distributedSupport } = require("./dist/src/dist");
const info = e.runtimeInfo();
const out = { ...info, dist: distributedSupport() };
if (info.cuda) {
  // A product on the GPU against the same on the CPU (fp32 matmuls stay fp32 in libtorch: allow_tf32 is off).
  const a = e.randn([256, 256]);
  const g = e.toDevice(e.mm(e.toDevice(a, "cuda", "float32"), e.toDevice(a, "cuda", "float32")), "cpu", "float32");
  const c = e.mm(a, a);
  out.gpuMatmulMaxAbsDiff = e.maxAll(e.abs(e.sub(g, c))).item();
  out.gpuMatmulScale = e.maxAll(e.abs(c)).item();
}
console.log(JSON.stringify(out));
require("fs").writeFileSync(process.env.LTKIT_DC_TMP + "/runtime.json", JSON.stringify(out));
if (out.gpuMatmulMaxAbsDiff !== undefined && !(out.gpuMatmulMaxAbsDiff <= 1e-4 * out.gpuMatmulScale)) {
  console.error("the GPU product differs from the CPU one");
  process.exit(1);
}
' || return 1
  node -e '
const r = JSON.parse(require("fs").readFileSync(process.env.LTKIT_DC_TMP + "/runtime.json", "utf8"));
console.log(`libtorch ${r.torchVersion}, cuda ${r.cuda} (${r.cudaDevices} device(s)), dist ${JSON.stringify(r.dist.compiled)}` +
  (r.gpuMatmulMaxAbsDiff === undefined ? "" : `, GPU matmul max |diff| ${r.gpuMatmulMaxAbsDiff.toExponential(2)}`));
' >"$LTKIT_DC_TMP/$STEP.note"
}

step_tests() {
  node scripts/run-tests.js engine/device engine/amp src/dist/ 2>&1 | tee "$LTKIT_DC_TMP/tests.out"
  local rc=${PIPESTATUS[0]}
  local counts cudaline
  counts=$(grep -E '^ℹ (tests|pass|fail|skipped) ' "$LTKIT_DC_TMP/tests.out" | awk '{printf "%s %s, ", $2, $3}')
  cudaline=$(grep 'device: cuda trains two steps on the GPU' "$LTKIT_DC_TMP/tests.out" | head -1)
  if [ "$(cat "$LTKIT_DC_TMP/cuda")" = 1 ] && { [ -z "$cudaline" ] || [[ "$cudaline" == *"# "* ]]; }; then
    note "${counts}but the CUDA training test did not run although CUDA is available: $cudaline"
    return 1
  fi
  note "${counts%, }; CUDA training test: $([[ "$cudaline" == *"# "* ]] && echo skipped || echo ran)"
  return "$rc"
}

# train DEVICE PRECISION: the tiny synthetic run, then run.json and metrics.jsonl checked.
train() {
  local device=$1 precision=$2 dir="$LTKIT_DC_TMP/runs" name="$STEP"
  rm -rf "${dir:?}/$name"
  local sets
  sets=$(node -e 'console.log(require("./dist/src/cli/test-util").tinyRunSets(process.argv[1]).join("\n"))' "$dir") || return 1
  local args=()
  while read -r s; do args+=(--set "$s"); done <<<"$sets"
  node bin/ltkit.js train "${args[@]}" --set "device=$device" --set "train.precision=$precision" --name "$name" || return 1
  node -e '
const fs = require("fs"), path = require("path");
const [dir, device, precision] = process.argv.slice(1);
const run = JSON.parse(fs.readFileSync(path.join(dir, "run.json"), "utf8"));
const bad = [];
if (run.status !== "completed") bad.push(`status ${run.status}`);
if (run.config.device !== device) bad.push(`config.device ${run.config.device}`);
if (run.precision !== precision) bad.push(`precision ${run.precision}, asked for ${precision}`);
const want = device === "cuda" ? /^cuda(:\d+)?$/ : /^cpu$/;
if (!want.test(run.world.device)) bad.push(`world.device ${run.world.device}`);
const losses = fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
  .filter((m) => m.type === "epoch").map((m) => m.loss);
if (losses.length === 0 || !losses.every(Number.isFinite)) bad.push(`losses [${losses}]`);
let scaler = "";
if (precision === "fp16") {
  const states = [];
  (function walk(d) {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === "state.json") states.push(JSON.parse(fs.readFileSync(p, "utf8")));
    }
  })(path.join(dir, "checkpoints"));
  const s = states.map((st) => st.scaler).filter(Boolean);
  if (s.length === 0) bad.push("no fp16 scaler in the checkpoints");
  else if (!s.every((x) => x.scale > 0 && Number.isFinite(x.scale))) bad.push(`scaler ${JSON.stringify(s)}`);
  else scaler = `, scaler scale ${s[s.length - 1].scale}`;
}
const msg = `${run.world.device} ${run.precision}, losses [${losses.map((l) => l.toFixed(4))}]${scaler}`;
fs.writeFileSync(process.env.LTKIT_DC_TMP + "/" + process.env.STEP + ".note", bad.length ? `${msg}; wrong: ${bad.join("; ")}` : msg);
console.log(msg);
process.exit(bad.length ? 1 : 0);
' "$dir/$name" "$device" "$precision"
}
step_train-cpu-fp32() { train cpu fp32; }
step_train-cuda-fp32() { cuda_or_skip && train cuda fp32; }
step_train-cuda-bf16() { cuda_or_skip && train cuda bf16; }
step_train-cuda-fp16() { cuda_or_skip && train cuda fp16; }

dist_compiled() { node -e 'const s = require("./dist/src/dist").distributedSupport(); process.exit(s.compiled[process.argv[1]] ? 0 : 1)' "$1"; }
step_gloo() {
  dist_compiled gloo || skip "skipped: the addon has no Gloo ($(cat native/build/c10d.txt 2>/dev/null))"
  node bin/ltkit.js launch --nproc 2 -- scripts/device-nccl.js gloo && note "2 ranks on the CPU: every collective and GradReducer right"
}
step_nccl() {
  cuda_or_skip
  dist_compiled nccl || skip "skipped: the addon has no NCCL ($(cat native/build/c10d.txt 2>/dev/null))"
  node bin/ltkit.js launch --nproc 1 -- scripts/device-nccl.js nccl && note "1 rank on cuda:0: every collective and GradReducer right"
}

step_bench() {
  cuda_or_skip
  LTKIT_BENCH_PYTHON="$PY" node dist/bench/device-step.js --device cuda --json-file "$out/bench.json" || return 1
  node -e '
const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const f = (x) => (x === null || x === undefined ? "n/a" : x.toFixed(2));
console.log(Object.values(b.modes).map((m) => `${m.mode} ${f(m.ltkit.trainMsPerStep)}/${f(m.pytorch && m.pytorch.trainMsPerStep)} ms = ${m.ratio === null ? "n/a" : m.ratio.toFixed(2)}`).join("; "));
' "$out/bench.json" >"$LTKIT_DC_TMP/$STEP.note"
}

if [ "${1:-}" = --step ]; then
  export STEP=$2
  "step_$2"
  exit $?
fi

# -------------------------------------------------------------------- the parent
# A developer's checkout (set up by scripts/setup.sh) keeps its addon: the build below would replace it with one
# against python3's torch.
if [ -e node_modules/.ltkit-installed ] && [ "${LTKIT_DEVICE_CHECK_HERE:-0}" != 1 ]; then
  echo "[device-check] error: $root is a set-up checkout (node_modules/.ltkit-installed); this script rebuilds" \
    "native/build against python3's torch. Run it on the GPU machine or in a copy (LTKIT_DEVICE_CHECK_HERE=1 to insist)." >&2
  exit 2
fi
budget=${LTKIT_DEVICE_BUDGET_S:-480}
t_start=$(date +%s)
deadline=$((t_start + budget))
rm -rf "$LTKIT_DC_TMP"
mkdir -p "$LTKIT_DC_TMP" "$out"
export out PY
log="$out/device-check.log"
: >"$log"
: >"$LTKIT_DC_TMP/steps.tsv"
failed=0
say() { echo "[device-check] $*" | tee -a "$log"; }

# record NAME STATUS SECONDS NOTE
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$LTKIT_DC_TMP/steps.tsv"
  [ "$2" = fail ] && failed=1
  printf '[device-check] %-16s %-4s %6.1f s  %s\n' "$1" "$2" "$3" "$4" | tee -a "$log"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}'; }

# run_step NAME LIMIT_S [ENV=VALUE ...]: this script's step_NAME in a child under `timeout`, its output in the log.
run_step() {
  local name=$1 limit=$2 left t0 rc status msg
  shift 2
  left=$((deadline - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    record "$name" fail 0 "not run: the budget of ${budget} s is spent (LTKIT_DEVICE_BUDGET_S)"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "=== $name (limit ${limit} s)" >>"$log"
  rm -f "$LTKIT_DC_TMP/$name.note"
  t0=$(now)
  env "$@" timeout -k 10 "$limit" bash "$0" --step "$name" >"$LTKIT_DC_TMP/$name.out" 2>&1
  rc=$?
  cat "$LTKIT_DC_TMP/$name.out" >>"$log"
  msg=$(cat "$LTKIT_DC_TMP/$name.note" 2>/dev/null)
  case $rc in
    0) status=pass ;;
    77) status=skip ;;
    124 | 137) status=fail msg="timed out after ${limit} s${msg:+; $msg}" ;;
    *) status=fail msg="exit code $rc${msg:+; $msg}" ;;
  esac
  record "$name" "$status" "$(since "$t0")" "$msg"
  if [ "$status" = fail ]; then
    echo "----- last lines of $name's output (all of it: device-check.log)"
    grep -v '^\s*$' "$LTKIT_DC_TMP/$name.out" | tail -25
    echo "-----"
  fi
  [ "$status" != fail ]
}

say "$(date -u '+%F %T') UTC on $(hostname), in $root; output in $out"
{
  echo "=== environment"
  uname -a
  nvidia-smi -L 2>&1 || true
  for c in g++ make nvcc cmake xz; do echo "$c: $(command -v "$c" || echo missing)"; done
  g++ --version 2>&1 | head -1
  echo "CUDA_HOME=${CUDA_HOME:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
} >>"$log" 2>&1

# ------------------------------------------------------------------ node
t0=$(now)
node_xz=$(ls .device/node-v*-linux-x64.tar.xz 2>/dev/null | head -1)
# unxz FILE DIR: tar's xz filter, else Python's (a machine may lack the xz program).
unxz_to() {
  if command -v xz >/dev/null; then
    tar -xJf "$1" -C "$2"
  else
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
  fi
}
if [ -z "$node_xz" ]; then
  record node fail "$(since "$t0")" ".device/node-v*-linux-x64.tar.xz is missing: run scripts/device-bundle.sh and carry .device"
else
  ver=$(basename "$node_xz" | sed 's/^node-v\(.*\)-linux-x64.tar.xz$/\1/')
  # In /tmp; in .device/unpacked/ where /tmp does not let it run (mounted noexec).
  for nodedir in "/tmp/ltkit-node-v$ver" "$root/.device/unpacked/node-v$ver"; do
    if [ ! -x "$nodedir/bin/node" ]; then
      rm -rf "$nodedir.tmp" && mkdir -p "$nodedir.tmp" && unxz_to "$node_xz" "$nodedir.tmp" && mv "$nodedir.tmp" "$nodedir"
    fi
    "$nodedir/bin/node" -e 0 2>/dev/null && break
  done
  export PATH="$nodedir/bin:$PATH:$root/.device/bin"
  if [ "$(command -v node)" = "$nodedir/bin/node" ] && [ "$(node -p process.versions.node 2>/dev/null)" = "$ver" ]; then
    record node pass "$(since "$t0")" "$(command -v node) $(node -v); make: $(command -v make || echo none)"
  else
    record node fail "$(since "$t0")" "$nodedir/bin/node does not run (or is not first on PATH: $(command -v node))"
  fi
fi

# ----------------------------------------------------------- node_modules
t0=$(now)
mods=.device/node_modules.tar.xz
if [ ! -e "$mods" ]; then
  record node_modules fail "$(since "$t0")" "$mods is missing: run scripts/device-bundle.sh and carry .device"
elif [ -d node_modules ] && [ "$(cat node_modules/.device-key 2>/dev/null)" != "$(cat .device/node_modules.key)" ]; then
  record node_modules pass "$(since "$t0")" "kept this checkout's own node_modules (not unpacked from .device)"
elif [ -d node_modules ]; then
  record node_modules pass "$(since "$t0")" "already unpacked"
else
  if mkdir -p node_modules.tmp && unxz_to "$mods" node_modules.tmp && mv node_modules.tmp/node_modules node_modules &&
    cp .device/node_modules.key node_modules/.device-key; then
    rmdir node_modules.tmp
    record node_modules pass "$(since "$t0")" "$(ls node_modules | wc -l) top-level packages unpacked"
  else
    rm -rf node_modules.tmp
    record node_modules fail "$(since "$t0")" "could not unpack $mods"
  fi
fi

# ----------------------------------------------------------------- torch
t0=$(now)
torch_json=$("$PY" -c '
import json, os, torch
cuda = torch.cuda.is_available()
info = {"folder": os.path.dirname(torch.__file__), "version": torch.__version__, "cudaBuild": torch.version.cuda,
        "cuda": cuda, "devices": torch.cuda.device_count() if cuda else 0}
if cuda:
    info["gpu"] = torch.cuda.get_device_name(0)
    try:
        info["nccl"] = ".".join(map(str, torch.cuda.nccl.version()))
    except Exception as e:
        info["nccl"] = "n/a (%s)" % e
print(json.dumps(info))
' 2>>"$log")
if [ -z "$torch_json" ]; then
  record torch fail "$(since "$t0")" "$PY cannot import torch (set LTKIT_DEVICE_PYTHON to a python with PyTorch)"
else
  echo "$torch_json" >"$LTKIT_DC_TMP/torch.json"
  export LIBTORCH
  LIBTORCH=$("$PY" -c 'import json, sys; print(json.loads(sys.argv[1])["folder"])' "$torch_json")
  # A pip torch finds its CUDA libraries (site-packages/nvidia/*/lib) through its RUNPATH; the same folders on
  # LD_LIBRARY_PATH keep that true for a torch whose NVIDIA packages live in another site-packages.
  site=$(dirname "$LIBTORCH")
  for d in "$site"/nvidia/*/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
  export LD_LIBRARY_PATH
  record torch pass "$(since "$t0")" "$torch_json"
fi

# ----------------------------------------------------------------- build
# What scripts/c10d.sh will compile in, found as install-addon.sh finds it (in a subshell: nothing leaks here).
t0=$(now)
plan=$(
  # shellcheck source=install-addon.sh
  source scripts/install-addon.sh
  # shellcheck source=c10d.sh
  source scripts/c10d.sh
  torch_find || {
    echo "-:$torch_error"
    exit 0
  }
  c10d_find
  echo "$LTKIT_C10D_NCCL:$c10d_note (includes: ${LTKIT_C10D_INCLUDES:-none}; libs: ${LTKIT_C10D_LIBS:-none})"
)
nccl_planned=${plan%%:*}
record c10d "$([ "$nccl_planned" = - ] && echo fail || echo pass)" "$(since "$t0")" "${plan#*:}"
build_ok=0
if run_step build "${LTKIT_DEVICE_BUILD_S:-360}"; then
  build_ok=1
else
  [ -e native/build.log ] && cp native/build.log "$out/native-build.log"
  # Without NCCL, so that the CUDA checks still run (native-build.log keeps the failed build's log).
  if [ "$nccl_planned" = 1 ] && run_step build-no-nccl "${LTKIT_DEVICE_BUILD_S:-360}" LTKIT_NO_NCCL=1; then build_ok=1; fi
fi

# ------------------------------------------------------------ the checks
if [ "$build_ok" = 1 ]; then
  run_step runtime 90
  node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).cuda ? 1 : 0' \
    "$LTKIT_DC_TMP/runtime.json" >"$LTKIT_DC_TMP/cuda" 2>/dev/null || echo 0 >"$LTKIT_DC_TMP/cuda"
  run_step tests 240
  run_step train-cpu-fp32 90
  for p in fp32 bf16 fp16; do run_step "train-cuda-$p" 150; done
  run_step gloo 90
  run_step nccl 120
  run_step bench 300
else
  record checks skip 0 "skipped: no addon was built"
fi

# --------------------------------------------------------------- summary
total=$(since "$t_start.0")
"$PY" - "$LTKIT_DC_TMP" "$out" "$total" <<'EOF' >>"$log" 2>&1 || say "note: summary.json not written (python: see the log)"
import json, os, sys
tmp, out, total = sys.argv[1], sys.argv[2], float(sys.argv[3])
steps = []
for line in open(os.path.join(tmp, "steps.tsv"), encoding="utf-8"):
    name, status, sec, note = line.rstrip("\n").split("\t", 3)
    steps.append({"name": name, "status": status, "seconds": float(sec), "note": note})
def load(p):
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
summary = {"ok": all(s["status"] != "fail" for s in steps), "seconds": total,
           "counts": {k: sum(s["status"] == k for s in steps) for k in ("pass", "fail", "skip")},
           "torch": load(os.path.join(tmp, "torch.json")), "runtime": load(os.path.join(tmp, "runtime.json")),
           "steps": steps, "bench": load(os.path.join(out, "bench.json"))}
with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=1)
print("summary.json:", summary["counts"])
EOF
echo
echo "================ device-check summary ($(awk -v t="$total" 'BEGIN {printf "%.0f", t}') s; details: $out/device-check.log, summary.json)"
while IFS=$'\t' read -r name status sec msg; do
  printf '%-16s %-4s %6.1f s  %s\n' "$name" "$status" "$sec" "$msg"
done <"$LTKIT_DC_TMP/steps.tsv"
[ -e "$out/bench.json" ] && sed -n '/^ResNet-32/,$p' "$LTKIT_DC_TMP/bench.out" 2>/dev/null
exit "$failed"
