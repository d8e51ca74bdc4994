#!/usr/bin/env bash
# The core must stay sans-IO: no runtime, socket, Redis, randomness or JS
# binding crate anywhere in its normal dependency tree.
set -euo pipefail
cd "$(dirname "$0")/.."
forbidden='^(tokio|mio|socket2|redis|getrandom|wasm-bindgen|rand|js-sys) '
tree=$(cargo tree -p crosscast-core -e normal --prefix none --locked | sort -u)
if bad=$(printf '%s\n' "$tree" | grep -E "$forbidden"); then
  echo "crosscast-core depends on forbidden crates:" >&2
  printf '%s\n' "$bad" >&2
  exit 1
fi
echo "crosscast-core normal dependencies: $(printf '%s\n' "$tree" | wc -l) crates, none forbidden"
