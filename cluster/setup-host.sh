#!/usr/bin/env bash
# Installs what the embedded cluster and the image builds need from Debian's packages, and the
# Python environment of the suite into $KFCHECK_CACHE/venv. Idempotent: installs only what is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${KFCHECK_CACHE:-$HOME/.cache/kfcheck}

packages=(containerd runc containernetworking-plugins iptables conntrack ipset socat ethtool
  mmdebstrap debootstrap buildah docker-registry skopeo busybox-static openssl uidmap fuse-overlayfs
  ca-certificates curl)
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

if ! command -v go >/dev/null; then
  echo "[setup] Go is required (the cluster builds from Go modules); install Go >= 1.24" >&2
  exit 1
fi

venv=$cache/venv
stamp=$venv/.requirements.sha256
want=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] Python environment in $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
