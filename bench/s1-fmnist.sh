#!/bin/bash
# S1's two comparisons on FMNIST-LT (ρ = 100, ResNet-8, 80 epochs per stage, 5 warm-up epochs), as measured for
# the semi-supervised and self-supervised issues. Two queues run side by side (1 libtorch thread each); runs go
# to $OUT (default runs/s1). Every part is an ordinary run: a killed script resumes where it stopped when run
# again (self-train reuses finished parts; plain train runs are resumed with --resume by hand).
#   bash bench/s1-fmnist.sh semi   # CE, CE + pseudo-labels (ρU = 1, 100; r = 0.5), LDAM-DRW + pseudo-labels,
#                                  # CE + Mean Teacher / VAT / FixMatch and FixMatch at weight 0 (DU@5×, batch 256)
#   bash bench/s1-fmnist.sh ssp    # CE, LDAM-DRW, MFW+DRW from scratch and after rotation; MoCo v2 → cRT
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --quiet
OUT=${OUT:-runs/s1}
mkdir -p "$OUT"
L="node bin/ltkit.js"
C="--set train.epochs=80 --set schedule.warmupEpochs=5 --set threads=1 --set outDir=$OUT"
case "${1:-}" in
  semi)
    (
      $L self-train --config fmnist-lt-exp100-du5-rhou1 $C --name st-rhou1 --json > "$OUT-st-rhou1.json"
      $L train --config fmnist-lt-exp100-du5-rhou1 $C --set method.recipe=ldam+drw \
        --set data.unlabeled.pseudoLabels="$OUT/st-rhou1/base" --name pl-ldam-drw-rhou1
      $L train --config fmnist-lt-exp100-du5-rhou1 $C --set method.recipe=ce+vat --name ce-vat
      $L train --config fmnist-lt-exp100-du5-rhou1 $C --set method.recipe=ce+mean-teacher --name ce-mt
    ) &
    (
      $L self-train --config fmnist-lt-exp100-du5-rhou100 $C --name st-rhou100 --json > "$OUT-st-rhou100.json"
      $L self-train --config fmnist-lt-exp100-du5-r0.5 $C --name st-r0.5 --json > "$OUT-st-r0.5.json"
      $L train --config fmnist-lt-exp100-du5-rhou1 $C --set method.recipe=ce+fixmatch --name ce-fixmatch
      # The control: FixMatch's joint batches (labeled, weak, strong) with its loss weighted 0.
      $L train --config fmnist-lt-exp100-du5-rhou1 $C --set method.recipe=ce+fixmatch \
        --set method.fixmatch.weight=0 --name ce-fixmatch-w0
    ) &
    wait
    ;;
  ssp)
    (
      $L train --config fmnist-lt $C --set method.recipe=ssp-moco+ce+crt --name moco-crt
      $L train --config fmnist-lt $C --set method.recipe=ssp-rotation+ldam+drw --name rot-ldam-drw
      $L train --config fmnist-lt $C --set method.recipe=ssp-rotation+mfw+drw --name rot-mfw-drw
    ) &
    (
      # Starts (or reuses) the rotation pre-training the other queue's rotation runs reuse.
      $L train --config fmnist-lt $C --set method.recipe=ssp-rotation+ce --name rot-ce
      $L train --config fmnist-lt $C --set method.recipe=ce --name ce
      $L train --config fmnist-lt $C --set method.recipe=ldam+drw --name ldam-drw
      $L train --config fmnist-lt $C --set method.recipe=mfw+drw --name mfw-drw
    ) &
    wait
    ;;
  *)
    echo "usage: bash bench/s1-fmnist.sh semi|ssp" >&2
    exit 2
    ;;
esac
