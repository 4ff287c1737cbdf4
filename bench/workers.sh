#!/usr/bin/env bash
# A mission over workers end to end (docs/workers.md): a throwaway
# PostgreSQL server, a mission of N tasks that each run `true`, one
# coordinator (`techlead run --workers`) and W `techlead worker` processes
# on this machine. Reports the wall time of the run, tasks per second,
# how the tasks spread over the workers, and checks from the record (a
# fresh `techlead status --json`) that every task has exactly one attempt
# and that it succeeded. See the "Workers" section of bench/README.md.
#
# Usage: bench/workers.sh [TASKS [WORKERS]]     (default 10000 8)
# Environment: CAPACITY (attempts at once per worker, default 1),
# PARALLEL (the mission's max_parallel: attempts out on the queue at once,
# default 4 x WORKERS x CAPACITY, so that a worker finds the next attempt
# queued when it finishes one), BENCH_DIR (where the server, the database
# and the workers' directories go; default a temporary directory under
# $TMPDIR, which should be a real disk: fsync is the point), KEEP=1 keeps
# it. Needs initdb, pg_ctl and createdb (PATH or Debian's
# /usr/lib/postgresql/*/bin) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-10000}
workers=${2:-8}
capacity=${CAPACITY:-1}
parallel=${PARALLEL:-$((4 * workers * capacity))}
command -v jq > /dev/null || { echo "bench/workers.sh needs jq" >&2; exit 2; }

pgbin=
if ! command -v initdb > /dev/null; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
  [ -n "$pgbin" ] || { echo "bench/workers.sh needs PostgreSQL (initdb, pg_ctl): apt-get install postgresql" >&2; exit 2; }
  pgbin=$pgbin/
fi

cargo build --release -q -p techlead-cli
work=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/techlead-workers-bench.XXXXXX")}
mkdir -p "$work"
bin=$work/techlead
cp "${CARGO_TARGET_DIR:-target}/release/techlead" "$bin"
if [ "$(stat -f -c %T "$work")" = tmpfs ]; then
  echo "warning: $work is on tmpfs, where fsync costs nothing; set BENCH_DIR to a disk" >&2
fi

# The server runs as `postgres` under root (initdb refuses root), on a
# Unix socket in $work/pg only, with fsync on.
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
pg=$work/pg
mkdir -p "$pg"
if [ "$(id -u)" = 0 ]; then chmod a+x "$work"; chown postgres "$pg"; fi
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  "${as_pg[@]}" "${pgbin}pg_ctl" -D "$pg/data" -m immediate stop > /dev/null 2>&1 || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
"${as_pg[@]}" "${pgbin}initdb" --no-sync --auth=trust --encoding=UTF8 --locale=C \
  --username=techlead -D "$pg/data" > "$pg/initdb.log"
printf "\nlisten_addresses = ''\nunix_socket_directories = '%s'\nfsync = on\nmax_connections = 200\n" \
  "$pg" >> "$pg/data/postgresql.conf"
"${as_pg[@]}" "${pgbin}pg_ctl" -D "$pg/data" -l "$pg/log" -w start > /dev/null
"${pgbin}createdb" -h "$pg" -U techlead bench
url="postgresql://techlead@$(printf %s "$pg" | jq -sRr @uri)/bench"

# The mission: N independent tasks, each `true`.
mission=$work/mission
mkdir -p "$mission"
awk -v n="$tasks" -v p="$parallel" 'BEGIN {
  print "mission:\n  name: bench-workers\n  defaults: {executor: command, max_parallel: " p "}\ntasks:"
  for (i = 0; i < n; i++) printf "  - {id: T%05d, title: t, command: [\"true\"]}\n", i
}' > "$mission/mission.yaml"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores" >&2
echo "$tasks tasks of \`true\`, $workers workers with capacity $capacity, max_parallel $parallel" >&2
for w in $(seq 1 "$workers"); do
  "$bin" worker --db "$url" --json --name "w$w" --dir "$work/w$w" --capacity "$capacity" \
    > "$work/w$w.ndjson" 2> "$work/w$w.log" &
  pids+=("$!")
done
start=$(date +%s%N)
(cd "$mission" && "$bin" run mission.yaml --workers --json --db "$url" > "$work/run.ndjson" 2> "$work/run.log") || {
  echo "the run failed:" >&2; tail -n 20 "$work/run.log" >&2; exit 1
}
end=$(date +%s%N)
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for pid in "${pids[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
pids=()

wall=$(awk -v ns="$((end - start))" 'BEGIN { printf "%.2f", ns / 1e9 }')
rate=$(awk -v ns="$((end - start))" -v n="$tasks" 'BEGIN { printf "%.0f", n / (ns / 1e9) }')
spread=$(for w in $(seq 1 "$workers"); do grep -c '"event":"finished"' "$work/w$w.ndjson" || true; done | sort -n | tr '\n' ' ')

# The record, read back by a new process: exactly one success per task.
"$bin" status bench-workers-1 --db "$url" --json > "$work/status.json"
read -r listed one_success attempts < <(jq -r '
  [.tasks[] | [.attempts[] | .outcome.kind]] as $o
  | "\($o | length) \([$o[] | select(map(select(. == "succeeded")) | length == 1)] | length) \([$o[][]] | length)"' "$work/status.json")
echo "tasks in the record: $listed; with exactly one success: $one_success; attempts: $attempts"
echo "tasks finished per worker: $spread"
echo "$tasks tasks over $workers workers: ${wall} s wall, $rate tasks/s"
[ "$listed" = "$tasks" ] && [ "$one_success" = "$tasks" ] || { echo "FAIL: not every task has exactly one success" >&2; exit 1; }
