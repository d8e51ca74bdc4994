#!/usr/bin/env bash
# The tests of the repository's own scripts (scripts/test/*.test.mjs): the
# Node.js step of scripts/setup.sh; scripts/worktree-state.sh, the check that a
# run of scripts/test.sh leaves `git status` as it found it; and
# scripts/check-module-cycles.mjs, run on host-native's adapter/ and server/,
# which must have no import circle.
# Needs: Node.js 20+, git, bash.
set -euo pipefail
cd "$(dirname "$0")/../.."
node --test scripts/test/
