#!/usr/bin/env bash
# End-to-end browser test of the crosscast chat page: two `crosscast serve` on a private
# redis-server, a page on each in headless Chromium (Debian's chromium, driven by
# playwright-core). Screenshots: artifacts/browser/*.png.
# Needs: chromium and the npm packages of tests/browser (.ci/install.d/chromium.sh),
# redis-server, Node.js 20+.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "browser.sh: ${CHROMIUM:-/usr/bin/chromium} is missing: run .ci/install.d/chromium.sh" >&2
  exit 1
fi
if [ ! -d tests/browser/node_modules ]; then
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
fi
cargo build -p crosscast --bin crosscast --locked
export CROSSCAST_BIN="$PWD/target/debug/crosscast"
cd tests/browser
node --test
