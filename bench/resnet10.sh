#!/usr/bin/env bash
# ResNet-10 train step at 224×224, ltkit (bench/resnet10.ts) against PyTorch (bench/resnet10.py) in one run, same
# machine, same threads, same batch, each memory order on both sides: channels-last (ltkit's default; the ratio that
# compares like with like) and NCHW (PyTorch's default). The two sides alternate, mode by mode, so drift in the
# machine's load hits both. Ratios are ltkit's time over PyTorch's, as `npm run bench` prints them (< 1: faster). Usage: bash bench/resnet10.sh [BATCH=32] [STEPS=5] [THREADS=2]
# (needs `npx tsc -p tsconfig.json` first). Timings move with load: run on a quiet machine (`uptime`).
set -euo pipefail
BATCH=${1:-32}
STEPS=${2:-5}
THREADS=${3:-2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "cpu flags: $(grep -o -w 'avx2\|avx512f\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
ARGS=(--batch "$BATCH" --steps "$STEPS" --threads "$THREADS")
for m in cl nchw; do
  node dist/bench/resnet10.js "${ARGS[@]}" --modes "$m" >"$OUT/ltkit-$m.json"
  /usr/bin/python3 bench/resnet10.py "${ARGS[@]}" --modes "$m" >"$OUT/torch-$m.json"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const fs = require("fs");
const dir = process.argv[1];
const read = (f) => JSON.parse(fs.readFileSync(`${dir}/${f}.json`, "utf8"));
const row = (m) => {
  const l = read(`ltkit-${m}`), t = read(`torch-${m}`);
  const a = l.modes[m], b = t.modes[m];
  return { l, t, a, b };
};
const cl = row("cl"), nchw = row("nchw");
const f = (x) => x.toFixed(0).padStart(6);
console.log(`ResNet-10 train step, 224x224, batch ${cl.l.batch}, ${cl.l.threads} threads, fp32, median of ${cl.l.steps} steps (ms, img/s):`);
for (const [name, r] of [["channels-last", cl], ["NCHW", nchw]]) {
  console.log(`  ${name.padEnd(13)} ltkit ${f(r.a.trainMsPerStep)} ms ${f(r.a.trainImgPerSec)} img/s   PyTorch ${r.t.torch} ${f(r.b.trainMsPerStep)} ms ${f(r.b.trainImgPerSec)} img/s   ratio ${(r.a.trainMsPerStep / r.b.trainMsPerStep).toFixed(2)}`);
}
console.log(`  ratio = ltkit time / PyTorch time in the same memory order (< 1: ltkit faster); ltkit default (channels-last) / PyTorch default (NCHW): ${(cl.a.trainMsPerStep / nchw.b.trainMsPerStep).toFixed(2)}`);
console.log(JSON.stringify({ ltkit: { cl: cl.a, nchw: nchw.a }, pytorch: { cl: cl.b, nchw: nchw.b } }));
' "$OUT"
