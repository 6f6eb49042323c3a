#!/usr/bin/env bash
# Times a warm `make up` (cluster down, every cache present) and prints cache sizes and peak memory.
# Destructive: it runs `make down` first. Usage: bench/cluster_up.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}
make --no-print-directory down >/dev/null
/usr/bin/time -f "%e %M" -o /tmp/kfcheck-bench-up make --no-print-directory up > /tmp/kfcheck-bench-up.log
read -r seconds max_kb < /tmp/kfcheck-bench-up
echo "warm make up (cluster + Kubeflow components): ${seconds} s; peak RSS of the up process tree's largest: $((max_kb / 1024)) MiB"
grep -E "Ready after|components ready" /tmp/kfcheck-bench-up.log || true
used_mib=$(free -m | awk '/^Mem:/ {print $3}')
echo "memory in use with the cluster up (free -m, used): ${used_mib} MiB"
for dir in go/mod go/build bin registry buildah venv data; do
  printf 'cache %-10s %s\n' "$dir" "$(du -sh "$cache/$dir" 2>/dev/null | cut -f1)"
done
printf 'cache %-10s %s\n' total "$(du -sh "$cache" | cut -f1)"
