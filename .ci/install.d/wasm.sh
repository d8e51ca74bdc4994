#!/usr/bin/env bash
# What host-wasm/build.sh and its tests need on a fresh machine: the wasm32
# target, the wasm-bindgen CLI at the version Cargo.lock pins, and the npm
# devDependencies of host-wasm/ (esbuild, socket.io, the redis adapter and
# clients, and the deno, bun and workerd runtimes, which ship their binaries
# as npm packages).
set -euo pipefail
cd "$(dirname "$0")/../.."
rustup target add wasm32-unknown-unknown
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)"
installed="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$installed" != "$version" ]; then
  # --locked first; fall back to a fresh resolution at the same CLI version if
  # the registry index lacks one of the CLI's locked dependencies.
  cargo install wasm-bindgen-cli --version "$version" --locked ||
    cargo install wasm-bindgen-cli --version "$version"
fi
cd host-wasm
npm ci --no-audit --no-fund
