#!/usr/bin/env bash
# Optional set-up for the full workload lab (docs/lab.md): the Debian programs the benign suite
# uses beyond what scripts/setup.sh installs for CI, including the large ones (ImageMagick,
# ffmpeg). Run as root; `sentinel lab` skips (and reports) any scenario whose program is missing.
set -euo pipefail
PACKAGES=(tar gzip xz-utils zstd zip unzip gnupg git make gcc sqlite3 rsync imagemagick ffmpeg)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "lab-setup: all lab packages present" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "lab-setup: missing: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
echo "lab-setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
