"""Notebook servers (kubeflow.org/v1): created, Ready, serving JupyterLab under NB_PREFIX."""

from __future__ import annotations

import datetime
from typing import Any

from kfcheck.core import wait
from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Controller, Scenario
from kfcheck.kubeflow import poddefault, pods

API = Api("kubeflow.org/v1", "Notebook", "the Kubeflow notebook controller")
CONTROLLER = Controller("notebook-controller", ("app=notebook-controller",))
NOTEBOOK_NAME_LABEL = "notebook-name"  # the notebook controller's label on the server's pod


def _lister(scenario: Scenario) -> Any:
    def list_notebooks(namespace: str, **kwargs: Any) -> Any:
        return scenario.kube.custom.list_namespaced_custom_object(
            "kubeflow.org", "v1", namespace, "notebooks", **kwargs
        )

    return list_notebooks


def create_selected_by_poddefault(scenario: Scenario, name: str) -> None:
    """A Notebook as the Jupyter web app makes it, labelled (metadata.labels) for the scenario's PodDefault."""
    scenario.uses(CONTROLLER, ("apps/v1", "StatefulSet"))
    labels = {poddefault.selector_label(scenario): "true"}
    scenario.create("notebook", name=scenario.name(name), labels=labels, image=scenario.settings.notebook_image)


def wait_ready(scenario: Scenario, name: str) -> dict[str, Any]:
    name = scenario.name(name)
    return wait.until(scenario.kube, wait.Wait(
        f"Notebook {scenario.namespace}/{name} to be Ready", wait.Target(_lister(scenario), scenario.namespace, name),
        done=lambda nb: (nb.get("status") or {}).get("readyReplicas") == 1, timeout=scenario.settings.timeout,
        pods=wait.Pods.labelled(f"{NOTEBOOK_NAME_LABEL}={name}", scenario.owns),
    ))  # fmt: skip


STOP_ANNOTATION = "kubeflow-resource-stopped"  # what the Jupyter web app sets to stop a server


def stop(scenario: Scenario, name: str) -> None:
    """Stops the server as the Jupyter web app does: the annotation, with the time of stopping as its value."""
    stopped_at = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {"metadata": {"annotations": {STOP_ANNOTATION: stopped_at}}}
    _patch(scenario, name, patch)


def start(scenario: Scenario, name: str) -> None:
    """Starts a stopped server again: the annotation is removed."""
    _patch(scenario, name, {"metadata": {"annotations": {STOP_ANNOTATION: None}}})


def _patch(scenario: Scenario, name: str, patch: dict[str, Any]) -> None:
    """A JSON merge patch of the Notebook (null removes a key)."""
    scenario.kube.custom.patch_namespaced_custom_object(
        "kubeflow.org", "v1", scenario.namespace, "notebooks", scenario.name(name), patch
    )


def wait_stopped(scenario: Scenario, name: str) -> None:
    """The server's StatefulSet is scaled to 0, its pod is gone and the Notebook reports no ready replica."""
    kube, namespace, timeout, name = scenario.kube, scenario.namespace, scenario.settings.timeout, scenario.name(name)
    wait.until(kube, wait.Wait(
        f"StatefulSet {namespace}/{name} to be scaled to 0", wait.Target(kube.apps.list_namespaced_stateful_set,
        namespace, name), done=lambda sts: (sts.get("spec") or {}).get("replicas") == 0, timeout=timeout, exists=True,
    ))  # fmt: skip
    wait.wait_until_gone(
        kube, f"pod {namespace}/{name}-0 to be gone", kube.core.list_namespaced_pod, namespace, f"{name}-0", timeout
    )
    wait.until(kube, wait.Wait(
        f"Notebook {namespace}/{name} to report no ready replica", wait.Target(_lister(scenario), namespace, name),
        done=lambda nb: (nb.get("status") or {}).get("readyReplicas", 0) == 0, timeout=timeout, exists=True,
    ))  # fmt: skip


def prefix(namespace: str, name: str) -> str:
    return f"/notebook/{namespace}/{name}"


def check_serves_jupyterlab(scenario: Scenario, name: str) -> str:
    """The server's NB_PREFIX is /notebook/<namespace>/<name>, and JupyterLab answers under it inside the cluster."""
    check_prefix_env(server_pod(scenario, name), scenario.namespace, scenario.name(name))
    namespace, name = scenario.namespace, scenario.name(name)
    url = f"http://{name}.{namespace}.svc.cluster.local{prefix(namespace, name)}/lab"
    scenario.create("http-probe", name=f"{name}-probe", image=scenario.settings.notebook_image, url=url,
                    deadline=scenario.settings.timeout)  # fmt: skip
    pods.wait_succeeded(scenario, f"{name}-probe")
    output = pods.log(scenario, f"{name}-probe")
    assert "status=200 jupyterlab=True" in output, f"GET {url} from inside the cluster: {output!r}"
    scenario.attach(f"HTTP 200 from {url}")
    return url


def server_pod(scenario: Scenario, name: str) -> Any:
    return scenario.kube.core.read_namespaced_pod(f"{scenario.name(name)}-0", scenario.namespace)


def check_injected(scenario: Scenario, name: str, poddefault_name: str) -> None:
    """The Notebook's server pod carries what the scenario's PodDefault `poddefault_name` injects."""
    server = scenario.kube.api.sanitize_for_serialization(server_pod(scenario, name))
    poddefault.check_carries(scenario, server, poddefault_name)


def check_prefix_env(pod_object: Any, namespace: str, name: str) -> None:
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get("NB_PREFIX") == prefix(namespace, name), f"NB_PREFIX is {env.get('NB_PREFIX')}"
