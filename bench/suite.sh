#!/usr/bin/env bash
# Times the suite per feature against the running cluster (make up first) and prints each wall time.
# Usage: bench/suite.sh [feature ...]   (default: every feature)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
export KUBECONFIG=${KUBECONFIG:-${KFCHECK_STATE:-$HOME/.local/state/kfcheck}/kubeconfig}
logs=${BENCH_LOGS:-/tmp/kfcheck-bench-suite}  # each feature's console log and cucumber JSON stay here
mkdir -p "$logs"
features=("$@")
[ ${#features[@]} -gt 0 ] || features=(features/*.feature)
for feature in "${features[@]}"; do
  start=$(date +%s.%N)
  name=$(basename "$feature" .feature)
  if "$cache/venv/bin/radish" "$feature" -b radish --no-ansi --cucumber-json "$logs/$name.json" > "$logs/$name.log" 2>&1
  then verdict=passed; else verdict=FAILED; fi
  end=$(date +%s.%N)
  printf '%-40s %6.1f s  %s  %s\n' "$feature" "$(awk "BEGIN {print $end - $start}")" "$verdict" "$(grep -E '^[0-9]+ scenarios' "$logs/$name.log")"
done
