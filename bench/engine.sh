#!/usr/bin/env bash
# The engine against make: generated missions of N tasks and the equivalent
# Makefiles (phony targets, the same dependencies, the same programs), run by
# `make -jP` and by `techlead run` on a fresh database, in the same run,
# alternating, median of several runs. See the "Engine" section of
# bench/README.md for the targets and the figures.
#
# Usage: bench/engine.sh [full|quick|profile|cpu]
#   full    (default) chain, wide, layered, diamond at N = 1,000 and 10,000,
#           P = 2; `sleep 0.01` wide N = 10,000 P = 8; N = 100 end to end.
#           About 10 minutes on 2 cores.
#   quick   N = 1,000 for every shape, layered N = 10,000 once (RSS and
#           transitions), `sleep 0.01` wide N = 1,000 P = 8, N = 100 end to
#           end. About a minute.
#   profile where the time goes (needs perf and strace): fsyncs per task
#           and per commit, scheduler turns, time to the first event, how
#           long a freed slot waits for its next child and what the spawning
#           thread does meanwhile (against make), and a
#           system-wide perf profile (both cores, idle included) by thread,
#           activity and function, against make's, for wide N = 1,000 and
#           layered N = 10,000 at P = 2. About 2 minutes.
#   cpu     CPU time per task of techlead's own process (all its threads,
#           not the programs it runs) against make's, wide and layered
#           N = 1,000 and layered N = 10,000, P = 2; repeatable on a busy
#           machine, where wall time is not. Needs a C compiler (a preloaded
#           library reads getrusage at exit). BASE=<another techlead binary>
#           measures it too, alternating, for a before/after. About 2 minutes.
# Environment: RUNS (repetitions for N <= 1,000; default 5), RUNS_BIG (for
# N = 10,000; default 3), RUNS_E2E (N = 100; default 21), BENCH_DIR (where
# the databases and attempt directories go; default a temporary directory
# under $TMPDIR, which should be a real disk, not tmpfs: fsync is the point),
# KEEP=1 keeps that directory.
#
# Every state change is durable (synchronous=FULL, group commit of
# docs/running.md "Claims"); each attempt writes its prompt file.
# Nothing is deleted until the end: ext4 makes inode allocation slow for
# ~30 s after many deletions, which would charge one run for the last.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
case $mode in
  full) runs=${RUNS:-5}; runs_big=${RUNS_BIG:-3}; sizes="1000 10000"; sleep_n=10000 ;;
  quick) runs=${RUNS:-3}; runs_big=${RUNS_BIG:-1}; sizes="1000"; sleep_n=1000 ;;
  profile | cpu) ;;
  *) echo "usage: bench/engine.sh [full|quick|profile|cpu]" >&2; exit 2 ;;
esac
runs_e2e=${RUNS_E2E:-21}
command -v make > /dev/null || { echo "bench/engine.sh needs GNU make" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench/engine.sh needs /usr/bin/time (GNU time) for peak RSS" >&2; exit 2; }

cargo build --release -q -p techlead-cli
work=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/techlead-engine-bench.XXXXXX")}
mkdir -p "$work"
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$work"' EXIT; fi
# A copy, so that a build elsewhere in the tree cannot swap it mid-run.
bin=$work/techlead
cp "${CARGO_TARGET_DIR:-target}/release/techlead" "$bin"
if [ "$(stat -f -c %T "$work")" = tmpfs ]; then
  echo "warning: $work is on tmpfs, where fsync costs nothing; set BENCH_DIR to a disk" >&2
fi

# The mission file (mode=yaml) or the Makefile (mode=make) for a shape: the
# same seeded random dependencies either way.
generate() { # mode shape n p program...
  local mode=$1 shape=$2 n=$3 p=$4; shift 4
  awk -v mode="$mode" -v shape="$shape" -v n="$n" -v p="$p" -v cmd="$*" '
    function id(i) { return sprintf("T%05d", i) }
    function deps(i,    layer, per, a, b, s, j) {
      if (shape == "chain") return i > 0 ? id(i - 1) : ""
      if (shape == "wide") return ""
      if (shape == "diamond") { # one root, n-2 in the middle, one sink
        if (i == 0) return ""
        if (i < n - 1) return id(0)
        s = id(1); for (j = 2; j < n - 1; j++) s = s sep id(j); return s
      }
      # layered: 10 layers, each task on 2 random tasks of the previous layer
      per = int(n / 10); layer = int(i / per); if (layer > 9) layer = 9
      if (layer == 0) return ""
      a = (layer - 1) * per + int(rand() * per); b = (layer - 1) * per + int(rand() * per)
      if (a > b) { j = a; a = b; b = j }
      return a == b ? id(a) : id(a) sep id(b)
    }
    BEGIN {
      srand(42); ncmd = split(cmd, argv, " ")
      if (mode == "yaml") {
        sep = ", "; list = argv[1]; for (j = 2; j <= ncmd; j++) list = list ", \"" argv[j] "\""
        print "mission:\n  name: bench-" shape "-" n "\n  defaults: {executor: command, max_parallel: " p "}\ntasks:"
        for (i = 0; i < n; i++) {
          d = deps(i)
          printf "  - {id: %s, title: t, command: [%s]%s}\n", id(i), list, d == "" ? "" : ", depends_on: [" d "]"
        }
      } else {
        sep = " "
        printf ".PHONY: all"; for (i = 0; i < n; i++) printf " %s", id(i); print ""
        printf "all:"; for (i = 0; i < n; i++) printf " %s", id(i); print ""
        for (i = 0; i < n; i++) printf "%s: %s\n\t@%s\n", id(i), deps(i), cmd
      }
    }'
}

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
seconds() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e9 }'; }

# Checks one techlead run: exit status, the most attempts running at once
# (from the AttemptStarted/AttemptFinished events of the NDJSON), and the
# transitions a fresh process reads back from the database.
# Prints: max_running started finished db_started db_finished
check_run() { # dir n
  local dir=$1 n=$2 overlap db
  overlap=$(awk '/"type":"attempt_started"/ { s++; r++; if (r > m) m = r }
                 /"type":"attempt_finished"/ { f++; r-- }
                 END { print m + 0, s + 0, f + 0 }' "$dir/events.ndjson")
  db=$("$bin" status --db "$dir/db" --json | awk '
        /"started_at": "/ { s++ } /"finished_at": "/ { f++ } END { print s + 0, f + 0 }')
  echo "$overlap $db"
}

rows=()
row() { rows+=("$(printf '| %s | %s | %s | %s | %s | %s | %s | %s |' "$@")"); }
verdict() { # value limit → pass/FAIL (value <= limit passes)
  if awk -v v="$1" -v l="$2" 'BEGIN { exit !(v <= l) }'; then echo pass; else echo FAIL; fi
}
max_rss=0
max_rss_case=
all_parallel_ok=1
transitions_ok=1
transitions_note=

# One case: make and techlead alternately, $reps times each.
bench_case() { # label shape n p reps target(ratio or -) program...
  local label=$1 shape=$2 n=$3 p=$4 reps=$5 target=$6; shift 6
  local dir=$work/$shape-$n-p$p-${1//[^a-z0-9]/}
  mkdir -p "$dir"
  generate yaml "$shape" "$n" "$p" "$@" > "$dir/mission.yaml"
  generate make "$shape" "$n" "$p" "$@" > "$dir/Makefile"
  local make_ns=() tl_ns=() k start end run rss checked most=0
  for k in $(seq "$reps"); do
    start=$(now_ns); make -r -s -j"$p" -C "$dir" > /dev/null; end=$(now_ns)
    make_ns+=($((end - start)))
    run=$dir/run$k; mkdir "$run"
    start=$(now_ns)
    /usr/bin/time -f %M -o "$run/rss" "$bin" run "$dir/mission.yaml" --db "$run/db" --json \
      > "$run/events.ndjson" 2> "$run/stderr" \
      || { echo "techlead failed on $label N=$n:"; cat "$run/stderr"; exit 1; } >&2
    end=$(now_ns)
    tl_ns+=($((end - start)))
    rss=$(tail -1 "$run/rss")
    if [ "$n" -ge 10000 ] && [ "$rss" -gt "$max_rss" ]; then max_rss=$rss; max_rss_case="$label N=$n"; fi
    read -r -a checked <<< "$(check_run "$run" "$n")"
    if [ "${checked[0]}" -gt "$most" ]; then most=${checked[0]}; fi
    if [ "${checked[0]}" -gt "$p" ]; then all_parallel_ok=0; fi
    if [ "${checked[1]}" != "$n" ] || [ "${checked[2]}" != "$n" ] \
      || [ "${checked[3]}" != "$n" ] || [ "${checked[4]}" != "$n" ]; then
      transitions_ok=0
      transitions_note+=" $label N=$n: events ${checked[1]}+${checked[2]}, db ${checked[3]}+${checked[4]};"
    fi
  done
  local m t ratio result
  m=$(printf '%s\n' "${make_ns[@]}" | median)
  t=$(printf '%s\n' "${tl_ns[@]}" | median)
  ratio=$(awk -v m="$m" -v t="$t" 'BEGIN { printf "%.2f", t / m }')
  if [ "$target" = - ]; then result=-; target_text="(none)"
  else result=$(verdict "$ratio" "$target"); target_text="≤ ${target}×"; fi
  row "$label" "$n" "$p" "$(seconds "$m")" "$(seconds "$t")" "$ratio" "$target_text" "$result"
  printf '  %-22s N=%-6s P=%s make %ss techlead %ss (%s×) max running %s\n' \
    "$label" "$n" "$p" "$(seconds "$m")" "$(seconds "$t")" "$ratio" "$most" >&2
}

echo "techlead engine vs GNU make, mode $mode, $(nproc) cores, $(date -u +%F), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates/*/src crates/*/Cargo.toml Cargo.toml Cargo.lock || echo ' + uncommitted changes')" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Where the time goes. Not timed against make: strace and perf slow the
# run down; the figures are counts and shares.
# Pairs each exit of a spawned `true` with the next fork of the process
# that spawns them (first come, first refilled) from a perf recording of
# sched_process_fork and sched_process_exit.
slot_wait() { # perf.data label
  perf script -i "$1" -F pid,time,event,trace 2> /dev/null | awk -v label="$2" '
    { sub(/:$/, "", $2) }
    $3 ~ /sched_process_fork/ {
      if (main == "") main = $1
      if ($1 == main) { split($NF, c, "="); forked[c[2]] = $2 }
    }
    $3 ~ /sched_process_exit/ && $4 == "comm=true" { split($5, c, "="); exited[c[2]] = $2 }
    END {
      for (k in exited) if (k in forked) { print "F", forked[k], 0; print "X", exited[k], exited[k] - forked[k] }
    }' | sort -k2,2n | awk -v label="$2" '
    $1 == "X" { pending[++tail] = $2; life += $3; kids++ }
    $1 == "F" && head < tail { g[++n] = ($2 - pending[++head]) * 1e6; sum += g[n] }
    END {
      if (n == 0) { printf "%-14s no children seen\n", label; exit }
      for (i = 2; i <= n; i++) for (j = i; j > 1 && g[j - 1] > g[j]; j--) { x = g[j]; g[j] = g[j - 1]; g[j - 1] = x }
      printf "%-14s %4.0f / %4.0f / %4.0f / %4.0f   life %4.0f\n", label, g[int(n * 0.1) + 1], g[int(n * 0.5) + 1], g[int(n * 0.9) + 1], sum / n, life / kids * 1e6
    }'
}

# From each exit of a spawned `true` to the next fork by the spawning
# thread, what that thread was doing, in µs per exit: blocked in the
# previous fork (the new child not scheduled yet, or still setting itself
# up: tracing every system call slows the child's own calls, most of all a
# `clone` child's reset of each signal's handler, one call per signal, so
# this is an upper bound),
# running, runnable but not running, asleep, or in other system calls. From
# a system-wide perf recording of raw_syscalls and sched_switch; `clone`
# (56) and `clone3` (435) count as the fork.
exit_to_fork() { # perf.data comm label
  perf script -i "$1" -F comm,tid,time,event,trace 2> /dev/null | awk -v comm="$2" -v label="$3" '
    { t = $3; sub(/:$/, "", t) }
    $1 == comm && main == "" { main = $2; state = "running" }
    /sched_process_exit:/ && /comm=true/ { if (!open) { open = 1; t0 = t; mark = t } next }
    function add(s) { if (open) { spent[s] += t - mark; mark = t } }
    /sched_switch:/ {
      if ($0 ~ "prev_pid=" main " ") { add(state); saved = state
        state = ($0 ~ /prev_state=R/) ? "runnable, not running" : (insys ? (forking ? "blocked in the previous fork" : (nr == 232 || nr == 7 || nr == 270 || nr == 61 ? "asleep (epoll, poll, wait)" : "blocked in another system call")) : "runnable, not running") }
      else if ($0 ~ "next_pid=" main " ") { add(state); state = saved }
      next }
    $2 != main { next }
    /sys_enter:/ { add(state); nr = $6; insys = 1; forking = (nr == 56 || nr == 435)
      state = forking ? "in the fork" : "in other system calls"
      if (forking && open) { total += t - t0; n++; open = 0 }
      next }
    /sys_exit:/ { add(state); insys = 0; forking = 0; state = "running"; next }
    END {
      if (n == 0) { printf "%-14s no exits seen\n", label; exit }
      printf "%-14s %4.0f µs from an exit to the next fork:", label, total / n * 1e6
      for (k in spent) if (spent[k] / n * 1e6 >= 1) printf " %s %.0f;", k, spent[k] / n * 1e6
      print ""
    }'
}

# Each exit of a spawned `true` to the next fork, split where the spawning
# thread first runs after the exit: its wake-up and the wait for a CPU,
# then its own work up to the fork (µs, p50 / mean). From a system-wide
# recording of sched_switch, sched_waking, sched_process_exit and _fork.
gap_split() { # perf.data comm label
  perf script -i "$1" -F comm,tid,time,event,trace 2> /dev/null | awk -v comm="$2" -v label="$3" '
    function med(a, n,   i, j, x) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
      return a[int(n / 2) + 1] }
    { t = $3; sub(/:$/, "", t) }
    $1 == comm && main == "" { main = $2 }
    /sched_process_exit:/ && $1 == "true" { if (!open) { open = 1; te = t; ran = 0 } next }
    open && !ran && /sched_switch:/ && $0 ~ ("next_pid=" main " ") { tr = t; ran = 1; next }
    open && /sched_process_fork:/ && $2 == main { if (ran) { n++; w[n] = (tr - te) * 1e6; r[n] = (t - tr) * 1e6; ws += w[n]; rs += r[n] } open = 0 }
    END {
      if (n == 0) { printf "%-14s no exits seen\n", label; exit }
      printf "%-14s exit to running %3.0f / %3.0f, running to fork %3.0f / %3.0f  (%d exits)\n", label, med(w, n), ws / n, med(r, n), rs / n, n
    }'
}

# Each stretch a CPU spent idle, by what left it before and what came
# next, in ms over the run (the same recording as gap_split).
idle_causes() { # perf.data label
  echo "$2:"
  perf script -i "$1" -F cpu,time,event,trace 2> /dev/null | awk '
    /sched_switch:/ {
      cpu = $1; t = $2; sub(/:$/, "", t)
      match($0, /prev_comm=[^ ]+/); prev = substr($0, RSTART + 10, RLENGTH - 10)
      match($0, /prev_state=[^ ]+/); state = substr($0, RSTART + 11, RLENGTH - 11)
      match($0, /next_comm=[^ ]+/); next_comm = substr($0, RSTART + 10, RLENGTH - 10)
      if (next_comm ~ /^swapper/) { since[cpu] = t; why[cpu] = prev " (" state ")" }
      else if (prev ~ /^swapper/ && (cpu in since)) {
        k = why[cpu] " -> " next_comm; ms[k] += (t - since[cpu]) * 1000; n[k]++; all += (t - since[cpu]) * 1000; delete since[cpu] }
    }
    END {
      for (k in ms) if (ms[k] >= 0.5) printf "  %6.1f ms %5d times  %s\n", ms[k], n[k], k
      printf "  %6.1f ms in all\n", all
    }' | sort -rn | head -8
}

profile_case() { # shape n p
  local shape=$1 n=$2 p=$3 dir=$work/profile-$1-$2 start end first wal other turns
  mkdir -p "$dir"
  generate yaml "$shape" "$n" "$p" true > "$dir/mission.yaml"
  echo "== $shape N=$n P=$p"
  # A plain run: wall time, time to the first event, turns per second.
  start=$(now_ns)
  "$bin" run "$dir/mission.yaml" --db "$dir/plain/db" --json > "$dir/plain.ndjson" 2> /dev/null
  end=$(now_ns)
  first=$(head -1 "$dir/plain.ndjson" | sed 's/.*"at":"\([^"]*\)".*/\1/')
  first=$(date -d "$first" +%s%N)
  echo "wall $(seconds $((end - start))) s; first event (run_started, after parse, plan, database, replay) at $(( (first - start) / 1000000 )) ms"
  # fsyncs: which file, how many, how long (strace stops only on fsync).
  strace -f -y -T --seccomp-bpf -e trace=fsync,fdatasync -o "$dir/fsync.txt" \
    "$bin" run "$dir/mission.yaml" --db "$dir/strace/db" --json > /dev/null 2>&1
  wal=$(grep -c -- '-wal>' "$dir/fsync.txt" || true)
  other=$(( $(grep -c 'sync(' "$dir/fsync.txt" || true) - wal ))
  turns=$wal
  awk -v n="$n" -v wal="$wal" -v other="$other" -v wall="$(( end - start ))" '
    /sync\(/ { match($0, /<[0-9.]+>$/); t = substr($0, RSTART + 1, RLENGTH - 2); s += t; v[++k] = t }
    END {
      asorted = 0; for (i = 1; i <= k; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { x = v[j]; v[j] = v[j - 1]; v[j - 1] = x }
      printf "fsync: %d on the WAL (one per commit), %d on other files; %.2f per task, %.2f tasks per commit\n", wal, other, (wal + other) / n, n / wal
      printf "fsync time (under strace): total %.3f s, median %.3f ms, p90 %.3f ms; plain run: %.3f ms per turn\n", s, v[int((k + 1) / 2)] * 1000, v[int(k * 0.9)] * 1000, wall / 1e6 / wal
    }' "$dir/fsync.txt"
  # How long a freed slot waits for its next child: every fork and exit.
  perf record -q -a -e sched:sched_process_fork,sched:sched_process_exit \
    -o "$dir/sched.data" "$bin" run "$dir/mission.yaml" --db "$dir/sched/db" --json > /dev/null 2>&1
  generate make "$shape" "$n" "$p" true > "$dir/Makefile"
  perf record -q -a -e sched:sched_process_fork,sched:sched_process_exit \
    -o "$dir/sched-make.data" make -r -s -j"$p" -C "$dir" > /dev/null 2>&1
  echo "-- a freed slot's wait: from a child's exit to the next child's fork, in µs (p10 / p50 / p90 / mean), and a child's life (mean)"
  slot_wait "$dir/sched.data" "techlead run"
  slot_wait "$dir/sched-make.data" "make -j$p"
  # Where that wait goes, and where the CPUs idle (bench/README.md,
  # session 15).
  local events=sched:sched_switch,sched:sched_waking,sched:sched_process_exit,sched:sched_process_fork
  perf record -q -a -e "$events" -o "$dir/switch.data" \
    "$bin" run "$dir/mission.yaml" --db "$dir/switch/db" --json > /dev/null 2>&1
  perf record -q -a -e "$events" -o "$dir/switch-make.data" make -r -s -j"$p" -C "$dir" > /dev/null 2>&1
  echo "-- the wait split where the spawning thread first runs after the exit, in µs (p50 / mean)"
  gap_split "$dir/switch.data" "$(basename "$bin" | cut -c1-15)" "techlead run"
  gap_split "$dir/switch-make.data" make "make -j$p"
  echo "-- idle CPU time, by what went off the CPU and what came next"
  idle_causes "$dir/switch.data" "techlead run"
  idle_causes "$dir/switch-make.data" "make -j$p"
  rm -f "$dir/switch.data" "$dir/switch-make.data"
  # What the spawning thread does meanwhile (every system call traced: both
  # run slower, alike; at N <= 1,000, the trace being 300 MB a thousand).
  if [ "$n" -le 1000 ]; then
  perf record -q -a -e raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch,sched:sched_process_exit \
    -o "$dir/syscalls.data" "$bin" run "$dir/mission.yaml" --db "$dir/syscalls/db" --json > /dev/null 2>&1
  perf record -q -a -e raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch,sched:sched_process_exit \
    -o "$dir/syscalls-make.data" make -r -s -j"$p" -C "$dir" > /dev/null 2>&1
  echo "-- from an exit to the next fork, what the spawning thread does (µs per exit, under tracing)"
  exit_to_fork "$dir/syscalls.data" "$(basename "$bin" | cut -c1-15)" "techlead run"
  exit_to_fork "$dir/syscalls-make.data" make "make -j$p"
  rm -f "$dir/syscalls.data" "$dir/syscalls-make.data"
  fi
  # CPU profile of the whole machine (-a), so that idle time shows, and
  # short-lived children are sampled fairly; make's for comparison.
  perf record -q -a -F 999 -g -o "$dir/perf.data" \
    "$bin" run "$dir/mission.yaml" --db "$dir/perf/db" --json > /dev/null 2>&1
  perf record -q -a -F 999 -g -o "$dir/perf-make.data" make -r -s -j"$p" -C "$dir" > /dev/null 2>&1
  local data label
  for data in perf perf-make; do
    if [ "$data" = perf ]; then label="techlead run"; else label="make -j$p"; fi
    echo "-- $label: CPU samples of both cores by thread and activity"
    perf script -i "$dir/$data.data" -F comm,tid,ip,sym 2> /dev/null | awk '
      BEGIN { RS = "" }
      {
        split($0, l, "\n"); split(l[1], h, " "); comm = h[1]; s = $0; cat = "other"
        if (comm == "swapper") { comm = "-"; cat = "idle (no runnable work)" }
        else if (comm == "true" || s ~ /_dl_start|_dl_sysdep_start|__spawni_child|start_child|set_up_and_exec|execve/) { comm = "child"; cat = "the spawned program, from vfork to exit" }
        else if (comm != "techlead" && comm != "tokio-rt-worker" && comm != "make") { comm = "-"; cat = "other processes on the machine" }
        else if (s ~ /sys_fsync|sys_fdatasync/) cat = "commit: fsync"
        else if (s ~ /sqlite3|rusqlite/) cat = "sqlite: statements, WAL writes, checkpoints"
        else if (s ~ /dispatch::next_retry/) cat = "dispatch::next_retry"
        else if (s ~ /techlead_core::(dispatch|retry|state)|Mission.*::(decide|handle|stage)/) cat = "scheduler, fold"
        else if (s ~ /observe|render::|serde_json::ser/) cat = "observer, NDJSON"
        else if (s ~ /read_source|inputs::|techlead_core::(spec|yaml|plan)|saphyr|serde_json::de|serde::private::de/) cat = "parse, validate, plan, replay"
        else if (s ~ /posix_spawn|clone|process::spawn/) cat = "spawn (clone, vfork wait)"
        else if (s ~ /command::prepare|RotatingLog|mkdir|sys_openat|unlink|result::read/) cat = "attempt files"
        else if (s ~ /Waker::wake|wait4|pidfd|epoll|futex|park|schedule|tokio|finish_task_switch/) cat = "tokio, wake-ups, context switches"
        n[comm "  " cat]++; tot++
      }
      END { for (k in n) printf "%6.1f%%  %s\n", 100 * n[k] / tot, k }' | sort -rn | head -16 || true
  done
  echo "-- hottest functions of the techlead binary (self time, share of all samples)"
  perf report -i "$dir/perf.data" --no-children --stdio --dso techlead \
    --sort sym -g none 2> /dev/null | grep '%' | head -12 || true
}
# CPU per task: a library preloaded into techlead (and make) writes the
# process's own CPU time (getrusage RUSAGE_SELF: every thread, the SQLite
# writer included) and its reaped children's (RUSAGE_CHILDREN: the spawned
# programs) at exit, and takes itself out of the environment first, so the
# children run without it.
cpu_case() { # shape n reps
  local shape=$1 n=$2 reps=$3 dir=$work/cpu-$1-$2 k name
  mkdir -p "$dir"
  generate yaml "$shape" "$n" 2 true > "$dir/mission.yaml"
  generate make "$shape" "$n" 2 true > "$dir/Makefile"
  for k in $(seq "$reps"); do
    RUSAGE_OUT=$dir/make.txt LD_PRELOAD=$work/rusage.so make -r -s -j2 -C "$dir" > /dev/null
    for name in techlead ${base:+base}; do
      RUSAGE_OUT=$dir/$name.txt LD_PRELOAD=$work/rusage.so \
        "$work/$name" run "$dir/mission.yaml" --db "$dir/$name-$k/db" --json \
        > /dev/null 2> "$dir/stderr" \
        || { echo "$name failed on $shape N=$n:"; cat "$dir/stderr"; exit 1; } >&2
    done
  done
  for name in make ${base:+base} techlead; do
    awk -v n="$n" -v who="$name" -v shape="$shape" '
      function median(a, m,   i, j, x) {
        for (i = 1; i <= m; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
        return a[int((m + 1) / 2)]
      }
      { own[NR] = ($1 + $2) / n; user[NR] = $1 / n; sys[NR] = $2 / n; kids[NR] = ($3 + $4) / n }
      END {
        printf "| %s | %d | %s | %.0f | %.0f | %.0f | %.0f |\n", shape, n, who,
          median(own, NR), median(user, NR), median(sys, NR), median(kids, NR)
      }' "$dir/$name.txt"
  done
}
if [ "$mode" = cpu ]; then
  command -v cc > /dev/null || { echo "cpu needs a C compiler (cc)" >&2; exit 2; }
  base=${BASE:-}
  if [ -n "$base" ]; then cp "$base" "$work/base"; fi
  cat > "$work/rusage.c" << 'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
static char out[4096];
__attribute__((constructor)) static void start(void) {
  const char *path = getenv("RUSAGE_OUT");
  if (path) snprintf(out, sizeof out, "%s", path);
  unsetenv("RUSAGE_OUT");
  unsetenv("LD_PRELOAD");
}
__attribute__((destructor)) static void stop(void) {
  struct rusage self, children;
  FILE *file;
  if (!out[0] || !(file = fopen(out, "a"))) return;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  fprintf(file, "%ld %ld %ld %ld\n",
          self.ru_utime.tv_sec * 1000000L + self.ru_utime.tv_usec,
          self.ru_stime.tv_sec * 1000000L + self.ru_stime.tv_usec,
          children.ru_utime.tv_sec * 1000000L + children.ru_utime.tv_usec,
          children.ru_stime.tv_sec * 1000000L + children.ru_stime.tv_usec);
  fclose(file);
}
CEOF
  cc -O2 -shared -fPIC -o "$work/rusage.so" "$work/rusage.c"
  echo "CPU per task in µs, medians of ${RUNS:-7} runs (${RUNS_BIG:-2} at N = 10,000), P = 2;" \
    "own: the process and all its threads; children: the programs it ran"
  echo "| shape | N | who | own | user | sys | children |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
  cpu_case wide 1000 "${RUNS:-7}"
  cpu_case layered 1000 "${RUNS:-7}"
  cpu_case layered 10000 "${RUNS_BIG:-2}"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  exit 0
fi
if [ "$mode" = profile ]; then
  command -v perf > /dev/null && command -v strace > /dev/null \
    || { echo "profile needs perf and strace" >&2; exit 2; }
  profile_case wide 1000 2
  profile_case layered 10000 2
  exit 0
fi

for n in $sizes; do
  reps=$runs; [ "$n" -ge 10000 ] && reps=$runs_big
  for shape in chain wide layered diamond; do
    target=-; case $shape in wide | layered) target=1.25 ;; esac
    bench_case "$shape, true" "$shape" "$n" 2 "$reps" "$target" true
  done
done
if [ "$mode" = quick ]; then # RSS and transitions at 10,000 all the same
  bench_case "layered, true" layered 10000 2 1 1.25 true
fi
sleep_reps=$runs_big; [ "$mode" = quick ] && sleep_reps=$runs
bench_case "wide, sleep 0.01" wide "$sleep_n" 8 "$sleep_reps" 1.05 sleep 0.01

# N = 100 end to end: exec to exit, creating the database, no /usr/bin/time.
dir=$work/e2e; mkdir -p "$dir"
generate yaml layered 100 2 true > "$dir/mission.yaml"
generate make layered 100 2 true > "$dir/Makefile"
e2e_make=() e2e_tl=()
for k in $(seq "$runs_e2e"); do
  start=$(now_ns); make -r -s -j2 -C "$dir" > /dev/null; end=$(now_ns); e2e_make+=($((end - start)))
  start=$(now_ns)
  "$bin" run "$dir/mission.yaml" --db "$dir/run$k/db" --json > "$dir/events$k.ndjson" 2> /dev/null
  end=$(now_ns); e2e_tl+=($((end - start)))
done
m=$(printf '%s\n' "${e2e_make[@]}" | median); t=$(printf '%s\n' "${e2e_tl[@]}" | median)
row "N=100 end to end (layered, new db)" 100 2 "$(seconds "$m")" "$(seconds "$t")" \
  "$(awk -v m="$m" -v t="$t" 'BEGIN { printf "%.2f", t / m }')" "≤ 0.060 s" "$(verdict "$(seconds "$t")" 0.060)"
row "peak RSS ($max_rss_case)" 10000 "" "" "$(awk -v k="$max_rss" 'BEGIN { printf "%.1f MB", k / 1024 }')" "" "≤ 30 MB" \
  "$(verdict "$max_rss" $((30 * 1024)))"
row "most attempts running at once ≤ P (every run)" "" "" "" "" "" "never > P" \
  "$([ $all_parallel_ok = 1 ] && echo pass || echo FAIL)"
row "2N transitions in the db at exit (every run)" "" "" "" "" "" "all 2N" \
  "$([ $transitions_ok = 1 ] && echo pass || echo FAIL)"

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| case | N | P | make -jP (s) | techlead (s) | ratio | target | result |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
[ -z "$transitions_note" ] || echo "missing transitions:$transitions_note"
fails=$(printf '%s\n' "${rows[@]}" | grep -c '| FAIL |' || true)
echo "$fails target(s) missed"
