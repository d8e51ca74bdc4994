#!/usr/bin/env bash
# Runs every test of the project: the Rust workspace (unit, golden vectors,
# property tests, simulated clusters, real-process tests with their own
# redis-server) and the JavaScript suites.
# It first installs what a fresh machine lacks (scripts/setup.sh: toolchain,
# wasm target, wasm-bindgen CLI, redis-server, Node.js, chromium, the npm
# packages of every suite); set CROSSCAST_NO_SETUP=1 to skip that step.
# It ends by checking that the run left `git status` as it found it
# (scripts/worktree-state.sh): a build or test that rewrites a tracked file or
# leaves an untracked one fails the run; your own edits made before it do not.
set -euo pipefail
cd "$(dirname "$0")/.."

state="$(mktemp)"
trap 'rm -f "$state"' EXIT
bash scripts/worktree-state.sh save "$state"

if [ "${CROSSCAST_NO_SETUP:-}" != 1 ]; then
  echo "== setup (scripts/setup.sh)"
  bash scripts/setup.sh
fi

echo "== cargo build --examples (host-native/examples: the adapter in an app of your own)"
cargo build -p crosscast --examples --locked

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

echo "== git status is as before the run (scripts/worktree-state.sh)"
bash scripts/worktree-state.sh check "$state"
