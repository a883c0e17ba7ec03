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
# The learned keystroke embedding (docs/biometrics.md, "Keystrokes: the learned embedding"):
# about 30 min per training; needs Debian's python3-torch and python3-onnx (/usr/bin/python3).
# It trains a new model in $OUT/ksmodel; scripts/bio/install_keystroke_models.py ships one.
if /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
  nice -n 15 "$BIN/aalto_eval" --data "$DATA/aalto_dev" --dump "$OUT" > /dev/null
  nice /usr/bin/python3 "$ROOT/scripts/bio/keystroke_learned.py" --dump "$OUT" --epochs 20 --out "$OUT/ksmodel" | tee "$OUT/keystroke_learned.txt"
  if [ -f "$ROOT/dist/src/biometrics/keystroke-embedded-stream.js" ]; then
    node "$ROOT/scripts/bio/keystroke_replay.mjs" "$OUT" --impostors 10 | tee "$OUT/keystroke_replay.txt"
  fi
else
  echo "keystroke embedding skipped: apt-get install python3-torch python3-onnx"
fi
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --per-user 1 | tee "$OUT/balabit.txt"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode grid --open 0 --per-user 1 | tee "$OUT/balabit_grid.txt"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode all --oneclass 1 \
  --oc-methods z,hist,hist-w,gauss,rf,cad --trees 50 --max-pos 4000 --per-user 1 | tee "$OUT/balabit_oneclass.txt"
# Several sittings, and the session subject over the daemon's blocks (docs/biometrics.md,
# "Mouse: several sittings" and "Mouse: what the session subject does with these scores").
X=user20/session_9673196280
for KA in "1 200" "1 500" "1 1000" "1 2000" "2 200" "3 200" "4 200" "5 200" "2 500" "2 1000" "5 500" "1 0" "5 0" "0 0"; do
  set -- $KA
  nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode raw --oneclass 1 --oc-methods hist-w \
    --actions 20 --exclude-session $X --enroll-sessions $1 --sitting-actions $2 --dump-blocks "$OUT/blocks_K$1_A$2.csv" \
    > "$OUT/sittings_K$1_A$2.txt"
done
if [ -f "$ROOT/dist/src/biometrics/session-monitor.js" ]; then
  node "$ROOT/scripts/bio/session_replay.mjs" "$OUT"/blocks_K*.csv | tee "$OUT/replay_before.txt"
  node "$ROOT/scripts/bio/session_replay.mjs" --ema 0.1 --ema-start 0.2 "$OUT"/blocks_K*.csv | tee "$OUT/replay_now.txt"
else
  echo "session replay skipped: run npm run build:ts first (it uses the compiled SessionMonitor)"
fi
"$BIN/bio_bench" | tee "$OUT/bench.txt"
