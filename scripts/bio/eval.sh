#!/bin/sh
# Build the biometrics tools and reproduce every figure in docs/biometrics.md.
# Single-threaded and niced: the machine is shared.
#   scripts/bio/eval.sh [DATA_DIR] [OUT_DIR]   (defaults /tmp/biodata, /tmp/bioruns)
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-/tmp/biodata}"
OUT="${2:-/tmp/bioruns}"
mkdir -p "$OUT"
"$ROOT/scripts/bio/unpack.sh" "$DATA"
make -s -C "$ROOT/tools/bio-eval"
nice -n 15 "$ROOT/build/bio-eval/aalto_eval" --data "$DATA/aalto_dev" | tee "$OUT/aalto.txt"
nice -n 15 "$ROOT/build/bio-eval/balabit_eval" --data "$DATA/training_files" | tee "$OUT/balabit.txt"
