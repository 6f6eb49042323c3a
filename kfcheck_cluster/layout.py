"""Where the embedded cluster keeps its things, and the pinned versions it is built from.

Two roots: the cache (`$KFCHECK_CACHE`, default ~/.cache/kfcheck) survives `make down` and holds what
is expensive to make again (Go caches, binaries, the registry's storage, buildah's storage, the venv);
the state (`$KFCHECK_STATE`, default ~/.local/state/kfcheck) is the running cluster and is removed by
`make down`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from kfcheck.core.config import state_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
CLUSTER_DIR = REPO_ROOT / "cluster"
IMAGES_DIR = REPO_ROOT / "images"

# Networks that exist only inside this machine.
NODE_NAME = "kfcheck-node"
NODE_IP = "10.250.0.1"  # on the portless bridge below, never on the machine's own interface
NODE_INTERFACE = "kfcheck0"
CLUSTER_DNS_IP = "169.254.20.10"  # CoreDNS, also on that bridge
POD_CIDR = "10.244.0.0/16"
NODE_POD_CIDR = "10.244.0.0/24"
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
REGISTRY = "127.0.0.1:5000"
IN_CLUSTER_REGISTRY = "registry.kube-system.svc.cluster.local:5000"


def read_versions(path: Path = CLUSTER_DIR / "versions.env") -> dict[str, str]:
    """Parses versions.env (KEY=VALUE lines, # comments)."""
    versions: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path}: line {raw!r} is not KEY=VALUE")
        versions[key.strip()] = value.strip()
    return versions


@dataclass(frozen=True)
class Layout:
    cache: Path
    state: Path

    @classmethod
    def from_env(cls) -> Layout:
        home = Path.home()
        cache = Path(os.environ.get("KFCHECK_CACHE", home / ".cache" / "kfcheck"))
        state = state_dir()
        return cls(cache=cache.resolve(), state=state.resolve())

    @cached_property
    def versions(self) -> dict[str, str]:
        return read_versions()

    # --- cache -----------------------------------------------------------------------------------
    @property
    def bin_root(self) -> Path:
        return self.cache / "bin"

    def binary(self, component: str, name: str) -> Path:
        """Path of a built binary, e.g. binary("kubernetes", "kubelet")."""
        key = component.upper().replace("-", "_") + "_VERSION"
        return self.bin_root / f"{component}-{self.versions[key]}" / name

    @property
    def registry_storage(self) -> Path:
        return self.cache / "registry"

    @property
    def buildah_root(self) -> Path:
        return self.cache / "buildah"

    @property
    def image_stamps(self) -> Path:
        return self.cache / "images"

    # --- state -----------------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def run(self) -> Path:
        """PID files of the processes this cluster started."""
        return self.state / "run"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def config(self) -> Path:
        return self.state / "config"

    @property
    def containerd_socket(self) -> Path:
        return self.state / "containerd" / "containerd.sock"

    @property
    def volumes(self) -> Path:
        return self.state / "volumes"
