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


RELEASES_DIR = CLUSTER_DIR / "releases"
RELEASE_KEYS = ("TRAINING_OPERATOR_VERSION", "TRAINER_VERSION", "JOBSET_VERSION", "NOTEBOOKS_VERSION")


class UnknownRelease(ValueError):
    """A Kubeflow release set that is neither a name in cluster/releases/ nor a release set file."""


def known_releases() -> list[str]:
    return sorted(path.stem for path in RELEASES_DIR.glob("*.env"))


def release_file(release: str) -> Path:
    """cluster/releases/<release>.env, or a release set file of your own (a path ending in .env)."""
    if release.endswith(".env") and Path(release).is_file():
        return Path(release).resolve()
    path = RELEASES_DIR / f"{release}.env"
    if "/" in release or not path.is_file():
        raise UnknownRelease(f"unknown Kubeflow release set '{release}': known are {', '.join(known_releases())} "
                             "(cluster/releases/), or give the path of a release set file (NAME.env)")  # fmt: skip
    return path


def read_release(release: str) -> dict[str, str]:
    """A release set's versions (an empty version: the release does not ship that component)."""
    path = release_file(release)
    versions = read_versions(path)
    missing = [key for key in RELEASE_KEYS if key not in versions]
    if missing:
        raise UnknownRelease(f"{path} does not say {', '.join(missing)} (an empty value: not in this release)")
    return {key: value.strip('"') for key, value in versions.items()}


def default_release() -> str:
    return os.environ.get("KUBEFLOW_RELEASE") or read_versions()["KUBEFLOW_RELEASE"]


@dataclass(frozen=True)
class Layout:
    cache: Path
    state: Path
    release: str = ""  # the Kubeflow release set (cluster/releases/); empty: KUBEFLOW_RELEASE or versions.env's

    @classmethod
    def from_env(cls, release: str | None = None) -> Layout:
        home = Path.home()
        cache = Path(os.environ.get("KFCHECK_CACHE", home / ".cache" / "kfcheck"))
        state = state_dir()
        release = release or default_release()
        if release.endswith(".env") and Path(release).is_file():
            release = str(Path(release).resolve())
        return cls(cache=cache.resolve(), state=state.resolve(), release=release)

    @cached_property
    def versions(self) -> dict[str, str]:
        """versions.env, with the Kubeflow components' versions of the release set."""
        return {**read_versions(), **read_release(self.release or default_release())}

    @property
    def release_file(self) -> Path:
        return release_file(self.release or default_release())

    @property
    def release_name(self) -> str:
        """The release set's name (a release set file's stem)."""
        return Path(self.release or default_release()).name.removesuffix(".env")

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
