#!/bin/sh
# Build the biometrics tools and reproduce every figure in docs/biometrics.md.
# Single-threaded and niced: the machine is shared.
#   scripts/bio/eval.sh [DATA_DIR] [OUT_DIR]   (defaults /tmp/biodata, /tmp/bioruns)
# Binaries go to $BIO_BUILD (default /tmp/bio-build: node-gyp rebuild wipes build/).
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-/tmp/biodata}"
OUT="${2:-/tmp/bioruns}"
BIN="${BIO_BUILD:-/tmp/bio-build}"
mkdir -p "$OUT"
"$ROOT/scripts/bio/unpack.sh" "$DATA"
make -s -C "$ROOT/tools/bio-eval" OUT="$BIN"
"$BIN/bio_test"
nice -n 15 "$BIN/aalto_eval" --data "$DATA/aalto_dev" | tee "$OUT/aalto.txt"
for a in "--seed 2" "--split-salt a" "--split-salt b"; do
  echo "== $a"
  nice -n 15 "$BIN/aalto_eval" --data "$DATA/aalto_dev" --windows 100 $a
done | tee "$OUT/aalto_splits.txt"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --per-user 1 | tee "$OUT/balabit.txt"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode grid --open 0 --per-user 1 | tee "$OUT/balabit_grid.txt"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode all --oneclass 1 \
  --oc-methods z,hist,hist-w,gauss,rf,cad --trees 50 --max-pos 4000 --per-user 1 | tee "$OUT/balabit_oneclass.txt"
"$BIN/bio_bench" | tee "$OUT/bench.txt"
