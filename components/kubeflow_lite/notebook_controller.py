"""Notebook controller (kubeflow.org/v1): a StatefulSet and a Service per Notebook, status from its pod.

python3 -m kubeflow_lite.notebook_controller
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

LOG = logging.getLogger("notebook-controller")
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "notebooks"
PORT = 8888


def owner_reference(notebook: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Notebook", "name": notebook["metadata"]["name"],
            "uid": notebook["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def stateful_set(notebook: dict[str, Any]) -> dict[str, Any]:
    name, namespace = notebook["metadata"]["name"], notebook["metadata"]["namespace"]
    template = notebook.get("spec", {}).get("template", {})
    pod_spec = dict(template.get("spec") or {})
    containers = [dict(c) for c in pod_spec.get("containers") or []]
    if containers:
        first = containers[0]
        prefix = f"/notebook/{namespace}/{name}"
        env = [e for e in first.get("env") or [] if e.get("name") != "NB_PREFIX"]
        first["env"] = [{"name": "NB_PREFIX", "value": prefix}, *env]
        if not first.get("ports"):
            first["ports"] = [{"name": "notebook-port", "containerPort": PORT, "protocol": "TCP"}]
        first.setdefault("workingDir", "/home/jovyan")
    pod_spec["containers"] = containers
    security = dict(pod_spec.get("securityContext") or {})
    security.setdefault("fsGroup", 100)
    pod_spec["securityContext"] = security
    labels = {**((template.get("metadata") or {}).get("labels") or {}), "statefulset": name, "notebook-name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(notebook)]},
        "spec": {
            "replicas": 1,
            "serviceName": name,
            "selector": {"matchLabels": {"statefulset": name}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": (template.get("metadata") or {}).get("annotations") or {},
                },
                "spec": pod_spec,
            },
        },
    }


def service(notebook: dict[str, Any]) -> dict[str, Any]:
    name, namespace = notebook["metadata"]["name"], notebook["metadata"]["namespace"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(notebook)]},
        "spec": {
            "type": "ClusterIP",
            "selector": {"statefulset": name},
            "ports": [{"name": f"http-{name}", "port": 80, "targetPort": PORT, "protocol": "TCP"}],
        },
    }


def status_from(stateful: Any, pod: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"readyReplicas": (stateful.status.ready_replicas or 0) if stateful else 0}
    status["containerState"] = {}
    status["conditions"] = []
    if pod is not None and pod.status:
        api = client.ApiClient()
        statuses = pod.status.container_statuses or []
        if statuses:
            status["containerState"] = api.sanitize_for_serialization(statuses[0].state) or {}
        status["conditions"] = [
            {"type": c.type, "status": c.status, "reason": c.reason or "", "message": c.message or "",
             "lastProbeTime": None, "lastTransitionTime": api.sanitize_for_serialization(c.last_transition_time)}
            for c in pod.status.conditions or []
        ]  # fmt: skip
    return status


class Controller:
    def __init__(self) -> None:
        self.custom = client.CustomObjectsApi()
        self.apps = client.AppsV1Api()
        self.core = client.CoreV1Api()
        self.lock = threading.Lock()

    def reconcile(self, namespace: str, name: str) -> None:
        with self.lock:
            try:
                notebook = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            except ApiException as error:
                if error.status == 404:
                    return  # deleted: owner references remove its StatefulSet and Service
                raise
            if notebook["metadata"].get("deletionTimestamp"):
                return
            for create, read, body in (
                (
                    self.apps.create_namespaced_stateful_set,
                    self.apps.read_namespaced_stateful_set,
                    stateful_set(notebook),
                ),
                (self.core.create_namespaced_service, self.core.read_namespaced_service, service(notebook)),
            ):
                try:
                    read(name, namespace)
                except ApiException as error:
                    if error.status != 404:
                        raise
                    create(namespace, body)
                    LOG.info("created %s %s/%s", body["kind"], namespace, name)
            stateful = self.apps.read_namespaced_stateful_set(name, namespace)
            try:
                pod = self.core.read_namespaced_pod(f"{name}-0", namespace)
            except ApiException:
                pod = None
            status = status_from(stateful, pod)
            if notebook.get("status") != status:
                self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, {"status": status}
                )

    def safely(self, namespace: str, name: str) -> None:
        try:
            self.reconcile(namespace, name)
        except Exception:  # a failed reconcile is retried on the next event or resync
            LOG.exception("reconciling %s/%s failed", namespace, name)

    def watch_notebooks(self) -> None:
        while True:
            stream = watch.Watch().stream(self.custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                          timeout_seconds=60)  # fmt: skip
            for event in stream:
                metadata = event["object"]["metadata"]
                self.safely(metadata["namespace"], metadata["name"])

    def watch_pods(self) -> None:
        while True:
            stream = watch.Watch().stream(self.core.list_pod_for_all_namespaces, label_selector="notebook-name",
                                          timeout_seconds=60)  # fmt: skip
            for event in stream:
                pod = event["object"]
                self.safely(pod.metadata.namespace, pod.metadata.labels["notebook-name"])


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config.load_incluster_config()
    controller = Controller()
    threading.Thread(target=controller.watch_pods, name="pods", daemon=True).start()
    LOG.info("watching Notebooks")
    controller.watch_notebooks()


if __name__ == "__main__":
    main()
