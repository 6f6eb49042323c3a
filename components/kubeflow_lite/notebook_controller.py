"""Notebook controller (kubeflow.org/v1): a StatefulSet and a Service per Notebook, status from its pod.

Behaves as Kubeflow's notebook-controller (kubeflow/kubeflow components/notebook-controller, v1.10;
see ../README.md for the upstream file and line each rule was checked against):

- StatefulSet `<name>`: 1 replica, 0 while the Notebook carries the annotation `kubeflow-resource-stopped`;
  pod labels `statefulset`, `notebook-name` and every label of the Notebook's metadata; pod annotations
  those of the Notebook whose key contains neither `kubectl` nor `notebook`; pod spec the Notebook's
  `spec.template.spec` with, on the first container, workingDir /home/jovyan and port 8888
  `notebook-port` when unset, NB_PREFIX=/notebook/<namespace>/<name> appended unless the container sets
  NB_PREFIX itself, and securityContext {fsGroup: 100} when the pod has no securityContext and ADD_FSGROUP
  is unset or "true";
- Service `<name>`: ClusterIP, port 80 `http-<name>` to the first container's first containerPort (8888
  when it has none);
- drift: replicas, the pod template's spec and the objects' own labels/annotations of the StatefulSet,
  selector and ports of the Service are put back when they differ;
- status: readyReplicas of the StatefulSet, containerState of the pod's container named like the
  Notebook, conditions mirrored from the pod's (lastProbeTime/lastTransitionTime now when the pod has none).

Not implemented (see ../README.md): culling, the Istio VirtualService, re-emitting pod events on the Notebook.

python3 -m kubeflow_lite.notebook_controller
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

LOG = logging.getLogger("notebook-controller")
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "notebooks"
DEFAULT_CONTAINER_PORT = 8888
DEFAULT_SERVING_PORT = 80
DEFAULT_FS_GROUP = 100
PREFIX_ENV = "NB_PREFIX"
STOP_ANNOTATION = "kubeflow-resource-stopped"


def owner_reference(notebook: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Notebook", "name": notebook["metadata"]["name"],
            "uid": notebook["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def prefix(notebook: dict[str, Any]) -> str:
    return f"/notebook/{notebook['metadata']['namespace']}/{notebook['metadata']['name']}"


def _pod_spec(notebook: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(((notebook.get("spec") or {}).get("template") or {}).get("spec") or {})


def stateful_set(notebook: dict[str, Any], add_fsgroup: str | None = None) -> dict[str, Any]:
    """The StatefulSet a Notebook asks for; add_fsgroup is the controller's ADD_FSGROUP (None: unset)."""
    metadata = notebook["metadata"]
    name, namespace = metadata["name"], metadata["namespace"]
    labels = {"statefulset": name, "notebook-name": name, **(metadata.get("labels") or {})}
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if "kubectl" not in key and "notebook" not in key
    }
    pod_spec = _pod_spec(notebook)
    container = pod_spec["containers"][0]
    if not container.get("workingDir"):
        container["workingDir"] = "/home/jovyan"
    if container.get("ports") is None:
        container["ports"] = [{"containerPort": DEFAULT_CONTAINER_PORT, "name": "notebook-port", "protocol": "TCP"}]
    if not any(variable.get("name") == PREFIX_ENV for variable in container.get("env") or []):
        container["env"] = [*(container.get("env") or []), {"name": PREFIX_ENV, "value": prefix(notebook)}]
    if (add_fsgroup is None or add_fsgroup == "true") and pod_spec.get("securityContext") is None:
        pod_spec["securityContext"] = {"fsGroup": DEFAULT_FS_GROUP}
    template_metadata: dict[str, Any] = {"labels": labels}
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(notebook)]},
        "spec": {
            "replicas": 0 if STOP_ANNOTATION in (metadata.get("annotations") or {}) else 1,
            "selector": {"matchLabels": {"statefulset": name}},
            "template": {"metadata": template_metadata, "spec": pod_spec},
        },
    }


def service(notebook: dict[str, Any]) -> dict[str, Any]:
    metadata = notebook["metadata"]
    name, namespace = metadata["name"], metadata["namespace"]
    ports = (_pod_spec(notebook).get("containers") or [{}])[0].get("ports")
    target = ports[0].get("containerPort", 0) if ports is not None and ports else DEFAULT_CONTAINER_PORT
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_reference(notebook)]},
        "spec": {
            "type": "ClusterIP",
            "selector": {"statefulset": name},
            "ports": [{"name": f"http-{name}", "port": DEFAULT_SERVING_PORT, "targetPort": target, "protocol": "TCP"}],
        },
    }


def _copy_metadata_maps(desired: dict[str, Any], found: dict[str, Any]) -> bool:
    """The object's own labels and annotations become the desired ones; True when found had others."""
    changed = False
    for key in ("labels", "annotations"):
        wanted = desired["metadata"].get(key) or {}
        if any(wanted.get(k) != v for k, v in (found["metadata"].get(key) or {}).items()):
            changed = True
        if wanted:
            found["metadata"][key] = wanted
        else:
            found["metadata"].pop(key, None)
    return changed


def copy_stateful_set_fields(desired: dict[str, Any], found: dict[str, Any]) -> bool:
    """Puts the owned fields of the desired StatefulSet into the found one; True when an update is due."""
    changed = _copy_metadata_maps(desired, found)
    if found["spec"].get("replicas") != desired["spec"]["replicas"]:
        found["spec"]["replicas"] = desired["spec"]["replicas"]
        changed = True
    if found["spec"]["template"].get("spec") != desired["spec"]["template"]["spec"]:
        changed = True
    found["spec"]["template"]["spec"] = desired["spec"]["template"]["spec"]
    return changed


def copy_service_fields(desired: dict[str, Any], found: dict[str, Any]) -> bool:
    """Selector and ports (never the clusterIP) of the desired Service; True when an update is due."""
    changed = _copy_metadata_maps(desired, found)
    for key in ("selector", "ports"):
        if found["spec"].get(key) != desired["spec"][key]:
            changed = True
        found["spec"][key] = desired["spec"][key]
    return changed


def notebook_condition(pod_condition: dict[str, Any], now: str) -> dict[str, Any]:
    condition = {key: pod_condition[key] for key in ("type", "message", "reason") if pod_condition.get(key)}
    condition["status"] = pod_condition.get("status") or ""  # always written: the CRD requires it
    condition["lastProbeTime"] = pod_condition.get("lastProbeTime") or now
    condition["lastTransitionTime"] = pod_condition.get("lastTransitionTime") or now
    return condition


def notebook_status(
    notebook: dict[str, Any], found_stateful_set: dict[str, Any], pod: dict[str, Any] | None, now: str
) -> dict[str, Any]:
    """The Notebook's status from its StatefulSet and its pod `<name>-0` (None: there is none)."""
    status: dict[str, Any] = {
        "conditions": [],
        "readyReplicas": (found_stateful_set.get("status") or {}).get("readyReplicas", 0),
        "containerState": {},
    }
    if not pod or not pod.get("status"):
        return status
    for container_status in pod["status"].get("containerStatuses") or []:
        if container_status.get("name") == notebook["metadata"]["name"]:
            status["containerState"] = container_status.get("state") or {}
            break
    status["conditions"] = [notebook_condition(c, now) for c in pod["status"].get("conditions") or []]
    return status


def _without_filled_times(status: dict[str, Any]) -> dict[str, Any]:
    """A status compared with another: probe times are 'now' for every pod condition, so they are left out."""
    return {**status, "conditions": [{**c, "lastProbeTime": None} for c in status.get("conditions") or []]}


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Controller:
    def __init__(self) -> None:
        from kubernetes import client

        self.api = client.ApiClient()
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.add_fsgroup = os.environ.get("ADD_FSGROUP")
        self.pending: queue.Queue[tuple[str, str]] = queue.Queue()
        self.queued: set[tuple[str, str]] = set()
        self.lock = threading.Lock()

    def _get(self, read: Callable[..., Any], *args: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return dict(json.loads(read(*args, _preload_content=False).data))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def reconcile(self, namespace: str, name: str) -> None:
        notebook = self._get(self.custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name)
        if notebook is None or notebook["metadata"].get("deletionTimestamp"):
            return  # gone or going: owner references remove its StatefulSet and Service
        desired = stateful_set(notebook, self.add_fsgroup)
        found = self._get(self.apps.read_namespaced_stateful_set, name, namespace)
        if found is None:
            LOG.info("creating StatefulSet %s/%s", namespace, name)
            found = self.apps.create_namespaced_stateful_set(namespace, desired, _preload_content=False)
            found = json.loads(found.data)
        elif copy_stateful_set_fields(desired, found):
            replaced = self.apps.replace_namespaced_stateful_set(name, namespace, found, _preload_content=False)
            found = json.loads(replaced.data)
        desired_service = service(notebook)
        found_service = self._get(self.core.read_namespaced_service, name, namespace)
        if found_service is None:
            LOG.info("creating Service %s/%s", namespace, name)
            self.core.create_namespaced_service(namespace, desired_service)
        elif copy_service_fields(desired_service, found_service):
            LOG.info("updating Service %s/%s", namespace, name)
            self.core.replace_namespaced_service(name, namespace, found_service)
        pod = self._get(self.core.read_namespaced_pod, f"{name}-0", namespace)
        status = notebook_status(notebook, found or {}, pod, now_rfc3339())
        if _without_filled_times(status) != _without_filled_times(notebook.get("status") or {}):
            notebook["status"] = status
            self.custom.replace_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, notebook)

    def enqueue(self, namespace: str, name: str) -> None:
        with self.lock:
            if (namespace, name) in self.queued:
                return
            self.queued.add((namespace, name))
        self.pending.put((namespace, name))

    def work(self) -> None:
        while True:
            namespace, name = self.pending.get()
            with self.lock:
                self.queued.discard((namespace, name))
            try:
                self.reconcile(namespace, name)
            except Exception as error:  # a failed reconcile is retried on the next event or resync
                if getattr(error, "status", None) == 409:  # written meanwhile by someone else: read it again
                    LOG.info("reconciling %s/%s: an object changed meanwhile, reconciling again", namespace, name)
                    self.enqueue(namespace, name)
                else:
                    LOG.exception("reconciling %s/%s failed", namespace, name)

    def _watch(
        self, list_function: Callable[..., Any], key: Callable[[dict[str, Any]], str | None], **kwargs: Any
    ) -> None:
        from kubernetes import watch

        while True:
            try:
                for event in watch.Watch().stream(list_function, timeout_seconds=60, **kwargs):
                    obj = event["raw_object"]
                    name = key(obj)
                    if name:
                        self.enqueue(obj["metadata"]["namespace"], name)
            except Exception:  # an expired or broken watch is opened again (and lists everything: a resync)
                LOG.exception("watch of %s ended", getattr(list_function, "__name__", list_function))

    def run(self) -> None:
        def owner(obj: dict[str, Any]) -> str | None:
            for reference in obj["metadata"].get("ownerReferences") or []:
                if reference.get("kind") == "Notebook" and reference.get("apiVersion", "").startswith(GROUP):
                    return str(reference["name"])
            return None

        watches: list[tuple[Callable[..., Any], Callable[[dict[str, Any]], str | None], dict[str, Any]]] = [
            (self.apps.list_stateful_set_for_all_namespaces, owner, {}),
            (self.core.list_service_for_all_namespaces, owner, {}),
            (self.core.list_pod_for_all_namespaces, lambda o: o["metadata"]["labels"]["notebook-name"],
             {"label_selector": "notebook-name"}),
        ]  # fmt: skip
        for list_function, key, kwargs in watches:
            threading.Thread(target=self._watch, args=(list_function, key), kwargs=kwargs, daemon=True).start()
        threading.Thread(target=self.work, name="reconcile", daemon=True).start()
        LOG.info("watching Notebooks")
        self._watch(
            self.custom.list_cluster_custom_object, lambda o: o["metadata"]["name"], group=GROUP, version=VERSION,
            plural=PLURAL,
        )  # fmt: skip


def main() -> None:
    from kubernetes import config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config.load_incluster_config()
    Controller().run()


if __name__ == "__main__":
    main()
