"""The embedded single-node cluster: `up` (idempotent) and `down`.

Every component is a host process started from a binary built by cluster/build-binaries.sh, tracked
by PID file and logging to $KFCHECK_STATE/logs. `up` builds what is missing, starts what is not
running and waits until the node is Ready; a run after `kill -9` of everything or after a crashed
`up` recovers because each step checks what is there before it acts.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from string import Template

from kfcheck.embedded import images, kubeflow, network, trainer
from kfcheck.embedded.layout import (
    CLUSTER_DIR,
    CLUSTER_DNS_IP,
    CLUSTER_DOMAIN,
    IN_CLUSTER_REGISTRY,
    NODE_IP,
    NODE_NAME,
    NODE_POD_CIDR,
    POD_CIDR,
    REGISTRY,
    SERVICE_CIDR,
    Layout,
)
from kfcheck.embedded.processes import (
    ClusterError,
    HostProcess,
    log_tail,
    run,
    running_pid,
    start,
    stop,
    stop_pid,
    wait_until,
)

# Ports a running cluster holds; a clash with something else is reported before anything starts.
PORTS = {
    "etcd": [("127.0.0.1", 2379), ("127.0.0.1", 2380)],
    "kube-apiserver": [(NODE_IP, 6443)],
    "kube-controller-manager": [("127.0.0.1", 10257)],
    "kube-scheduler": [("127.0.0.1", 10259)],
    "kubelet": [(NODE_IP, 10250), ("127.0.0.1", 10248)],
    "kube-proxy": [("127.0.0.1", 10249), ("127.0.0.1", 10256)],
    "coredns": [("127.0.0.1", 18088), ("127.0.0.1", 18181)],
    "registry": [("127.0.0.1", 5000)],
    "registry-node-forward": [(NODE_IP, 5000)],
}


def log(message: str) -> None:
    print(f"[kfcheck up {time.strftime('%H:%M:%S')}] {message}", flush=True)


def substitutions(layout: Layout) -> dict[str, str]:
    return {
        "state": str(layout.state),
        "cache": str(layout.cache),
        "node_ip": NODE_IP,
        "node_name": NODE_NAME,
        "node_pod_cidr": NODE_POD_CIDR,
        "pod_cidr": POD_CIDR,
        "service_cidr": SERVICE_CIDR,
        "cluster_dns_ip": CLUSTER_DNS_IP,
        "cluster_domain": CLUSTER_DOMAIN,
        "registry": REGISTRY,
        "kubernetes_version": layout.versions["KUBERNETES_VERSION"],
    }


def render(template_name: str, layout: Layout, **extra: str) -> str:
    text = (CLUSTER_DIR / template_name).read_text()
    return Template(text).substitute({**substitutions(layout), **extra})


def write_config(layout: Layout, template_name: str, target: Path, **extra: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(template_name, layout, **extra))
    return target


# --- processes -------------------------------------------------------------------------------------


def k8s(layout: Layout, name: str) -> str:
    return str(layout.binary("kubernetes", name))


def kubeconfig_for(layout: Layout, component: str) -> str:
    return str(layout.state / "kubeconfigs" / f"{component}.conf")


def processes(layout: Layout) -> dict[str, HostProcess]:
    pki = layout.pki
    state = layout.state
    return {
        "etcd": HostProcess(
            "etcd",
            [
                str(layout.binary("etcd", "etcd")),
                "--name=kfcheck",
                f"--data-dir={state / 'etcd'}",
                "--listen-client-urls=http://127.0.0.1:2379",
                "--advertise-client-urls=http://127.0.0.1:2379",
                "--listen-peer-urls=http://127.0.0.1:2380",
                "--initial-advertise-peer-urls=http://127.0.0.1:2380",
                "--initial-cluster=kfcheck=http://127.0.0.1:2380",
                "--listen-metrics-urls=http://127.0.0.1:2381",
                "--quota-backend-bytes=4294967296",
            ],
        ),
        "kube-apiserver": HostProcess(
            "kube-apiserver",
            [
                k8s(layout, "kube-apiserver"),
                f"--advertise-address={NODE_IP}",
                f"--bind-address={NODE_IP}",
                "--secure-port=6443",
                "--etcd-servers=http://127.0.0.1:2379",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
                f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
                f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
                f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-username-headers=X-Remote-User",
                "--profiling=false",
            ],
        ),
        "kube-controller-manager": HostProcess(
            "kube-controller-manager",
            [
                k8s(layout, "kube-controller-manager"),
                f"--kubeconfig={kubeconfig_for(layout, 'controller-manager')}",
                f"--authentication-kubeconfig={kubeconfig_for(layout, 'controller-manager')}",
                f"--authorization-kubeconfig={kubeconfig_for(layout, 'controller-manager')}",
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                "--use-service-account-credentials=true",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allocate-node-cidrs=true",
                f"--cluster-cidr={POD_CIDR}",
                "--node-cidr-mask-size=24",
                "--controllers=*,bootstrapsigner,tokencleaner",
                "--profiling=false",
            ],
        ),
        "kube-scheduler": HostProcess(
            "kube-scheduler",
            [
                k8s(layout, "kube-scheduler"),
                f"--kubeconfig={kubeconfig_for(layout, 'scheduler')}",
                f"--authentication-kubeconfig={kubeconfig_for(layout, 'scheduler')}",
                f"--authorization-kubeconfig={kubeconfig_for(layout, 'scheduler')}",
                "--bind-address=127.0.0.1",
                "--leader-elect=false",
                "--profiling=false",
            ],
        ),
        "containerd": HostProcess(
            "containerd", ["/usr/bin/containerd", f"--config={layout.config / 'containerd.toml'}"]
        ),
        "kubelet": HostProcess(
            "kubelet",
            [
                k8s(layout, "kubelet"),
                f"--config={layout.config / 'kubelet.yaml'}",
                f"--kubeconfig={kubeconfig_for(layout, 'kubelet')}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                f"--root-dir={state / 'kubelet'}",
                f"--cert-dir={state / 'kubelet' / 'pki'}",
            ],
        ),
        "kube-proxy": HostProcess(
            "kube-proxy",
            [
                k8s(layout, "kube-proxy"),
                f"--kubeconfig={kubeconfig_for(layout, 'kube-proxy')}",
                f"--hostname-override={NODE_NAME}",
                f"--cluster-cidr={POD_CIDR}",
                "--proxy-mode=iptables",
                "--conntrack-max-per-core=0",
                f"--nodeport-addresses={NODE_IP}/32",
                "--metrics-bind-address=127.0.0.1:10249",
                "--healthz-bind-address=127.0.0.1:10256",
            ],
        ),
        "coredns": HostProcess(
            "coredns", [str(layout.binary("coredns", "coredns")), "-conf", str(layout.config / "Corefile")]
        ),
        "registry-node-forward": HostProcess(
            "registry-node-forward",
            [
                "/usr/bin/socat",
                f"TCP-LISTEN:5000,bind={NODE_IP},fork,reuseaddr",
                "TCP:127.0.0.1:5000",
            ],
        ),
        "provisioner": HostProcess(
            "provisioner",
            [
                _python(),
                "-m",
                "kfcheck.embedded.provisioner",
                f"--kubeconfig={layout.kubeconfig}",
                f"--volumes={layout.volumes}",
            ],
            env={"PYTHONPATH": str(CLUSTER_DIR.parent)},
        ),
    }


def _python() -> str:
    import sys

    return sys.executable


# --- checks ----------------------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def check_port_free(name: str, layout: Layout) -> None:
    """Before starting `name`: its ports must be free (its own earlier instance is not running)."""
    for host, port in PORTS.get(name, []):
        if port_in_use(host, port):
            raise ClusterError(
                f"port {host}:{port} is in use by another program, so {name} cannot start; "
                f"free it (`ss -ltnp 'sport = :{port}'` shows who holds it) or run `make down` first"
            )


def unix_socket_answers(path: Path) -> bool:
    """True when something accepts connections on the socket (a file left by a killed run does not)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(str(path)) == 0


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
    filesystems = Path("/proc/filesystems").read_text()
    if "overlay" not in filesystems:
        problems.append("the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)")
    for controller in ("cpu", "cpuacct", "cpuset", "memory", "pids"):
        if not Path(f"/sys/fs/cgroup/{controller}").exists() and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
            problems.append(f"cgroup controller {controller} is not mounted under /sys/fs/cgroup")
    if not Path("/proc/sys/net/bridge/bridge-nf-call-iptables").exists():
        problems.append("br_netfilter is not active (/proc/sys/net/bridge missing): Services need it")
    if problems:
        raise ClusterError("this machine cannot run the embedded cluster:\n- " + "\n- ".join(problems))


def check_binaries(layout: Layout) -> None:
    missing = [
        str(path)
        for path in (
            layout.binary("kubernetes", "kube-apiserver"),
            layout.binary("kubernetes", "kubelet"),
            layout.binary("etcd", "etcd"),
            layout.binary("coredns", "coredns"),
        )
        if not path.exists()
    ]
    if missing:
        raise ClusterError("binaries missing after the build step: " + ", ".join(missing))


# --- steps -----------------------------------------------------------------------------------------


def build_binaries(layout: Layout, components: list[str] | None = None) -> None:
    argv = [str(CLUSTER_DIR / "build-binaries.sh"), *(components or [])]
    env = {**os.environ, "KFCHECK_CACHE": str(layout.cache)}
    result = subprocess.run(argv, env=env, check=False)
    if result.returncode != 0:
        raise ClusterError(f"building the cluster's binaries failed ({' '.join(argv)}); see its output above")


def ensure_pki(layout: Layout) -> None:
    """CA, serving and client certificates and the components' kubeconfigs, made by kubeadm phases."""
    kubeadm = k8s(layout, "kubeadm")
    config = write_config(layout, "config/kubeadm.yaml", layout.config / "kubeadm.yaml")
    kubeconfigs = layout.state / "kubeconfigs"
    kubeconfigs.mkdir(parents=True, exist_ok=True)
    if not (layout.pki / "sa.pub").exists() or not (layout.pki / "apiserver.crt").exists():
        run([kubeadm, "init", "phase", "certs", "all", f"--config={config}"], "kubeadm init phase certs")
    for phase, name in (
        ("admin", "admin"),
        ("super-admin", "super-admin"),
        ("kubelet", "kubelet"),
        ("controller-manager", "controller-manager"),
        ("scheduler", "scheduler"),
    ):
        target = kubeconfigs / f"{name}.conf"
        if not target.exists():
            run(
                [
                    kubeadm,
                    "init",
                    "phase",
                    "kubeconfig",
                    phase,
                    f"--config={config}",
                    f"--kubeconfig-dir={kubeconfigs}",
                ],
                f"kubeadm init phase kubeconfig {phase}",
            )
    for user, name in (("system:kube-proxy", "kube-proxy"), ("system:coredns", "coredns")):
        target = kubeconfigs / f"{name}.conf"
        if not target.exists():
            text = run(
                [kubeadm, "kubeconfig", "user", f"--config={config}", f"--client-name={user}"],
                f"kubeadm kubeconfig user {user}",
            )
            target.write_text(text)
            target.chmod(0o600)
    if not layout.kubeconfig.exists():
        shutil.copy(kubeconfigs / "admin.conf", layout.kubeconfig)
        layout.kubeconfig.chmod(0o600)


def ensure_node_configs(layout: Layout) -> None:
    write_config(layout, "config/containerd.toml", layout.config / "containerd.toml")
    write_config(layout, "config/kubelet.yaml", layout.config / "kubelet.yaml")
    write_config(layout, "config/Corefile", layout.config / "Corefile")
    write_config(layout, "config/cni.conflist", layout.state / "cni" / "net.d" / "10-kfcheck.conflist")
    (layout.config / "resolv.conf").write_text("")
    for host in (REGISTRY, IN_CLUSTER_REGISTRY):
        write_config(
            layout,
            "config/registry-hosts.toml",
            layout.state / "containerd" / "certs.d" / host / "hosts.toml",
            name=host,
        )
    for directory in ("etcd", "kubelet", "pod-logs", "cni/ipam", "volumes"):
        (layout.state / directory).mkdir(parents=True, exist_ok=True)
    (layout.state / "etcd").chmod(0o700)


def start_checked(layout: Layout, name: str) -> HostProcess:
    process = processes(layout)[name]
    if running_pid(process, layout) is None:
        check_port_free(name, layout)
        start(process, layout)
    return process


def kubectl(layout: Layout, *args: str, stdin: str | None = None, kubeconfig: str | None = None) -> str:
    argv = [k8s(layout, "kubectl"), f"--kubeconfig={kubeconfig or layout.kubeconfig}", *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed:\n{(result.stdout + result.stderr).strip()}")
    return result.stdout


def apply_manifest(layout: Layout, name: str, kubeconfig: str | None = None) -> None:
    manifest = render(f"manifests/{name}", layout)
    kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest, kubeconfig=kubeconfig)


def up(layout: Layout, *, build: bool = True, with_kubeflow: bool = True) -> None:
    started = time.monotonic()
    check_host()
    layout.state.mkdir(parents=True, exist_ok=True)
    if build:
        build_binaries(layout)
    check_binaries(layout)
    network.prepare_host(layout)
    images.ensure_registry(layout)
    forward = start_checked(layout, "registry-node-forward")
    wait_until("the registry forward on the node address", lambda: port_in_use(NODE_IP, 5000), 10, forward, layout)
    for name in ("base", "pause"):
        images.build(name, layout)
    ensure_pki(layout)
    ensure_node_configs(layout)

    etcd = start_checked(layout, "etcd")
    wait_until("etcd health", lambda: http_ok("http://127.0.0.1:2381/health"), 60, etcd, layout)
    apiserver = start_checked(layout, "kube-apiserver")
    wait_until(
        "kube-apiserver /readyz", lambda: https_ok(f"https://{NODE_IP}:6443/readyz", layout), 120, apiserver, layout
    )
    log("API server ready")
    apply_manifest(layout, "admin-rbac.yaml", kubeconfig=kubeconfig_for(layout, "super-admin"))
    start_checked(layout, "kube-controller-manager")
    start_checked(layout, "kube-scheduler")
    containerd = start_checked(layout, "containerd")
    wait_until("containerd's socket", lambda: unix_socket_answers(layout.containerd_socket), 30, containerd, layout)
    kubelet = start_checked(layout, "kubelet")
    wait_until("kubelet healthz", lambda: http_ok("http://127.0.0.1:10248/healthz"), 60, kubelet, layout)
    proxy = start_checked(layout, "kube-proxy")
    apply_manifest(layout, "coredns-rbac.yaml")
    dns = start_checked(layout, "coredns")
    wait_until("CoreDNS ready", lambda: http_ok("http://127.0.0.1:18181/ready"), 60, dns, layout)
    wait_until("kube-proxy healthz", lambda: port_in_use("127.0.0.1", 10256), 60, proxy, layout)
    network.ensure_guard_first()
    apply_manifest(layout, "storage.yaml")
    apply_manifest(layout, "registry-service.yaml")
    start_checked(layout, "provisioner")
    wait_node_ready(layout)
    log(f"node {NODE_NAME} Ready after {time.monotonic() - started:.0f}s")
    if with_kubeflow:
        kubeflow.install(layout)
        trainer.install(layout)
        log(f"cluster with Kubeflow ready after {time.monotonic() - started:.0f}s")


def wait_node_ready(layout: Layout, timeout: int = 180) -> None:
    """Waits (a watch through kubectl) for the node's Ready condition; names the kubelet's last words."""
    kubelet = processes(layout)["kubelet"]
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

STOP_ORDER = [
    "provisioner",
    "kube-proxy",
    "coredns",
    "kubelet",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-apiserver",
    "etcd",
    "registry-node-forward",
]


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
    """Stops every process this cluster started, by PID, and removes the cluster's state."""
    table = processes(layout)
    for name in STOP_ORDER[:4]:
        stop(table[name], layout)
    # Pod containers and their shims are not children of anything we track: end them by cgroup.
    for pid in _pod_processes():
        stop_pid(pid, grace_seconds=0)
    for pid in _shim_processes(layout):
        stop_pid(pid, grace_seconds=2)
    stop(table["containerd"], layout)
    for name in STOP_ORDER[4:]:
        stop(table[name], layout)
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
