#!/usr/bin/env bash
# The Redis driver's TLS tests (tests/tests/driver_tls.rs) make their CA and server
# certificate with the openssl command line tool; redis-cli comes with redis-server.
set -euo pipefail
if ! command -v openssl >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssl
fi
