#!/bin/sh
# Build the several-users mouse model's background on this machine: one one-class mouse profile
# per Balabit training user (2000 of their actions drawn at random over all their sessions),
# enrolled under the shipped population (models/mouse/population.bin), in one "SMBG" file
# (src/biometrics/mouse-background.ts). The daemon fits its several-users model with these as
# members that are never scored (biometrics.mouseBackground; docs/biometrics.md, "Mouse: a
# background for the several-users model").
#   scripts/bio/mouse_background.sh [--optional] [OUT_FILE]     (default data/mouse-background.bin,
#   where the daemon's default `biometrics.mouseBackground` looks)
# --optional (what `npm start` runs): nothing to do when OUT_FILE exists, and no data set is not
# an error (the daemon then runs without a background).
# The file holds quantised actions of the data set's people, so it lives in the data folder and
# is never committed: each machine builds its own from ../shared/data (or BIO_DATA_SRC).
set -eu
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OPTIONAL=0
if [ "${1:-}" = "--optional" ]; then OPTIONAL=1; shift; fi
OUT="${1:-$ROOT/data/mouse-background.bin}"
SRC="${BIO_DATA_SRC:-$(cd "$ROOT/.." && pwd)/shared/data}"
BIN="${BIO_BUILD:-$ROOT/build/bio-eval}"
if [ "$OPTIONAL" = 1 ] && [ -f "$OUT" ]; then exit 0; fi
if [ ! -f "$SRC/balabit_training.tar.xz" ]; then
  echo "mouse_background: no $SRC/balabit_training.tar.xz (set BIO_DATA_SRC); no background built" >&2
  [ "$OPTIONAL" = 1 ] && exit 0
  exit 1
fi
echo "mouse_background: building $OUT from $SRC/balabit_training.tar.xz (about a minute)" >&2
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
tar -xJf "$SRC/balabit_training.tar.xz" -C "$TMP"
make -s -C "$ROOT/tools/bio-eval" OUT="$BIN" "$BIN/balabit_eval"
"$BIN/balabit_eval" --data "$TMP/training_files" --population "$ROOT/models/mouse/population.bin" \
  --write-background "$TMP/background.bin" --background-actions 2000 >"$TMP/log" || { cat "$TMP/log" >&2; exit 1; }
# The daemon's own reader must take it (and the population must be the shipped one) before it is installed.
node --input-type=module -e "
  const { readFileSync } = await import('node:fs');
  const { loadMouseBackground } = await import('$ROOT/dist/src/biometrics/mouse-background.js');
  const m = loadMouseBackground('$TMP/background.bin', readFileSync('$ROOT/models/mouse/population.bin'));
  console.log('mouse_background: ' + m.length + ' members');
"
mkdir -p "$(dirname "$OUT")"
mv "$TMP/background.bin" "$OUT"
echo "mouse_background: wrote $OUT ($(wc -c <"$OUT") bytes)"
