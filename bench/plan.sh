#!/usr/bin/env bash
# Times `techlead plan` from a cold process start: on the web platform
# example, and on generated layered missions of 1,000 and 10,000 tasks
# (10 layers, each task depending on 2 tasks of the previous layer).
# Usage: bench/plan.sh [runs]   (default 20 runs per case)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release -q -p techlead-cli
bin=target/release/techlead
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

generate() { # tasks → mission file on stdout
  awk -v n="$1" 'BEGIN {
    srand(42); layers = 10; per = int(n / layers)
    print "mission:\n  name: generated-" n "\n  defaults: {max_parallel: 8}\ntasks:"
    for (i = 0; i < n; i++) {
      layer = int(i / per)
      printf "  - {id: T%05d, title: Implement part %d of the service, estimate: %d", i, i, 1 + i % 4
      if (layer > 0) {
        a = (layer - 1) * per + int(rand() * per); b = (layer - 1) * per + int(rand() * per)
        printf ", depends_on: [T%05d, T%05d]", a, b
      }
      print "}"
    }
  }'
}

# Milliseconds for one run of the command, from exec to exit.
time_ms() {
  local start end
  start=$(date +%s%N)
  "$@" > /dev/null 2>&1
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

report() { # name, command...
  local name=$1; shift
  local times=()
  for _ in $(seq "$runs"); do times+=("$(time_ms "$@")"); done
  local sorted; sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  local min median max
  min=$(echo "$sorted" | head -1)
  median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
  max=$(echo "$sorted" | tail -1)
  local rss
  /usr/bin/time -f '%M' -o "$work/rss" "$@" > /dev/null 2>&1 || true
  rss=$(tail -1 "$work/rss")
  printf '%-34s min %5s ms  median %5s ms  max %5s ms  peak RSS %s KB\n' "$name" "$min" "$median" "$max" "$rss"
}

generate 1000 > "$work/m1k.yaml"
generate 10000 > "$work/m10k.yaml"
agents=examples/web-platform/.claude/agents

echo "techlead plan, $runs cold runs each, $(nproc) cores"
report "web-platform example" "$bin" plan examples/web-platform/mission.yaml
report "validate web-platform example" "$bin" validate examples/web-platform/mission.yaml
report "1,000 tasks, agents ranked" "$bin" plan "$work/m1k.yaml" --agents "$agents" --json
report "10,000 tasks, agents ranked" "$bin" plan "$work/m10k.yaml" --agents "$agents" --json
