"""What the machine must offer the embedded cluster, and the host-side probes `up` waits on."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc

from kfcheck_cluster.layout import CLUSTER_DIR, Layout
from kfcheck_cluster.processes import ClusterError


def check_host() -> None:
    """Kernel and packages the node needs; each missing piece is named with its fix."""
    problems = []
    if os.geteuid() != 0:
        problems.append("the embedded cluster runs as root (kubelet, containerd, iptables)")
    for tool in ("containerd", "runc", "iptables", "conntrack", "socat", "buildah", "mmdebstrap", "docker-registry"):
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` is missing: run `make setup`")
    if not Path("/usr/lib/cni/bridge").exists():
        problems.append("CNI plugins are missing (/usr/lib/cni/bridge): run `make setup`")
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append("the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)")
    for controller in ("cpu", "cpuacct", "cpuset", "memory", "pids"):
        if not Path(f"/sys/fs/cgroup/{controller}").exists() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
            problems.append(f"cgroup controller {controller} is not mounted under /sys/fs/cgroup")
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        problems.append("br_netfilter is not active (/proc/sys/net/bridge missing): Services need it")
    if problems:
        raise ClusterError("this machine cannot run the embedded cluster:\n- " + "\n- ".join(problems))


def build_binaries(layout: Layout, components: list[str] | None = None) -> None:
    argv = [str(CLUSTER_DIR / "build-binaries.sh"), *(components or [])]
    env = {**os.environ, "KFCHECK_CACHE": str(layout.cache), "KUBEFLOW_RELEASE": str(layout.release_file)}
    result = subprocess.run(argv, env=env, check=False)
    if result.returncode != 0:
        raise ClusterError(f"building the cluster's binaries failed ({' '.join(argv)}); see its output above")


def check_binaries(layout: Layout) -> None:
    wanted = [("kubernetes", "kube-apiserver"), ("kubernetes", "kubelet"), ("etcd", "etcd"), ("coredns", "coredns")]
    missing = [str(layout.binary(*item)) for item in wanted if not layout.binary(*item).exists()]
    if missing:
        raise ClusterError("binaries missing after the build step: " + ", ".join(missing))


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def unix_socket_answers(path: Path) -> bool:
    """True when something accepts connections on the socket (a file left by a killed run does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(str(path)) == 0


def cri_answers(path: Path) -> bool:
    """True when containerd's CRI service answers a Version call. Its socket accepts connections before the
    CRI plugin has restored its state; until then every call fails with "server is not initialized yet" and a
    kubelet started then exits at once."""
    if not unix_socket_answers(path):
        return False
    with grpc.insecure_channel(f"unix://{path}") as channel:
        version = channel.unary_unary("/runtime.v1.RuntimeService/Version")  # an empty VersionRequest is b""
        try:
            version(b"", timeout=2)
        except grpc.RpcError:
            return False
    return True


def https_ok(url: str, layout: Layout) -> bool:
    context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
    context.load_cert_chain(
        str(layout.pki / "apiserver-kubelet-client.crt"), str(layout.pki / "apiserver-kubelet-client.key")
    )
    try:
        with urllib.request.urlopen(url, timeout=3, context=context) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
