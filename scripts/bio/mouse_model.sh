#!/bin/sh
# Regenerate the shipped mouse population model (models/mouse/): per-type,
# per-feature quantile tables, population bin probabilities, normal-score mean
# and covariance, the 300 feature pairs per model with their joint coarse-bin
# probabilities, and histogram-ratio feature and pair weights, learned from ALL
# Balabit training users (aggregate parameters only; no action vector of any
# person is written). Then write models/mouse/manifest.json with its sha256.
#   scripts/bio/mouse_model.sh [DATA_DIR]     (default /tmp/biodata)
# The evaluation (balabit_eval --oneclass 1) never uses this file: it refits
# the same parameters on the FIT half of the users and reports the TEST half.
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${1:-/tmp/biodata}"
BIN="${BIO_BUILD:-/tmp/bio-build}"
DIR="$ROOT/models/mouse"
"$ROOT/scripts/bio/unpack.sh" "$DATA" >/dev/null
make -s -C "$ROOT/tools/bio-eval" OUT="$BIN"
mkdir -p "$DIR"
nice -n 15 "$BIN/balabit_eval" --data "$DATA/training_files" --write-model "$DIR/population.bin"
SHA="$(sha256sum "$DIR/population.bin" | cut -d' ' -f1)"
cat > "$DIR/manifest.json" <<JSON
{
  "name": "mouse-population",
  "version": "mouse-population-v2",
  "kind": "mouse-population",
  "file": "population.bin",
  "sha256": "$SHA",
  "featureSchemaVersion": 1,
  "metrics": {
    "testPooledAuc20": 0.9174,
    "testPooledEer20": 0.1452,
    "testUserEer20": 0.1564
  },
  "training": {
    "description": "MousePopulation (native/biometrics/mouse_oneclass.h, byte format SMP1 v3): for MM, PC, DD and all actions, 33-level quantile tables and quantile-bin probabilities (mean of per-user histograms) of the 44 action features, normal-score mean and covariance, the 300 feature pairs of highest mutual information with their joint probabilities over 8 coarse bins per feature (mean of per-user histograms), and the weights of the histogram density ratio's feature and pair terms (class-balanced logistic regression on by-session cross-validated log-ratio terms, the pair tables smoothed by 400 (200/n)^2 pseudo-actions at n enrolled actions, as MouseOneClass does). Aggregate parameters only; no action vector of any person. Used by MouseOneClass (kHistLlr, kGauss) enrolled from the host user's own actions.",
    "data": "Balabit Mouse Dynamics Challenge, training part: 10 users, 65 sessions (all users; the metrics are from balabit_eval --oneclass 1, where the same parameters were fitted on the FIT half of the users and measured on the TEST half, 20 actions, raw data)",
    "command": "scripts/bio/mouse_model.sh"
  }
}
JSON
echo "wrote $DIR/population.bin ($SHA)"
