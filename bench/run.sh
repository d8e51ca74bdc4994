#!/usr/bin/env bash
# Runs crosscast-bench against a fresh cluster: a private redis-server on a free
# loopback port and N servers started from a command template, all stopped at
# the end. The JSON report goes to stdout, the table and logs to stderr.
#
# Usage: bench/run.sh [--servers N] [--adapter classic|sharded] [--key PREFIX]
#                     [--server-cmd TEMPLATE] [--logs DIR] -- [crosscast-bench options]
# TEMPLATE placeholders: {port} {redis} {adapter} {key}. The command must print a
# line `listening on http://127.0.0.1:PORT` when ready, and subscribe with the
# given adapter kind and key. Default: the Node.js peer server of interop/node.
# Example:
#   bench/run.sh --servers 3 --adapter classic -- --clients 100 --senders 10 --rate 100 --duration 10
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

servers=3
adapter=classic
key=bench
template="node $root/interop/node/peer-server.js --port {port} --redis-url {redis} --adapter {adapter} --key {key}"
bench="${CROSSCAST_BENCH:-$root/target/release/crosscast-bench}"
logs=""
while [ $# -gt 0 ]; do
  case "$1" in
    --servers) servers="$2"; shift 2 ;;
    --adapter) adapter="$2"; shift 2 ;;
    --key) key="$2"; shift 2 ;;
    --server-cmd) template="$2"; shift 2 ;;
    --logs) logs="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$servers" in [1-9]|1[0-6]) ;; *) echo "run.sh: --servers must be 1..16" >&2; exit 2 ;; esac
case "$adapter" in classic|sharded) ;; *) echo "run.sh: --adapter must be classic or sharded" >&2; exit 2 ;; esac
[ -x "$bench" ] || { echo "run.sh: $bench missing: cargo build --release -p crosscast-bench" >&2; exit 2; }
[ -n "$logs" ] || logs="$(mktemp -d /tmp/crosscast-bench.XXXXXX)"
mkdir -p "$logs"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded) until file $1 contains a line matching $2.
wait_for_line() {
  for _ in $(seq 1 150); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run.sh: timed out waiting for /$2/ in $1:" >&2; tail -5 "$1" >&2; return 1
}

redis_port="$(free_port)"
[ "$redis_port" != 6379 ] || redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$logs/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
wait_for_line "$logs/redis.log" "Ready to accept connections"
redis_url="redis://127.0.0.1:$redis_port"

urls=()
server_pids=()
for i in $(seq 1 "$servers"); do
  port="$(free_port)"
  cmd="${template//\{port\}/$port}"
  cmd="${cmd//\{redis\}/$redis_url}"
  cmd="${cmd//\{adapter\}/$adapter}"
  cmd="${cmd//\{key\}/$key}"
  echo "run.sh: server $i: $cmd" >&2
  bash -c "exec $cmd" >"$logs/server-$i.log" 2>&1 &
  pids+=("$!")
  server_pids+=("$!")
  urls+=("http://127.0.0.1:$port")
done
for i in $(seq 1 "$servers"); do
  wait_for_line "$logs/server-$i.log" "listening on http://127\.0\.0\.1:[0-9]+"
done

# Every server must be subscribed before the load starts (bounded wait).
if [ "$adapter" = classic ]; then
  count_cmd=(PUBSUB NUMSUB "$key-request#/#")
else
  count_cmd=(PUBSUB SHARDNUMSUB "$key#/#")
fi
for attempt in $(seq 1 100); do
  n="$(redis-cli -h 127.0.0.1 -p "$redis_port" "${count_cmd[@]}" | sed -n 2p)"
  [ "$n" = "$servers" ] && break
  [ "$attempt" = 100 ] && { echo "run.sh: only $n of $servers servers subscribed" >&2; exit 1; }
  sleep 0.1
done

args=()
for u in "${urls[@]}"; do args+=(--url "$u"); done
for p in "${server_pids[@]}"; do args+=(--server-pid "$p"); done
args+=(--server-pid "$redis_pid")
echo "run.sh: logs in $logs" >&2
"$bench" "${args[@]}" "$@"
