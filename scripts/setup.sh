#!/usr/bin/env bash
# One-time and incremental set-up for a checkout; run by `npm start` and `npm test` (pre-scripts).
# Installs the Debian packages the project needs (as root), the npm dependencies (npm ci, only
# when package-lock.json changed), then builds the native addon, sentinel-fuse and the TypeScript.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(build-essential python3 cmake pkg-config fuse3 libfuse3-dev zstd xz-utils zip unzip gnupg rsync sqlite3 git)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
