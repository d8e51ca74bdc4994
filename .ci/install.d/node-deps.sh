#!/usr/bin/env bash
# Installs the npm dependencies of interop/node (pinned by its package-lock.json)
# when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../../interop/node"
if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund
fi
