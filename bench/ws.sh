#!/usr/bin/env bash
# The live feed under load: CLIENTS WebSocket clients (default 1,000) follow
# one mission while a writer appends EVENTS events (default 10,000) through
# the real store (synchronous=FULL, PER_COMMIT events per append every
# INTERVAL_MS); reports the commit-to-receipt latency (p50, p99), whether
# every client got every event exactly once and in order, and the server's
# peak RSS and CPU. The server runs in its own process. See the "Live feed"
# section of bench/README.md for the target and the figures.
#
# Usage: bench/ws.sh            (1,000 clients, 10,000 events; about a minute
#                                after the release build)
#        CLIENTS=100 EVENTS=2000 bench/ws.sh    (a quick look)
# Environment: CLIENTS, EVENTS, PER_COMMIT (5), INTERVAL_MS (10), DIR (where
# the database goes; default the current directory, which should be a real
# disk, not tmpfs: the fsync of each commit is part of the cost), RUNS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each client holds a socket, and so does the server for it.
ulimit -n "$(( $(ulimit -Hn) < 65536 ? $(ulimit -Hn) : 65536 ))"
export DIR=${DIR:-$PWD/target}
cargo bench -p techlead-server --bench ws_load --no-run
for run in $(seq "${RUNS:-1}"); do
  echo "== run $run, load before: $(uptime | sed 's/.*load average: //')"
  cargo bench -q -p techlead-server --bench ws_load
  echo "== load after: $(uptime | sed 's/.*load average: //')"
done
