#!/bin/sh
# Runs the parallel-agents example: makes a fresh git repository of
# project/ (with the mission and the agents), runs the mission in it, and
# says where the result is.
#
#   examples/parallel-agents/run.sh [DIR] [techlead run options...]
#
# DIR must be empty or missing; without it (or with "") a temporary
# directory is made. TECHLEAD is the techlead command to use (default:
# cargo run --release from this repository). Exit code: techlead's.
# This script's own messages go to stderr, so that `run.sh DIR --json`
# prints nothing but techlead's NDJSON on stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

dir=${1:-}
[ $# -gt 0 ] && shift
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/techlead-parallel-agents.XXXXXX")
elif [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "run.sh: $dir is not empty; give an empty or missing directory" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# The person's repository: the project, the mission and the agents, in one
# commit on `main`. Local identity and settings, so that no global git
# configuration is needed (and none gets in the way).
cp -R "$here/project/." "$dir/"
rm -rf "$dir/target"
cp "$here/mission.yaml" "$dir/mission.yaml"
cp -R "$here/agents" "$dir/agents"
git -C "$dir" init -q -b main
git -C "$dir" config user.name "The person"
git -C "$dir" config user.email "person@example.com"
git -C "$dir" config commit.gpgsign false
git -C "$dir" add -A
git -C "$dir" commit -q --no-verify -m "textstats 0.1.0, with the mission and its agents"
start=$(git -C "$dir" rev-parse HEAD)

echo "run.sh: running the mission in $dir" >&2
status=0
cd "$dir"
if [ -n "${TECHLEAD:-}" ]; then
  # shellcheck disable=SC2086 # TECHLEAD may be a command with arguments
  $TECHLEAD run mission.yaml "$@" || status=$?
  techlead=$TECHLEAD
else
  cargo run --release -q -p techlead-cli --manifest-path "$repo/Cargo.toml" -- \
    run mission.yaml "$@" || status=$?
  techlead="cargo run --release -q -p techlead-cli --manifest-path $repo/Cargo.toml --"
fi

integration=$(git for-each-ref --format='%(refname:short)' \
  'refs/heads/techlead/*/_integration' | tail -n 1)
changes=$(git status --porcelain --untracked-files=all | wc -l | tr -d ' ')
if [ "$(git rev-parse HEAD)" = "$start" ] && [ "$(git branch --show-current)" = main ]; then
  person="main, the person's branch: unchanged at $(git rev-parse --short HEAD), $changes uncommitted changes"
else
  person="main, the person's branch: MOVED (it was $start); $changes uncommitted changes"
fi
cat >&2 <<MSG

run.sh: techlead exited with $status. The repository is $dir:
  $person
  ${integration:-(no integration branch)}: the merged work

Look at it (techlead is \`$techlead\`):
  cd $dir
  git log --graph --oneline ${integration:-main}
  techlead status
  techlead decisions parallel-agents
  git worktree add $dir.merged ${integration:-INTEGRATION-BRANCH} && (cd $dir.merged && cargo test --offline)
MSG
exit "$status"
