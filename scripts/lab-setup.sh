#!/usr/bin/env bash
# Optional set-up for the full workload lab (docs/lab.md): the Debian programs the benign suite
# uses beyond what scripts/setup.sh installs for CI, including the large ones (ImageMagick,
# ffmpeg). Run as root; `sentinel lab` skips (and reports) any scenario whose program is missing.
set -euo pipefail
PACKAGES=(tar gzip xz-utils zstd zip unzip gnupg git make gcc sqlite3 rsync imagemagick ffmpeg)
cd "$(dirname "$0")/.."
bash scripts/apt-ensure.sh lab-setup "${PACKAGES[@]}"
echo "lab-setup: all lab packages present" >&2
