#!/bin/sh
# Runs the portfolio example: the two missions at once, each in its own
# `techlead run`, on one database in DIR, then prints the timeline the
# stand-in agents wrote.
#
#   examples/portfolio/run.sh [DIR]
#
# DIR must be empty or missing; without it a temporary directory is made.
# TECHLEAD is the techlead command to use (default: cargo run --release
# from this repository). Exit code: 0 when both missions succeeded.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

dir=${1:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/techlead-portfolio.XXXXXX")
elif [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  echo "run.sh: $dir is not empty; give an empty or missing directory" >&2
  exit 2
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
cp "$here/billing.yaml" "$here/reports.yaml" "$here/work.sh" "$dir/"
cp -R "$here/agents" "$dir/agents"
cd "$dir"

if [ -z "${TECHLEAD:-}" ]; then
  cargo build --release -q -p techlead-cli --manifest-path "$repo/Cargo.toml"
  TECHLEAD="$repo/target/release/techlead"
fi

# Reports first: its REPORT waits for billing's API, whose mission does
# not exist yet; it keeps waiting until billing runs and API succeeds.
# shellcheck disable=SC2086 # TECHLEAD may be a command with arguments
$TECHLEAD run reports.yaml --db techlead.db >reports.log 2>&1 &
reports=$!
# shellcheck disable=SC2086
$TECHLEAD run billing.yaml --db techlead.db >billing.log 2>&1 &
billing=$!
status=0
wait "$billing" || status=$?
wait "$reports" || status=$?

echo "run.sh: the missions ran in $dir (exit $status); what the agents did, in order:" >&2
cat timeline
cat >&2 <<MSG

Look at it:
  cd $dir
  $TECHLEAD missions --db techlead.db
  $TECHLEAD status reports --db techlead.db
  $TECHLEAD report reports --db techlead.db
MSG
exit "$status"
