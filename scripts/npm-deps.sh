#!/usr/bin/env bash
# Usage: scripts/npm-deps.sh DIR...
# Installs the npm packages of each DIR exactly as its package-lock.json pins
# them (`npm ci`), unless DIR/node_modules was installed from this very
# lockfile: a node_modules left by an earlier checkout or a hand install is
# never trusted. The stamp is the lockfile's SHA-256, kept in
# node_modules/.crosscast-lock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for dir in "$@"; do
  cd "$root/$dir"
  want="$(sha256sum package-lock.json | cut -d' ' -f1)"
  have="$(cat node_modules/.crosscast-lock 2>/dev/null || true)"
  if [ "$want" != "$have" ]; then
    echo "npm-deps: npm ci in $dir"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
    printf '%s\n' "$want" > node_modules/.crosscast-lock
  fi
done
