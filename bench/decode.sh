#!/usr/bin/env bash
# Streamed-data figures in one run: ltkit (sharp + batched tensor augmentation) against PyTorch's DataLoader
# (PIL, 2 workers) on the same synthetic JPEGs, twice each, alternating; where each side's CPU time goes (per step);
# sharp's test decode against PIL's; RSS over two epochs of a 20k-image folder. Usage: bash bench/decode.sh [N=1024]
# (needs `npx tsc -p tsconfig.json` first). Timings move with load: run on a quiet machine (`uptime`).
set -euo pipefail
N=${1:-1024}
DIR=/tmp/ltkit-bench-jpeg-$N
BIG=/tmp/ltkit-bench-20k
echo "cpu flags: $(grep -o -w 'avx2\|avx512f\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
export UV_THREADPOOL_SIZE=2
node dist/bench/decode.js gen "$DIR" "$N"
for _ in 1 2; do
  node dist/bench/decode.js speed "$DIR"
  /usr/bin/python3 bench/decode_torch.py speed "$DIR"
done
node dist/bench/decode.js profile "$DIR"
/usr/bin/python3 bench/decode_torch.py profile "$DIR"
echo "load after the speed runs: $(cut -d' ' -f1-3 /proc/loadavg)"
node dist/bench/decode.js dump "$DIR" 64 /tmp/ltkit-bench-dump.raw
/usr/bin/python3 bench/decode_torch.py compare /tmp/ltkit-bench-dump.raw
node dist/bench/decode.js gen "$BIG" 20000 64x64
node dist/bench/decode.js rss "$BIG" 2
