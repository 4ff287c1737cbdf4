#!/usr/bin/env bash
# Task worktrees on a repository of 10,000 small files (a few directories
# deep, one commit): how long the workspace operations take
# (crates/engine/examples/worktree_bench.rs, with a plain `git worktree add`
# after each new worktree for comparison), and that a worktree shares the repository's object store
# instead of copying it (`du -s .git/objects` before and after, the
# worktree's `.git` is a small file).
# Usage: bench/worktree.sh [runs]   (default 10 tasks)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
files=${FILES:-10000}
cargo build --release -q -p techlead-engine --example worktree_bench
bin=$PWD/target/release/examples/worktree_bench
work=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/worktree-bench.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
repo=$work/repo
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 LC_ALL=C
git() { command git -c user.name=Bench -c user.email=bench@example.com "$@"; }

# 10,000 files of a few lines each: 10 top directories × 10 × 10, ten files
# in each leaf.
mkdir -p "$repo"
awk -v n="$files" -v root="$repo" 'BEGIN {
  for (i = 0; i < n; i++) {
    d = sprintf("%s/src/d%d/e%d/f%d", root, i % 10, int(i / 10) % 10, int(i / 100) % 10)
    if (!(d in made)) { system("mkdir -p " d); made[d] = 1 }
    f = sprintf("%s/file%05d.txt", d, i)
    printf "file %d\nline two of %d\nline three\n", i, i > f
    close(f)
  }
}'
git -C "$repo" init -q --initial-branch=main
git -C "$repo" add .
git -C "$repo" -c gc.auto=0 commit -q -m "10,000 files"
git -C "$repo" gc -q
objects_before=$(du -sk "$repo/.git/objects" | cut -f1)
echo "repository: $(git -C "$repo" ls-files | wc -l) files, .git/objects ${objects_before} KiB (packed), git $(command git --version | cut -d' ' -f3)"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(df -T "$work" | awk 'NR==2 {print $2}') at $work"

echo
echo "## techlead workspaces ($runs tasks, in process)"
"$bin" "$repo" "$repo/.techlead" "$runs"

echo
echo "## disk"
# One worktree left in place to look at.
git -C "$repo" worktree add -q -b techlead/bench-1/kept "$repo/.techlead/worktrees/bench-1/kept" main
wt=$repo/.techlead/worktrees/bench-1/kept
objects_after=$(du -sk "$repo/.git/objects" | cut -f1)
echo ".git/objects before: ${objects_before} KiB, after $runs tasks merged and $runs plain worktrees: ${objects_after} KiB"
echo "a worktree's .git: $(stat -c '%F, %s bytes' "$wt/.git"): $(cat "$wt/.git")"
echo "a worktree's admin directory: $(du -sk "$repo/.git/worktrees/kept" | cut -f1) KiB (its index: $(stat -c %s "$repo/.git/worktrees/kept/index") bytes)"
echo "a worktree's checked-out files: $(du -sk --exclude=.git "$wt" | cut -f1) KiB"
echo "git status of the repository: '$(git -C "$repo" status --porcelain)' (empty: .techlead/ is ignored)"
