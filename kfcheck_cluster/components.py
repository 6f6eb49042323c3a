"""The embedded cluster's host components, one table: each with its command line, the ports it holds,
what it needs applied before it starts and how to tell it is ready. `up` starts them in this order and
`down` stops them in the reverse order."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from kfcheck_cluster import host, network
from kfcheck_cluster.layout import CLUSTER_DIR, CLUSTER_DOMAIN, NODE_IP, NODE_NAME, POD_CIDR, SERVICE_CIDR, Layout
from kfcheck_cluster.processes import HostProcess
from kfcheck_cluster.tools import apply_manifest, k8s, kubeconfig_for

Argv = Callable[[Layout], list[str]]


@dataclass(frozen=True)
class Component:
    name: str
    argv: Argv
    ports: tuple[tuple[str, int], ...] = ()
    ready: tuple[str, Callable[[Layout], bool], float] | None = None  # (what, check, timeout in seconds)
    before: Callable[[Layout], None] | None = None  # applied once the API serves, before this starts
    env: dict[str, str] = field(default_factory=dict)

    def process(self, layout: Layout) -> HostProcess:
        return HostProcess(self.name, self.argv(layout), self.env)


def _etcd(layout: Layout) -> list[str]:
    return [str(layout.binary("etcd", "etcd")), "--name=kfcheck", f"--data-dir={layout.state / 'etcd'}",
            "--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
            "--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
            "--initial-cluster=kfcheck=http://127.0.0.1:2380", "--listen-metrics-urls=http://127.0.0.1:2381",
            "--quota-backend-bytes=4294967296"]  # fmt: skip


def _apiserver(layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        k8s(layout, "kube-apiserver"), f"--advertise-address={NODE_IP}", f"--bind-address={NODE_IP}",
        "--secure-port=6443", "--etcd-servers=http://127.0.0.1:2379", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true", "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
        f"--client-ca-file={pki / 'ca.crt'}", f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User", "--profiling=false",
    ]  # fmt: skip


def _client_of(binary: str, kubeconfig: str, *extra: str) -> Argv:
    def argv(layout: Layout) -> list[str]:
        config = kubeconfig_for(layout, kubeconfig)
        return [k8s(layout, binary), f"--kubeconfig={config}", f"--authentication-kubeconfig={config}",
                f"--authorization-kubeconfig={config}", "--bind-address=127.0.0.1", "--leader-elect=false",
                "--profiling=false", *extra]  # fmt: skip

    return argv


def _controller_manager(layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        *_client_of("kube-controller-manager", "controller-manager")(layout),
        "--use-service-account-credentials=true", f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}", f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allocate-node-cidrs=true", f"--cluster-cidr={POD_CIDR}", "--node-cidr-mask-size=24",
        "--controllers=*,bootstrapsigner,tokencleaner",
    ]  # fmt: skip


def _kubelet(layout: Layout) -> list[str]:
    return [k8s(layout, "kubelet"), f"--config={layout.config / 'kubelet.yaml'}",
            f"--kubeconfig={kubeconfig_for(layout, 'kubelet')}", f"--hostname-override={NODE_NAME}",
            f"--node-ip={NODE_IP}", f"--root-dir={layout.state / 'kubelet'}",
            f"--cert-dir={layout.state / 'kubelet' / 'pki'}"]  # fmt: skip


def _kube_proxy(layout: Layout) -> list[str]:
    return [k8s(layout, "kube-proxy"), f"--kubeconfig={kubeconfig_for(layout, 'kube-proxy')}",
            f"--hostname-override={NODE_NAME}", f"--cluster-cidr={POD_CIDR}", "--proxy-mode=iptables",
            "--conntrack-max-per-core=0", f"--nodeport-addresses={NODE_IP}/32",
            "--metrics-bind-address=127.0.0.1:10249", "--healthz-bind-address=127.0.0.1:10256"]  # fmt: skip


def _admin_rbac(layout: Layout) -> None:
    apply_manifest(layout, "admin-rbac.yaml", kubeconfig=kubeconfig_for(layout, "super-admin"))


def _node_services(layout: Layout) -> None:
    network.ensure_guard_first()
    apply_manifest(layout, "storage.yaml")
    apply_manifest(layout, "registry-service.yaml")


def _http(url: str) -> Callable[[Layout], bool]:
    return lambda _layout: host.http_ok(url)


def _forward(_layout: Layout) -> list[str]:
    return ["/usr/bin/socat", f"TCP-LISTEN:5000,bind={NODE_IP},fork,reuseaddr", "TCP:127.0.0.1:5000"]


def _containerd(layout: Layout) -> list[str]:
    return ["/usr/bin/containerd", f"--config={layout.config / 'containerd.toml'}"]


def _coredns(layout: Layout) -> list[str]:
    return [str(layout.binary("coredns", "coredns")), "-conf", str(layout.config / "Corefile")]


def _provisioner(layout: Layout) -> list[str]:
    return [sys.executable, "-m", "kfcheck_cluster.provisioner", f"--kubeconfig={layout.kubeconfig}",
            f"--volumes={layout.volumes}"]  # fmt: skip


LOCAL = "127.0.0.1"
COMPONENTS: tuple[Component, ...] = (
    Component("registry-node-forward", _forward, ((NODE_IP, 5000),),
              ("the registry forward on the node address", lambda _l: host.port_in_use(NODE_IP, 5000), 10)),
    Component("etcd", _etcd, ((LOCAL, 2379), (LOCAL, 2380)), ("etcd health", _http(f"http://{LOCAL}:2381/health"), 60)),
    Component("kube-apiserver", _apiserver, ((NODE_IP, 6443),),
              ("kube-apiserver /readyz", lambda layout: host.https_ok(f"https://{NODE_IP}:6443/readyz", layout), 120)),
    Component("kube-controller-manager", _controller_manager, ((LOCAL, 10257),), before=_admin_rbac),
    Component("kube-scheduler", _client_of("kube-scheduler", "scheduler"), ((LOCAL, 10259),)),
    Component("containerd", _containerd,
              ready=("containerd's CRI service", lambda layout: host.cri_answers(layout.containerd_socket), 60)),
    Component("kubelet", _kubelet, ((NODE_IP, 10250), (LOCAL, 10248)),
              ("kubelet healthz", _http(f"http://{LOCAL}:10248/healthz"), 60)),
    Component("coredns", _coredns, ((LOCAL, 18088), (LOCAL, 18181)),
              ("CoreDNS ready", _http(f"http://{LOCAL}:18181/ready"), 60),
              before=lambda layout: apply_manifest(layout, "coredns-rbac.yaml")),
    Component("kube-proxy", _kube_proxy, ((LOCAL, 10249), (LOCAL, 10256)),
              ("kube-proxy healthz", lambda _l: host.port_in_use(LOCAL, 10256), 60)),
    # The provisioner outlives the `up` that starts it: PYTHONPATH pins it to the code that started it (this
    # checkout), found even when that python has no kfcheck installed (python -m from a checkout) or its
    # editable install points at another checkout sharing the venv.
    Component("provisioner", _provisioner, before=_node_services, env={"PYTHONPATH": str(CLUSTER_DIR.parent)}),
)  # fmt: skip
BY_NAME = {component.name: component for component in COMPONENTS}
PORTS = {component.name: list(component.ports) for component in COMPONENTS} | {"registry": [(LOCAL, 5000)]}
