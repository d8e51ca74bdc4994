#!/usr/bin/env bash
# End-to-end browser test of the crosscast chat page: two `crosscast serve` on a private
# redis-server, a page on each in headless Chromium (Debian's chromium, driven by
# playwright-core). Screenshots: artifacts/browser/*.png.
# Needs: chromium and the npm packages of tests/browser (scripts/setup.sh),
# redis-server, Node.js 20+.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "browser.sh: ${CHROMIUM:-/usr/bin/chromium} is missing: run scripts/setup.sh" >&2
  exit 1
fi
cargo build -p crosscast --bin crosscast --locked
export CROSSCAST_BIN="$PWD/target/debug/crosscast"
cd tests/browser
node --test
