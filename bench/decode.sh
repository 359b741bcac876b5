#!/usr/bin/env bash
# Streamed-data figures in one run: ltkit (sharp + batched tensor augmentation) against PyTorch's DataLoader
# (PIL, 2 workers) on the same synthetic JPEGs; sharp's test decode against PIL's; peak RSS over an epoch of a
# 20k-image folder. Usage: bash bench/decode.sh [N=1024]   (needs `npx tsc -p tsconfig.json` first)
set -euo pipefail
N=${1:-1024}
DIR=/tmp/ltkit-bench-jpeg
BIG=/tmp/ltkit-bench-20k
grep -o -w 'avx2\|avx512f\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
export UV_THREADPOOL_SIZE=2
node dist/bench/decode.js gen "$DIR" "$N"
node dist/bench/decode.js speed "$DIR"
/usr/bin/python3 bench/decode_torch.py speed "$DIR"
node dist/bench/decode.js dump "$DIR" 64 /tmp/ltkit-bench-dump.raw
/usr/bin/python3 bench/decode_torch.py compare /tmp/ltkit-bench-dump.raw
node dist/bench/decode.js gen "$BIG" 20000 64x64
node dist/bench/decode.js rss "$BIG"
