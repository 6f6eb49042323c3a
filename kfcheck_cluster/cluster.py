"""The embedded single-node cluster: `up` (idempotent) and `down`.

Every component is a host process started from a binary built by cluster/build-binaries.sh, tracked
by PID file and logging to $KFCHECK_STATE/logs. `up` builds what is missing, starts what is not
running and waits until the node is Ready; a run after `kill -9` of everything or after a crashed
`up` recovers because each step checks what is there before it acts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from pathlib import Path

from kfcheck_cluster import host, images, kubeflow, network, pki, profile, releases
from kfcheck_cluster.components import BY_NAME, COMPONENTS, PORTS, Component
from kfcheck_cluster.layout import IN_CLUSTER_REGISTRY, NODE_NAME, REGISTRY, Layout
from kfcheck_cluster.processes import (
    ClusterError,
    HostProcess,
    ProcessExited,
    log_tail,
    running_pid,
    start,
    stop,
    stop_pid,
    untracked_instances,
    wait_until,
)
from kfcheck_cluster.tools import kubectl, write_config


def log(message: str) -> None:
    print(f"[kfcheck up {time.strftime('%H:%M:%S')}] {message}", flush=True)


def processes(layout: Layout) -> dict[str, HostProcess]:
    return {component.name: component.process(layout) for component in COMPONENTS}


def check_port_free(name: str, layout: Layout) -> None:
    """Before starting `name`: its ports must be free (its own earlier instance is not running)."""
    for address, port in PORTS.get(name, []):
        if host.port_in_use(address, port):
            raise ClusterError(
                f"port {address}:{port} is in use by another program, so {name} cannot start; "
                f"free it (`ss -ltnp 'sport = :{port}'` shows who holds it) or run `make down` first"
            )


def ensure_node_configs(layout: Layout) -> None:
    write_config(layout, "config/containerd.toml", layout.config / "containerd.toml")
    write_config(layout, "config/kubelet.yaml", layout.config / "kubelet.yaml")
    write_config(layout, "config/Corefile", layout.config / "Corefile")
    write_config(layout, "config/cni.conflist", layout.state / "cni" / "net.d" / "10-kfcheck.conflist")
    (layout.config / "resolv.conf").write_text("")
    for registry in (REGISTRY, IN_CLUSTER_REGISTRY):
        target = layout.state / "containerd" / "certs.d" / registry / "hosts.toml"
        write_config(layout, "config/registry-hosts.toml", target, name=registry)
    for directory in ("etcd", "kubelet", "pod-logs", "cni/ipam", "volumes"):
        (layout.state / directory).mkdir(parents=True, exist_ok=True)
    (layout.state / "etcd").chmod(0o700)


def start_checked(layout: Layout, name: str) -> HostProcess:
    """Starts the component unless it runs. An untracked instance of it (still shutting down after a
    stop, or its PID file lost) is stopped first, so that it releases the component's ports."""
    process = BY_NAME[name].process(layout)
    if running_pid(process, layout) is None:
        for pid in untracked_instances(process, layout):
            log(f"{name}: an earlier instance (pid {pid}) is still there; stopping it first")
            stop_pid(pid, grace_seconds=30)
        check_port_free(name, layout)
        start(process, layout)
    return process


def start_ready(layout: Layout, component: Component) -> HostProcess:
    """Starts the component and waits until it is ready. An instance that was already running but exits
    during the wait (it was shutting down) is replaced once; one started here that exits is an error."""
    was_running = running_pid(component.process(layout), layout) is not None
    if component.before is not None:
        component.before(layout)
    process = start_checked(layout, component.name)
    if component.ready is None:
        return process
    what, check, timeout = component.ready
    try:
        wait_until(what, lambda: check(layout), timeout, process, layout)
    except ProcessExited:
        if not was_running:
            raise
        log(f"{component.name} was shutting down; starting it again")
        process = start_checked(layout, component.name)
        wait_until(what, lambda: check(layout), timeout, process, layout)
    return process


def up(
    layout: Layout,
    *,
    build: bool = True,
    with_kubeflow: bool = True,
    kubeflow_install: str = "helm",
    switch: bool = False,
) -> None:
    """Builds what is missing, starts what does not run, waits for the node (and Kubeflow, installed the way
    kubeflow_install names: `helm` or `manifests`) to be ready. With switch, a cluster that has the other
    install is taken down first (what `make down` does) instead of refused."""
    started = time.monotonic()
    running = kubeflow.recorded_install(layout)
    if with_kubeflow and switch and running not in (None, kubeflow_install):
        log(f"the cluster has the {running} install of Kubeflow: taking it down to install with {kubeflow_install}")
        down(layout)
    if with_kubeflow:
        kubeflow.check_install(layout, kubeflow_install)
    host.check_host()
    layout.state.mkdir(parents=True, exist_ok=True)
    if build:
        host.build_binaries(layout)
    host.check_binaries(layout)
    network.prepare_host(layout)
    images.ensure_registry(layout)
    start_ready(layout, BY_NAME["registry-node-forward"])
    for name in ("base", "pause"):
        images.build(name, layout)
    pki.ensure(layout)
    ensure_node_configs(layout)
    for component in COMPONENTS[1:]:
        start_ready(layout, component)
    wait_node_ready(layout)
    log(f"node {NODE_NAME} Ready after {time.monotonic() - started:.0f}s")
    if with_kubeflow:
        releases.install_release(layout, kubeflow_install)
        profile.apply_roles(layout)
        log(f"cluster with Kubeflow (release set {layout.release_name}) ready after {time.monotonic() - started:.0f}s")
    kubeflow.record_cluster(layout, kubeflow_install=kubeflow_install if with_kubeflow else None)


def wait_node_ready(layout: Layout, timeout: int = 180) -> None:
    """Waits (a watch through kubectl) for the node's Ready condition; names the kubelet's last words."""
    kubelet = BY_NAME["kubelet"].process(layout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(kubelet, layout) is None:
            raise ClusterError(f"kubelet exited; last lines of its log:\n{log_tail(kubelet, layout)}")
        try:
            kubectl(
                layout,
                "wait",
                f"node/{NODE_NAME}",
                "--for=condition=Ready",
                f"--timeout={max(1, min(10, int(deadline - time.monotonic())))}s",
            )
            return
        except ClusterError:
            continue
    raise ClusterError(f"node {NODE_NAME} not Ready after {timeout}s; kubelet log:\n{log_tail(kubelet, layout)}")


# --- down ------------------------------------------------------------------------------------------


def _pod_processes() -> list[int]:
    """Processes of pod containers: members of the kubelet's kubepods cgroups."""
    pids: set[int] = set()
    for root in Path("/sys/fs/cgroup/pids/kubepods"), Path("/sys/fs/cgroup/memory/kubepods"):
        if root.exists():
            for procs in root.rglob("cgroup.procs"):
                try:
                    pids.update(int(line) for line in procs.read_text().split())
                except OSError:
                    continue
    return sorted(pids)


def _shim_processes(layout: Layout) -> list[int]:
    socket_path = str(layout.containerd_socket)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and socket_path.encode() in b" ".join(cmdline):
            found.append(int(entry.name))
    return found


def _remove_cgroups() -> None:
    for controller in Path("/sys/fs/cgroup").iterdir():
        kubepods = controller / "kubepods"
        if kubepods.is_dir():
            for directory in sorted((p for p in kubepods.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                with contextlib.suppress(OSError):
                    directory.rmdir()
            with contextlib.suppress(OSError):
                kubepods.rmdir()


def _unmount_under(root: Path) -> None:
    prefix = str(root)
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mount_point = line.split()[4].encode().decode("unicode_escape")
        if mount_point == prefix or mount_point.startswith(prefix + "/"):
            mounts.append(mount_point)
    for mount_point in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)


def down(layout: Layout) -> None:
    """Stops every process this cluster started, by PID (the reverse of the start order; pod containers
    and their shims before containerd), and removes the cluster's state."""
    for component in reversed(COMPONENTS):
        if component.name == "containerd":  # pods' processes are not children of anything we track
            for pid in _pod_processes():
                stop_pid(pid, grace_seconds=0)
            for pid in _shim_processes(layout):
                stop_pid(pid, grace_seconds=2)
        stop(component.process(layout), layout)
    kube_proxy = layout.binary("kubernetes", "kube-proxy")
    if kube_proxy.exists():
        subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True, check=False)
    stop(images.registry_process(layout), layout)
    network.teardown_host(layout)
    _remove_cgroups()
    _unmount_under(layout.state)
    if layout.state.exists():
        shutil.rmtree(layout.state, ignore_errors=True)
    if layout.state.exists():
        raise ClusterError(f"could not remove {layout.state} completely; check `findmnt -R {layout.state}`")


def status(layout: Layout) -> str:
    lines = []
    for name, process in {**processes(layout), "registry": images.registry_process(layout)}.items():
        pid = running_pid(process, layout)
        lines.append(f"{name:25} {'running pid ' + str(pid) if pid else 'stopped'}")
    return "\n".join(lines)
