#!/bin/sh
# Stands in for a coding agent: reports progress in techlead's stdout
# protocol, writes its output file, and summarises.
# Usage: worker.sh "what it does" OUTPUT_FILE
set -eu
what=$1
out=$2
mkdir -p "$(dirname "$out")"
for percent in 10 30 50 70 90; do
  echo "::progress $percent $what"
  sleep 0.2
done
echo "$TECHLEAD_TASK by $TECHLEAD_AGENT (attempt $TECHLEAD_ATTEMPT)" > "$out"
echo "::artifact $out"
echo "::summary $what: done"
