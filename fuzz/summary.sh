#!/usr/bin/env bash
# Prints the Markdown table of the last run-all.sh: per target, the seconds
# libFuzzer ran, the executions, and the crash artifacts left in fuzz/artifacts/.
set -u
cd "$(dirname "$0")"
LOG_DIR="${LOG_DIR:-/tmp/crosscast-fuzz}"
echo "| target | seconds | executions | exec/s | crashes |"
echo "|---|---|---|---|---|"
for log in "$LOG_DIR"/*/fuzz-0.log; do
  t=$(basename "$(dirname "$log")")
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  runs=$(echo "$done_line" | awk '{print $2}')
  secs=$(echo "$done_line" | awk '{print $5}')
  rate=$(grep -E 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
  crashes=$(find "artifacts/$t" -type f 2>/dev/null | wc -l)
  echo "| $t | ${secs:-running} | ${runs:-?} | ${rate:-?} | $crashes |"
done
