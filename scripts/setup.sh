#!/usr/bin/env bash
# Usage: scripts/setup.sh [STEP...]
# Installs what the tests need and a fresh machine lacks; quick and silent when
# everything is already there. Run by scripts/test.sh and .ci/run. The steps,
# in order (all of them without arguments):
#   rust          the toolchain of rust-toolchain.toml, its wasm32 target,
#                 rustfmt, clippy;
#   apt           Debian packages: redis-server (+ redis-cli), nodejs/npm,
#                 openssl (TLS tests make certificates), chromium (the browser
#                 test);
#   node          Node.js 20 or newer (after `apt`, which installs Debian's
#                 when there is none): an older one is a one-line error;
#   wasm-bindgen  the wasm-bindgen CLI at the version Cargo.lock pins;
#   npm           the npm packages of interop/node, host-wasm and
#                 tests/browser, exactly as their lockfiles pin them
#                 (scripts/npm-deps.sh).
# Every step installs only when the thing is missing or at the wrong version.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
fail() {
  printf 'setup: %s\n' "$*" >&2
  exit 1
}

# The oldest Node.js major the suites run on (node:test, fetch, the npm
# packages' engines).
NODE_MAJOR_MIN=20

step_rust() {
  if ! rustup show active-toolchain >/dev/null 2>&1; then
    say "installing the toolchain of rust-toolchain.toml"
    rustup toolchain install
  fi
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown ||
    rustup target add wasm32-unknown-unknown
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" ||
      rustup component add "$component"
  done
}

step_apt() {
  local apt_need=()
  command -v redis-server >/dev/null 2>&1 || apt_need+=(redis-server)
  command -v redis-cli >/dev/null 2>&1 || apt_need+=(redis-tools)
  command -v node >/dev/null 2>&1 || apt_need+=(nodejs)
  command -v npm >/dev/null 2>&1 || apt_need+=(npm)
  command -v openssl >/dev/null 2>&1 || apt_need+=(openssl)
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || apt_need+=(chromium)
  if [ "${#apt_need[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
      fail "missing ${apt_need[*]}; install them (Debian: apt-get install ${apt_need[*]})"
    fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    say "apt-get install ${apt_need[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${apt_need[@]}"
  fi
}

step_node() {
  local node version major
  node="$(command -v node || true)"
  [ -n "$node" ] || fail "Node.js $NODE_MAJOR_MIN+ is needed and there is no \`node\` on PATH: install it (Debian: apt-get install nodejs npm)"
  version="$(node --version 2>/dev/null || true)"
  major="$(printf '%s' "$version" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')"
  if [ -z "$major" ]; then
    fail "Node.js $NODE_MAJOR_MIN+ is needed; $node --version printed '${version}', not a version"
  fi
  if [ "$major" -lt "$NODE_MAJOR_MIN" ]; then
    fail "Node.js $NODE_MAJOR_MIN+ is needed, found $version at $node: install Node.js $NODE_MAJOR_MIN or newer (Debian 13's nodejs, or a build from nodejs.org) first on PATH"
  fi
  command -v npm >/dev/null 2>&1 || fail "npm is missing beside Node.js $version: install it (Debian: apt-get install npm)"
}

step_wasm_bindgen() {
  local version installed
  version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
  installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [ "$installed" != "$version" ]; then
    say "cargo install wasm-bindgen-cli $version (found: ${installed:-none})"
    # --locked first; fall back to a fresh resolution at the same CLI version if
    # the registry index lacks one of the CLI's locked dependencies.
    cargo install wasm-bindgen-cli --version "$version" --locked ||
      cargo install wasm-bindgen-cli --version "$version"
  fi
}

step_npm() {
  bash scripts/npm-deps.sh interop/node host-wasm tests/browser
}

steps=("$@")
[ "${#steps[@]}" -gt 0 ] || steps=(rust apt node wasm-bindgen npm)
for step in "${steps[@]}"; do
  case "$step" in
    rust) step_rust ;;
    apt) step_apt ;;
    node) step_node ;;
    wasm-bindgen) step_wasm_bindgen ;;
    npm) step_npm ;;
    *) fail "unknown step '$step' (steps: rust apt node wasm-bindgen npm)" ;;
  esac
done
