#!/usr/bin/env bash
# The engine against make: generated missions of N tasks and the equivalent
# Makefiles (phony targets, the same dependencies, the same programs), run by
# `make -jP` and by `techlead run` on a fresh database, in the same run,
# alternating, median of several runs. See the "Engine" section of
# bench/README.md for the targets and the figures.
#
# Usage: bench/engine.sh [full|quick]
#   full   (default) chain, wide, layered, diamond at N = 1,000 and 10,000,
#          P = 2; `sleep 0.01` wide N = 10,000 P = 8; N = 100 end to end.
#          About 10 minutes on 2 cores.
#   quick  N = 1,000 for every shape, layered N = 10,000 once (RSS and
#          transitions), `sleep 0.01` wide N = 1,000 P = 8, N = 100 end to
#          end. About a minute.
# Environment: RUNS (repetitions for N <= 1,000; default 5), RUNS_BIG (for
# N = 10,000; default 3), RUNS_E2E (N = 100; default 21), BENCH_DIR (where
# the databases and attempt directories go; default a temporary directory
# under $TMPDIR, which should be a real disk, not tmpfs: fsync is the point),
# KEEP=1 keeps that directory.
#
# A task's commit is durable (synchronous=FULL, one transaction per
# scheduler turn); its attempt directory holds prompt.md and output.log.
# Nothing is deleted until the end: ext4 makes inode allocation slow for
# ~30 s after many deletions, which would charge one run for the last.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-full}
case $mode in
  full) runs=${RUNS:-5}; runs_big=${RUNS_BIG:-3}; sizes="1000 10000"; sleep_n=10000 ;;
  quick) runs=${RUNS:-3}; runs_big=${RUNS_BIG:-1}; sizes="1000"; sleep_n=1000 ;;
  *) echo "usage: bench/engine.sh [full|quick]" >&2; exit 2 ;;
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
cp target/release/techlead "$bin"
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

echo "techlead engine vs GNU make, mode $mode, $(nproc) cores, $(date -u +%F), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.lock || echo ' + uncommitted changes')" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

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
