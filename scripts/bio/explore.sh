#!/bin/sh
# scikit-learn cross-checks of the mouse figures (scripts/bio/mouse_explore.py; docs/biometrics.md
# "Learners"; scripts/bio/mouse_pairs_check.py: "Mouse: pair terms"). Installs python3-sklearn and python3-pandas from Debian if /usr/bin/python3 lacks
# them, dumps the per-action features once, then runs each protocol.
#   scripts/bio/explore.sh [DATA_DIR] [OUT_DIR]   (defaults /tmp/biodata, /tmp/bioruns)
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-/tmp/biodata}"
OUT="${2:-/tmp/bioruns}"
BIN="${BIO_BUILD:-/tmp/bio-build}"
PY=/usr/bin/python3
if ! "$PY" -c 'import sklearn, pandas' 2>/dev/null; then
  apt-get update && apt-get install -y python3-sklearn python3-pandas
fi
mkdir -p "$OUT"
"$ROOT/scripts/bio/unpack.sh" "$DATA" >/dev/null
make -s -C "$ROOT/tools/bio-eval" OUT="$BIN"
CSV="$OUT/actions.csv"
[ -f "$CSV.raw" ] || nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --data-mode raw --dump "$CSV.raw"
X=user20/session_9673196280   # recorded on another machine (docs/biometrics.md "Same machine")
E="$ROOT/scripts/bio/mouse_explore.py"
{
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol closed --model rf --trees 100
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol closed
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol closed --exclude-session "$X"
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol multi --exclude-session "$X"
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol host --background real
  nice -n 15 "$PY" "$E" --csv "$CSV.raw" --protocol host --background gmm
  for P in 0 30 100 300; do  # the pair terms' cross-check, six random user splits (~3 min each)
    nice -n 15 "$PY" "$ROOT/scripts/bio/mouse_pairs_check.py" "$CSV.raw" "$P" 6 6
  done
} 2>/dev/null | tee "$OUT/explore.txt"
