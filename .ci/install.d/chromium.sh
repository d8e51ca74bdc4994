#!/usr/bin/env bash
# Installs Debian's chromium for the browser test (when missing) and the npm packages of
# tests/browser (pinned by its package-lock.json). playwright-core never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
cd tests/browser
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
