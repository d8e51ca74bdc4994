#!/usr/bin/env bash
# Runs every fuzz target one after the other for SECONDS each (default 600),
# seeded with the golden vectors (seed.py), at low priority, one job at a time.
# Logs go to $LOG_DIR (default /tmp/crosscast-fuzz); crashes to fuzz/artifacts/.
set -u
cd "$(dirname "$0")"
FUZZ_DIR="$(pwd)"
SECONDS_PER_TARGET="${1:-600}"
LOG_DIR="${LOG_DIR:-/tmp/crosscast-fuzz}"
TARGETS="${TARGETS:-msgpack_decode json_decode classic_broadcast classic_request classic_response sharded_message parser_payload}"
python3 seed.py >/dev/null
mkdir -p "$LOG_DIR"
for t in $TARGETS; do
  mkdir -p "$LOG_DIR/$t"
  start=$(date +%s)
  (cd "$LOG_DIR/$t" && RUSTC_BOOTSTRAP=1 nice -n 10 cargo fuzz run --fuzz-dir "$FUZZ_DIR" "$t" \
      "$FUZZ_DIR/corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -jobs=1 \
      -malloc_limit_mb=64 -print_final_stats=1 >"$LOG_DIR/$t/run.log" 2>&1)
  rc=$?
  end=$(date +%s)
  echo "$t rc=$rc wall=$((end - start))s" | tee -a "$LOG_DIR/summary.txt"
done
