#!/bin/sh
# Fails on its first attempt, like an agent hitting a transient error,
# and succeeds on the retry.
set -eu
out=$1
echo "::progress 20 connecting to the database"
sleep 0.2
if [ "$TECHLEAD_ATTEMPT" = 1 ]; then
  echo "error: connection reset by peer" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
echo "::decision use a migration tool rather than hand-written SQL"
echo "CREATE TABLE bookings (id INTEGER PRIMARY KEY);" > "$out"
echo "::artifact $out"
echo "::summary schema created on attempt $TECHLEAD_ATTEMPT"
