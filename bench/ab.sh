#!/usr/bin/env bash
# Alternating wall times: make -jP and one or more techlead builds on the
# same generated mission, each run in a fresh directory, the medians at
# the end. For comparing two builds on a noisy machine, where separate
# runs of bench/engine.sh differ by more than the change measured.
#
# Usage: bench/ab.sh SHAPE N P RUNS BINARY:LABEL...
#   e.g. bench/ab.sh wide 1000 2 11 /tmp/before:before target/release/techlead:after
#
# Runs are moved under $AB_DIR (default /tmp/techlead-ab) rather than
# deleted: deleting thousands of files makes the next runs' file creation
# slower on ext4 (bench/README.md, session 16). Remove it when done.
set -euo pipefail
[ $# -ge 5 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
shape=$1 n=$2 p=$3 runs=$4
shift 4
# The mission and Makefile generator and the median, as engine.sh has them.
source <(sed -n '/^generate()/,/^}/p; /^now_ns()/p; /^median()/p' "$(dirname "$0")/engine.sh")
root=${AB_DIR:-/tmp/techlead-ab}/$$
mkdir -p "$root/src"
generate yaml "$shape" "$n" "$p" true > "$root/src/mission.yaml"
generate make "$shape" "$n" "$p" true > "$root/src/Makefile"
declare -A times
for k in $(seq "$runs"); do
  dir=$root/make-$k; mkdir -p "$dir"; cp "$root/src/Makefile" "$dir/"
  start=$(now_ns); make -r -s -j"$p" -C "$dir" > /dev/null; end=$(now_ns)
  times[make]+="$(((end - start) / 1000000)) "
  for spec in "$@"; do
    bin=${spec%%:*} label=${spec##*:}
    dir=$root/$label-$k; mkdir -p "$dir"
    start=$(now_ns)
    "$bin" run "$root/src/mission.yaml" --db "$dir/db" --json > /dev/null 2> "$dir/stderr" \
      || { echo "$label failed:" >&2; cat "$dir/stderr" >&2; exit 1; }
    end=$(now_ns)
    times[$label]+="$(((end - start) / 1000000)) "
  done
done
for label in make "${@##*:}"; do
  values=$(tr ' ' '\n' <<< "${times[$label]}" | sed '/^$/d')
  echo "$label: $(sort -n <<< "$values" | tr '\n' ' ')median $(median <<< "$values") ms"
done
