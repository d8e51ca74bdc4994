#!/usr/bin/env bash
# The WebAssembly host: builds the npm package (host-wasm/build.sh), then runs
# its node:test suites (golden vectors, real cluster with ioredis and
# node-redis, the socket.io adapter in mixed clusters with the official
# @socket.io/redis-adapter and with the Rust rust-peer, the conformance
# transcript of tests/conformance/ (test/conformance.test.mjs; its native side is
# tests/tests/conformance_native.rs), the packed tarball in Node.js ESM/CJS,
# Deno, Bun and workerd; what `npm pack` ships and a clean
# `npm publish --dry-run`).
# Needs: `npm ci` done in host-wasm/ (scripts/setup.sh), redis-server on
# PATH, cargo (test/adapter-rust.test.mjs builds rust-peer).
set -euo pipefail
cd "$(dirname "$0")/../../host-wasm"
bash build.sh
node --test --test-concurrency=1 test/*.test.mjs
