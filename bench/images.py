"""Rebuilds images from their caches (Go build cache, buildah layers) and prints build time and size.

Usage: python bench/images.py [image ...]   (default: every image but base and base-trixie, whose
rootfs is made afresh by mmdebstrap on every build). The registry must run (`make up`). Cold build times are
the `[images] <name> pushed ... in Ns` lines of the first `make up` on an empty cache.
"""

from __future__ import annotations

import sys
import time

from kfcheck_cluster import images
from kfcheck_cluster.layout import Layout


def main(names: list[str]) -> int:
    layout = Layout.from_env()
    if not images.registry_answers():
        print("the local registry does not answer on 127.0.0.1:5000: run `make up` first", file=sys.stderr)
        return 1
    for name in names or [name for name in images.image_names() if name not in ("base", "base-trixie")]:
        started = time.monotonic()
        images.build(name, layout, force=True, log=False)
        seconds = time.monotonic() - started
        size_mb = images.image_size(name) / 1e6
        print(f"{name:20s} cached rebuild {seconds:6.1f} s   {size_mb:7.1f} MB compressed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
