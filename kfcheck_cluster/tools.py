"""Templates of the cluster's configuration, and kubectl against the embedded cluster."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from string import Template

from kfcheck_cluster.layout import (
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
from kfcheck_cluster.processes import ClusterError


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


def copy_writable(source: Path, target: Path) -> None:
    """Copies a tree from the (read-only) Go module cache so that the copy can be changed and removed."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for directory, _subdirs, _files in os.walk(target):
        Path(directory).chmod(0o755)


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


def apply_retrying_webhooks(layout: Layout, *args: str, stdin: str | None = None, timeout_seconds: float) -> None:
    """`kubectl apply --server-side`, again (it is idempotent) while an admission webhook that guards some of the
    objects does not answer yet: its controller, applied in the same run or just restarted, is still starting
    or waiting for its certificate. Any other error, or the deadline, ends it."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            kubectl(layout, "apply", "--server-side", "--force-conflicts", *args, stdin=stdin)
            return
        except ClusterError as error:
            if "failed calling webhook" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(2)


def apply_manifest(layout: Layout, name: str, kubeconfig: str | None = None, **extra: str) -> None:
    """Server-side apply of cluster/manifests/<name>, its ${placeholders} filled from the layout and extra."""
    manifest = render(f"manifests/{name}", layout, **extra)
    kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=manifest, kubeconfig=kubeconfig)


def helm(layout: Layout, *args: str) -> str:
    """The embedded cluster's helm with its kubeconfig; an error carries helm's words."""
    binary = layout.binary("helm", "helm")
    if not binary.exists():
        raise ClusterError(f"{binary} is missing: run `make build`")
    result = subprocess.run([str(binary), *args, f"--kubeconfig={layout.kubeconfig}"], capture_output=True,
                            text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ClusterError(f"helm {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def helm_release_exists(layout: Layout, release: str, namespace: str) -> bool:
    listed = json.loads(helm(layout, "list", f"--namespace={namespace}", "--all", "--output=json") or "[]")
    return any(item.get("name") == release for item in listed)


def crds_of_groups(layout: Layout, groups: tuple[str, ...]) -> list[str]:
    listed = json.loads(kubectl(layout, "get", "customresourcedefinitions", "-o", "json"))
    return [crd["metadata"]["name"] for crd in listed["items"] if crd["spec"]["group"] in groups]


def delete_objects_of_crds(layout: Layout, crds: list[str], timeout_seconds: int) -> None:
    """Deletes every object of the CRDs (all namespaces) and waits until they are gone: run while their
    controller still runs, which removes the finalizers it put on them (Trainer's runtimes carry one)."""
    if crds:
        kubectl(layout, "delete", ",".join(crds), "--all", "--all-namespaces", "--ignore-not-found", "--wait=true",
                f"--timeout={timeout_seconds}s")  # fmt: skip


def delete_crds(layout: Layout, crds: list[str], timeout_seconds: int) -> None:
    """Deletes the CRDs, waiting until they are gone."""
    if crds:
        kubectl(layout, "delete", "customresourcedefinitions", *crds, "--wait=true", f"--timeout={timeout_seconds}s")


def helm_install(layout: Layout, release: str, chart: Path, namespace: str, crds: list[Path], timeout_seconds: int,
                 *extra: str) -> None:  # fmt: skip
    """`helm upgrade --install --reset-values` of a chart: the release gets the chart's values and `extra`'s, not
    those an interrupted upgrade scenario or a gate left (helm would reuse them). Its CRDs are applied
    server-side first (Helm installs crds/ only on the first install and never upgrades them; large CRDs
    exceed client-side apply's annotation), then every Deployment of the namespace is waited for (helm's
    --wait does not hold for their availability here)."""
    helm = layout.binary("helm", "helm")
    if not helm.exists():
        raise ClusterError(f"{helm} is missing: run `make build`")
    for directory in crds:
        kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", str(directory))
    argv = [str(helm), "upgrade", "--install", "--reset-values", release, str(chart),
            f"--kubeconfig={layout.kubeconfig}", f"--namespace={namespace}", "--create-namespace", "--wait",
            f"--timeout={timeout_seconds}s", *extra]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"helm upgrade --install {release} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    wait_components(layout, namespace, timeout_seconds)


def wait_components(layout: Layout, namespace: str, timeout_seconds: int) -> None:
    """Every Deployment of the namespace Available and every admission webhook it serves answering."""
    restart_crash_looping_pods(layout, namespace)
    kubectl(layout, "wait", f"--namespace={namespace}", "deployment", "--all", "--for=condition=Available",
            f"--timeout={timeout_seconds}s")  # fmt: skip
    # Available holds while an upgrade's new pods crash and the old ones still serve: every rollout must end
    for name in kubectl(layout, "get", "deployments", f"--namespace={namespace}", "-o", "name").split():
        kubectl(layout, "rollout", "status", f"--namespace={namespace}", name, f"--timeout={timeout_seconds}s")
    wait_webhooks_serve(layout, namespace, timeout_seconds)


def deployment_generations(layout: Layout, namespace: str) -> dict[str, int]:
    """Each Deployment's metadata.generation: it grows whenever its pod template changes (an upgrade's new tag)."""
    listed = json.loads(kubectl(layout, "get", "deployments", f"--namespace={namespace}", "-o", "json"))
    return {item["metadata"]["name"]: int(item["metadata"].get("generation", 0)) for item in listed["items"]}


def restart_deployments_using(layout: Layout, namespace: str, images: list[str], timeout_seconds: int,
                              generations_before: dict[str, int]) -> None:  # fmt: skip
    """Restarts the namespace's Deployments that run one of the images (rebuilt under the same tag, which
    changes nothing in their spec), then waits for them as for an install. A Deployment the install already
    rolled out (its generation grew since `generations_before`) runs the new build and is left alone."""
    if not images:
        return
    listed = json.loads(kubectl(layout, "get", "deployments", f"--namespace={namespace}", "-o", "json"))
    using = sorted(
        deployment["metadata"]["name"]
        for deployment in listed["items"]
        if any(container["image"] in images for container in deployment["spec"]["template"]["spec"]["containers"])
        and int(deployment["metadata"].get("generation", 0)) == generations_before.get(deployment["metadata"]["name"])
    )
    if not using:
        return
    print(f"[kfcheck up] {', '.join(images)} rebuilt: restarting {', '.join(using)}", flush=True)
    kubectl(layout, "rollout", "restart", f"--namespace={namespace}", *(f"deployment/{name}" for name in using))
    for name in using:
        kubectl(layout, "rollout", "status", f"--namespace={namespace}", f"deployment/{name}",
                f"--timeout={timeout_seconds}s")  # fmt: skip
    wait_webhooks_serve(layout, namespace, timeout_seconds)


def webhook_addresses(layout: Layout, namespace: str) -> dict[str, tuple[str, int]]:
    """The cluster IP and port of every admission webhook served from the namespace, by webhook name."""
    configurations = json.loads(kubectl(layout, "get", "validatingwebhookconfigurations,mutatingwebhookconfigurations",
                                        "-o", "json"))  # fmt: skip
    services = json.loads(kubectl(layout, "get", "services", f"--namespace={namespace}", "-o", "json"))
    cluster_ips = {service["metadata"]["name"]: service["spec"].get("clusterIP") for service in services["items"]}
    addresses = {}
    for configuration in configurations["items"]:
        for webhook in configuration.get("webhooks", []):
            service = webhook["clientConfig"].get("service")
            if service and service["namespace"] == namespace and cluster_ips.get(service["name"]):
                addresses[webhook["name"]] = (cluster_ips[service["name"]], int(service.get("port", 443)))
    return addresses


def wait_webhooks_serve(layout: Layout, namespace: str, timeout_seconds: float) -> None:
    """Waits until every admission webhook of the namespace accepts connections on its service, the way the API
    server reaches it (the host routes cluster IPs through kube-proxy). A Deployment still reports Available
    while the kubelet has not yet noticed that its pods' processes died with the node (kill -9, a reboot); the
    API server then refuses every object the webhook guards."""
    deadline = time.monotonic() + timeout_seconds
    waiting = webhook_addresses(layout, namespace)
    while waiting:
        waiting = {name: address for name, address in waiting.items() if not _accepts(address)}
        if waiting and time.monotonic() > deadline:
            silent = ", ".join(f"{name} at {ip}:{port}" for name, (ip, port) in waiting.items())
            raise ClusterError(f"admission webhooks not serving after {timeout_seconds:.0f}s: {silent}")
        if waiting:
            time.sleep(0.5)


def _accepts(address: tuple[str, int]) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex(address) == 0


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
