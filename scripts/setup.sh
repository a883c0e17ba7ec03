#!/usr/bin/env bash
# One-time and incremental set-up for a checkout; run by `npm start` and `npm test` (pre-scripts).
# Installs the Debian packages the project needs (as root), the npm dependencies (npm ci, only
# when package-lock.json changed), then builds the native addon, sentinel-fuse and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential python3 cmake pkg-config fuse3 libfuse3-dev libxcb1-dev xvfb openbox xterm xdotool zstd xz-utils zip unzip gnupg rsync sqlite3 git)

bash scripts/apt-ensure.sh setup "${APT_PACKAGES[@]}"

stamp=node_modules/.sentinel-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi

echo "setup: building native addon" >&2
# npm puts its bundled node-gyp on PATH for package scripts.
if [ -f build/Makefile ]; then
  npm run --silent build:native:incremental >/dev/null
else
  npm run --silent build:native >/dev/null
fi
if [ -f native/fuse/Makefile ]; then
  echo "setup: building sentinel-fuse" >&2
  make -s -C native/fuse
fi
echo "setup: compiling TypeScript" >&2
npx tsc -p tsconfig.json
