"""Notebook servers (kubeflow.org/v1): created, Ready, serving JupyterLab under NB_PREFIX."""

from __future__ import annotations

import datetime
from typing import Any

from kfcheck import manifests, pods, wait
from kfcheck.config import Settings
from kfcheck.kube import Kube


def _lister(kube: Kube) -> Any:
    def list_notebooks(namespace: str, **kwargs: Any) -> Any:
        return kube.custom.list_namespaced_custom_object("kubeflow.org", "v1", namespace, "notebooks", **kwargs)

    return list_notebooks


def create(kube: Kube, settings: Settings, namespace: str, name: str, labels: dict[str, str]) -> None:
    manifests.apply_fixture(kube, "notebook", namespace, name=name, labels=labels, image=settings.notebook_image)


def wait_ready(kube: Kube, settings: Settings, namespace: str, name: str) -> dict[str, Any]:
    return wait.wait_for(
        kube, f"Notebook {namespace}/{name} to be Ready", _lister(kube), namespace, name,
        done=lambda nb: (nb.get("status") or {}).get("readyReplicas") == 1, timeout=settings.timeout,
    )  # fmt: skip


STOP_ANNOTATION = "kubeflow-resource-stopped"  # what the Jupyter web app sets to stop a server


def stop(kube: Kube, namespace: str, name: str) -> None:
    """Stops the server as the Jupyter web app does: the annotation, with the time of stopping as its value."""
    stopped_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"metadata": {"annotations": {STOP_ANNOTATION: stopped_at}}}
    kube.custom.patch_namespaced_custom_object("kubeflow.org", "v1", namespace, "notebooks", name, patch)


def start(kube: Kube, namespace: str, name: str) -> None:
    """Starts a stopped server again: the annotation is removed."""
    patch = {"metadata": {"annotations": {STOP_ANNOTATION: None}}}
    kube.custom.patch_namespaced_custom_object("kubeflow.org", "v1", namespace, "notebooks", name, patch)


def wait_stopped(kube: Kube, settings: Settings, namespace: str, name: str) -> None:
    """The server's StatefulSet is scaled to 0, its pod is gone and the Notebook reports no ready replica."""
    wait.wait_for(
        kube, f"StatefulSet {namespace}/{name} to be scaled to 0", kube.apps.list_namespaced_stateful_set, namespace,
        name, done=lambda sts: (sts.get("spec") or {}).get("replicas") == 0, timeout=settings.timeout,
        watch_pods=False, exists=True,
    )  # fmt: skip
    wait.wait_until_gone(
        kube, f"pod {namespace}/{name}-0 to be gone", kube.core.list_namespaced_pod, namespace, f"{name}-0",
        settings.timeout,
    )  # fmt: skip
    wait.wait_for(
        kube, f"Notebook {namespace}/{name} to report no ready replica", _lister(kube), namespace, name,
        done=lambda nb: (nb.get("status") or {}).get("readyReplicas", 0) == 0, timeout=settings.timeout,
        watch_pods=False, exists=True,
    )  # fmt: skip


def prefix(namespace: str, name: str) -> str:
    return f"/notebook/{namespace}/{name}"


def check_serves_jupyterlab(kube: Kube, settings: Settings, namespace: str, name: str) -> str:
    url = f"http://{name}.{namespace}.svc.cluster.local{prefix(namespace, name)}/lab"
    manifests.apply_fixture(
        kube, "http-probe", namespace, name=f"{name}-probe", image=settings.notebook_image, url=url,
        deadline=settings.timeout,
    )  # fmt: skip
    pods.wait_succeeded(kube, namespace, f"{name}-probe", settings.timeout)
    output = pods.log(kube, namespace, f"{name}-probe")
    assert "status=200 jupyterlab=True" in output, f"GET {url} from inside the cluster: {output!r}"
    return url


def server_pod(kube: Kube, namespace: str, name: str) -> Any:
    return kube.core.read_namespaced_pod(f"{name}-0", namespace)


def check_prefix_env(pod_object: Any, namespace: str, name: str) -> None:
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get("NB_PREFIX") == prefix(namespace, name), f"NB_PREFIX is {env.get('NB_PREFIX')}"
