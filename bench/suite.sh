#!/usr/bin/env bash
# Times the suite per feature against the running cluster (make up first) and prints each wall time.
# Usage: bench/suite.sh [feature ...]   (default: every feature)
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
export KUBECONFIG=${KUBECONFIG:-${KFCHECK_STATE:-$HOME/.local/state/kfcheck}/kubeconfig} PYTHONPATH=$PWD
features=("$@")
[ ${#features[@]} -gt 0 ] || features=(features/*.feature)
for feature in "${features[@]}"; do
  start=$(date +%s.%N)
  if "$cache/venv/bin/radish" "$feature" -b radish --no-ansi > /tmp/kfcheck-bench-suite.log 2>&1; then verdict=passed; else verdict=FAILED; fi
  end=$(date +%s.%N)
  printf '%-40s %6.1f s  %s  %s\n' "$feature" "$(awk "BEGIN {print $end - $start}")" "$verdict" "$(grep -E '^[0-9]+ scenarios' /tmp/kfcheck-bench-suite.log)"
done
