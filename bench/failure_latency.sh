#!/usr/bin/env bash
# How long a failing wait takes to report its cause: the MNIST PyTorchJob scenario with an image that
# does not exist in the registry (its training timeout is 1800 s). Prints the run's wall time and, from
# `kfcheck report`, the failed step with how long it ran and its error. Needs the running cluster (make up).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
export KUBECONFIG=${KUBECONFIG:-${KFCHECK_STATE:-$HOME/.local/state/kfcheck}/kubeconfig}
out=$(mktemp -d /tmp/kfcheck-bench-failure.XXXXXX)
start=$(date +%s.%N)
"$cache/venv/bin/radish" features/pytorchjob.feature --tags slow -b radish --no-ansi \
  -u pytorch_image=127.0.0.1:5000/no-such-image:1 --cucumber-json "$out/cucumber.json" > "$out/radish.log" 2>&1 || true
printf 'radish run: %.1f s (logs: %s)\n' "$(awk "BEGIN {print $(date +%s.%N) - $start}")" "$out"
"$cache/venv/bin/python" -m kfcheck report --no-html "$out/cucumber.json"
