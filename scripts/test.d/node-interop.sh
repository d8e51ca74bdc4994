#!/usr/bin/env bash
# Node.js interop suite: peer-server.js (the chat app on the official socket.io
# Redis adapters) in real clusters on a private redis-server.
# Needs: Node.js 20+ with npm, redis-server and redis-cli on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The mixed-cluster tests run the Rust interop peer next to the Node servers; the
# handshake and admin tests the crosscast server.
cargo build -p crosscast-tests --bin rust-peer --locked
cargo build -p crosscast --bin crosscast --locked
cd interop/node
node --test test/
