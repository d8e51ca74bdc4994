#!/usr/bin/env bash
# Usage: scripts/worktree-state.sh save FILE
#        scripts/worktree-state.sh check FILE
# `save` records the git status of the work tree in FILE: every tracked file
# that differs from HEAD and every untracked file that is not ignored, each
# with the hash of its content. `check` compares the work tree with FILE and
# fails (exit 1, one line per path on stderr) when a path was changed, created
# or deleted since `save`. Edits made before `save` (a developer's own work)
# do not fail `check`, unless something changed them again.
# Outside a git work tree (an unpacked tarball), both do nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
file="${2:-}"
if { [ "$mode" != save ] && [ "$mode" != check ]; } || [ -z "$file" ]; then
  echo "usage: scripts/worktree-state.sh save|check FILE" >&2
  exit 2
fi
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || exit 0

# One line per path: `XY<TAB>content hash or -<TAB>path`, sorted.
state() {
  git status --porcelain=v1 -z --untracked-files=all --no-renames |
    while IFS= read -r -d '' entry; do
      local xy="${entry:0:2}" path="${entry:3}" hash="-"
      if [ -f "$path" ] || [ -L "$path" ]; then
        hash="$(git hash-object --no-filters -- "$path")"
      fi
      printf '%s\t%s\t%s\n' "$xy" "$hash" "$path"
    done | LC_ALL=C sort
}

if [ "$mode" = save ]; then
  state >"$file"
  exit 0
fi

now="$(mktemp)"
trap 'rm -f "$now"' EXIT
state >"$now"
changed="$(LC_ALL=C diff "$file" "$now" | sed -n 's/^[<>] [^\t]*\t[^\t]*\t//p' | LC_ALL=C sort -u || true)"
if [ -n "$changed" ]; then
  while IFS= read -r path; do
    printf 'worktree-state: changed by this run: %s\n' "$path" >&2
  done <<<"$changed"
  exit 1
fi
