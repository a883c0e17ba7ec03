#!/bin/sh
# Unpack the shared behavioural data sets for the biometrics evaluation.
# Never commit the result: the default target is outside the repository.
#   scripts/bio/unpack.sh [TARGET_DIR]      (default /tmp/biodata)
# Produces TARGET/aalto_dev/*_keystrokes.txt and TARGET/training_files/user*/session_*.
set -eu
SRC="${BIO_DATA_SRC:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data}"
DST="${1:-/tmp/biodata}"
mkdir -p "$DST"
for f in aalto_dev balabit_training; do
  if [ ! -f "$SRC/$f.tar.xz" ]; then
    echo "missing $SRC/$f.tar.xz (set BIO_DATA_SRC)" >&2
    exit 1
  fi
done
[ -d "$DST/aalto_dev" ] || tar -xJf "$SRC/aalto_dev.tar.xz" -C "$DST"
[ -d "$DST/training_files" ] || tar -xJf "$SRC/balabit_training.tar.xz" -C "$DST"
echo "aalto: $(ls "$DST/aalto_dev" | wc -l) typists; balabit: $(ls "$DST/training_files" | wc -l) users in $DST"
