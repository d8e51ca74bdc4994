#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, golden vectors,
# property tests, simulated clusters, real-process tests with their own
# redis-server) and the JavaScript suites.
# Needs: the Rust toolchain of rust-toolchain.toml, redis-server on PATH,
# Node.js 20+ with npm (for the Node interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo test (workspace)"
cargo test --workspace --all-targets --locked

echo "== cargo test --doc (the documented examples compile and run)"
cargo test --workspace --doc --locked

# Further suites register themselves here (see scripts/test.d/).
if [ -d scripts/test.d ]; then
  for part in scripts/test.d/*.sh; do
    [ -e "$part" ] || continue
    echo "== $part"
    bash "$part"
  done
fi
