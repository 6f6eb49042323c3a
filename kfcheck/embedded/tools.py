"""Templates of the cluster's configuration, and kubectl against the embedded cluster."""

from __future__ import annotations

import subprocess
from pathlib import Path
from string import Template

from kfcheck.embedded.layout import (
    CLUSTER_DIR,
    CLUSTER_DNS_IP,
    CLUSTER_DOMAIN,
    NODE_IP,
    NODE_NAME,
    NODE_POD_CIDR,
    POD_CIDR,
    REGISTRY,
    SERVICE_CIDR,
    Layout,
)
from kfcheck.embedded.processes import ClusterError


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


def k8s(layout: Layout, name: str) -> str:
    return str(layout.binary("kubernetes", name))


def kubeconfig_for(layout: Layout, component: str) -> str:
    return str(layout.state / "kubeconfigs" / f"{component}.conf")


def kubectl(layout: Layout, *args: str, stdin: str | None = None, kubeconfig: str | None = None) -> str:
    argv = [k8s(layout, "kubectl"), f"--kubeconfig={kubeconfig or layout.kubeconfig}", *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"kubectl {' '.join(args)} failed:\n{(result.stdout + result.stderr).strip()}")
    return result.stdout


def apply_manifest(layout: Layout, name: str, kubeconfig: str | None = None, **extra: str) -> None:
    """Server-side apply of cluster/manifests/<name>, its ${placeholders} filled from the layout and extra."""
    manifest = render(f"manifests/{name}", layout, **extra)
    kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest, kubeconfig=kubeconfig)


def helm_install(layout: Layout, release: str, chart: Path, namespace: str, crds: list[Path], timeout_seconds: int,
                 *extra: str) -> None:  # fmt: skip
    """`helm upgrade --install` of a chart, its CRDs applied server-side first (Helm installs crds/ only on the
    first install and never upgrades them; large CRDs exceed client-side apply's annotation), then every
    Deployment of the namespace waited for (helm's --wait does not hold for their availability here)."""
    helm = layout.binary("helm", "helm")
    if not helm.exists():
        raise ClusterError(f"{helm} is missing: run `make build`")
    for directory in crds:
        kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", str(directory))
    argv = [str(helm), "upgrade", "--install", release, str(chart), f"--kubeconfig={layout.kubeconfig}",
            f"--namespace={namespace}", "--create-namespace", "--wait", f"--timeout={timeout_seconds}s",
            *extra]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"helm upgrade --install {release} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    restart_crash_looping_pods(layout, namespace)
    kubectl(layout, "wait", f"--namespace={namespace}", "deployment", "--all", "--for=condition=Available",
            f"--timeout={timeout_seconds}s")  # fmt: skip


def restart_crash_looping_pods(layout: Layout, namespace: str) -> None:
    """After the node's processes were killed, a controller pod can come back in a sandbox without a network
    and crash-loop on "network is unreachable"; its Deployment makes a new pod, in a new sandbox, once the old
    one is deleted. A controller that is really broken crash-loops again and the wait for it fails."""
    jsonpath = "{range .items[*]}{.metadata.name} {.status.containerStatuses[*].state.waiting.reason}{'\\n'}{end}"
    listed = kubectl(layout, "get", "pods", f"--namespace={namespace}", "-o", f"jsonpath={jsonpath}")
    for line in listed.splitlines():
        name, _, reasons = line.partition(" ")
        if "CrashLoopBackOff" in reasons.split():
            print(f"[kfcheck up] {namespace}/{name} is crash-looping: deleting it so that its Deployment starts "
                  "a new one", flush=True)  # fmt: skip
            kubectl(layout, "delete", "pod", name, f"--namespace={namespace}", "--wait=false")
