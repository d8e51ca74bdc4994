#!/usr/bin/env bash
# Installs what the tests need and a fresh machine lacks; quick and silent when
# everything is already there. Run by scripts/test.sh and .ci/run.
#   - the toolchain of rust-toolchain.toml, its wasm32 target, rustfmt, clippy;
#   - Debian packages: redis-server (+ redis-cli), nodejs/npm, openssl (TLS
#     tests make certificates), chromium (the browser test);
#   - the wasm-bindgen CLI at the version Cargo.lock pins;
#   - the npm packages of interop/node, host-wasm and tests/browser, exactly as
#     their lockfiles pin them (scripts/npm-deps.sh).
# Every step installs only when the thing is missing or at the wrong version.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

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

apt_need=()
command -v redis-server >/dev/null 2>&1 || apt_need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || apt_need+=(redis-tools)
command -v node >/dev/null 2>&1 || apt_need+=(nodejs)
command -v npm >/dev/null 2>&1 || apt_need+=(npm)
command -v openssl >/dev/null 2>&1 || apt_need+=(openssl)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || apt_need+=(chromium)
if [ "${#apt_need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup: missing ${apt_need[*]}; install them (Debian: apt-get install ${apt_need[*]})" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  say "apt-get install ${apt_need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${apt_need[@]}"
fi

version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$installed" != "$version" ]; then
  say "cargo install wasm-bindgen-cli $version (found: ${installed:-none})"
  # --locked first; fall back to a fresh resolution at the same CLI version if
  # the registry index lacks one of the CLI's locked dependencies.
  cargo install wasm-bindgen-cli --version "$version" --locked ||
    cargo install wasm-bindgen-cli --version "$version"
fi

bash scripts/npm-deps.sh interop/node host-wasm tests/browser
