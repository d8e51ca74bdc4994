#!/usr/bin/env bash
# The tests of the repository's own scripts (scripts/test/*.test.mjs): the
# Node.js step of scripts/setup.sh, and scripts/worktree-state.sh, the check
# that a run of scripts/test.sh leaves `git status` as it found it.
# Needs: Node.js 20+, git, bash.
set -euo pipefail
cd "$(dirname "$0")/../.."
node --test scripts/test/
