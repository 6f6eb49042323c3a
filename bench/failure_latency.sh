#!/usr/bin/env bash
# How long a failing wait takes to report its cause: the MNIST PyTorchJob scenario with an image that
# does not exist in the registry (its training timeout is 1800 s). Prints the failing step's duration,
# the run's wall time and the error the step reported. Needs the running cluster (make up).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
export KUBECONFIG=${KUBECONFIG:-${KFCHECK_STATE:-$HOME/.local/state/kfcheck}/kubeconfig} PYTHONPATH=$PWD
out=$(mktemp -d /tmp/kfcheck-bench-failure.XXXXXX)
start=$(date +%s.%N)
"$cache/venv/bin/radish" features/pytorchjob.feature --tags slow -b radish --no-ansi \
  -u pytorch_image=127.0.0.1:5000/no-such-image:1 --cucumber-json "$out/cucumber.json" > "$out/radish.log" 2>&1 || true
end=$(date +%s.%N)
"$cache/venv/bin/python" - "$out/cucumber.json" "$(awk "BEGIN {print $end - $start}")" <<'PY'
import json
import sys

steps = json.load(open(sys.argv[1]))[0]["elements"][0]["steps"]
failed = [step for step in steps if step["result"]["status"] == "failed"]
if not failed:
    sys.exit("no step failed: the bad image was not noticed")
step = failed[0]
print(f"failing step: {step['keyword']}{step['name']}")
print(f"  reported its cause after {step['result']['duration'] / 1e9:.1f} s (radish run: {float(sys.argv[2]):.1f} s)")
print(f"  error: {step['result']['error_message'].splitlines()[0][:300]}")
PY
echo "logs: $out"
