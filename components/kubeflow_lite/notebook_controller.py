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
  Notebook, conditions mirrored from the pod's (lastProbeTime/lastTransitionTime now when the pod has none);
- owner references name the Notebook as kubeflow.org/v1beta1, the version upstream's reconciler reads;
- with USE_ISTIO=true, a VirtualService per Notebook (notebook_istio.py);
- events of the Notebook's pod and StatefulSet issued again on the Notebook (notebook_events.py);
- metrics on :8080 /metrics, probes on :8081 /healthz and /readyz (notebook_metrics.py);
- with ENABLE_CULLING=true, idle notebook servers stopped (notebook_culling.py).
The watches, work queues and start-up are in notebook_manager.py. Not implemented (see ../README.md):
leader election (upstream has the flag, off in its manifests).

python3 -m kubeflow_lite.notebook_controller [--metrics-addr :8080] [--probe-addr :8081]
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

from kubeflow_lite import notebook_events as events
from kubeflow_lite.notebook_events import EventRecorder
from kubeflow_lite.notebook_istio import reconcile_virtual_service, virtual_service
from kubeflow_lite.notebook_metrics import NotebookMetrics

LOG = logging.getLogger("notebook-controller")
GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "notebooks"
DEFAULT_CONTAINER_PORT = 8888
DEFAULT_SERVING_PORT = 80
DEFAULT_FS_GROUP = 100
PREFIX_ENV = "NB_PREFIX"
STOP_ANNOTATION = "kubeflow-resource-stopped"


def owner_reference(notebook: dict[str, Any]) -> dict[str, Any]:
    """ctrl.SetControllerReference of the v1beta1.Notebook upstream reconciles (notebook_controller.go:29, 124,
    140, 173, 580 at v1.10.0): the owner's apiVersion is kubeflow.org/v1beta1."""
    return {"apiVersion": f"{GROUP}/v1beta1", "kind": "Notebook", "name": notebook["metadata"]["name"],
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


class _EventSink:
    """The recorder's writes through CoreV1Api, answers as dicts."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(json.loads(self.core.create_namespaced_event(namespace, body, _preload_content=False).data))

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(json.loads(self.core.patch_namespaced_event(name, namespace, body, _preload_content=False).data))


class Controller:
    """The Notebook reconciler (notebook_controller.go:89-225 at v1.10.0). The class defaults are the
    settings of a controller made without __init__ (the unit tests' fakes)."""

    env: Mapping[str, str] = {}
    use_istio = False
    metrics: NotebookMetrics | None = None
    recorder: EventRecorder | None = None

    def __init__(self, api_client: Any = None, env: Mapping[str, str] | None = None) -> None:
        from kubernetes import client

        self.api = api_client or client.ApiClient()
        self.custom = client.CustomObjectsApi(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.env = dict(os.environ if env is None else env)
        self.add_fsgroup = self.env.get("ADD_FSGROUP")
        self.use_istio = self.env.get("USE_ISTIO") == "true"  # notebook_controller.go:203
        self.metrics = NotebookMetrics(self._stateful_sets)
        self.recorder = EventRecorder(_EventSink(self.core), lambda: datetime.datetime.now(datetime.UTC))

    def _stateful_sets(self) -> list[dict[str, Any]]:
        answer = self.apps.list_stateful_set_for_all_namespaces(_preload_content=False)
        return list(json.loads(answer.data).get("items") or [])

    def _get(self, read: Callable[..., Any], *args: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return dict(json.loads(read(*args, _preload_content=False).data))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def _reconcile_stateful_set(self, notebook: dict[str, Any]) -> dict[str, Any]:
        """notebook_controller.go:138-169; the create counts in notebook_create_total, a failed one also in
        notebook_create_failed_total (149, 154)."""
        desired = stateful_set(notebook, self.add_fsgroup)
        namespace, name = notebook["metadata"]["namespace"], notebook["metadata"]["name"]
        found = self._get(self.apps.read_namespaced_stateful_set, name, namespace)
        if found is None:
            LOG.info("creating StatefulSet %s/%s", namespace, name)
            if self.metrics is not None:
                self.metrics.inc("notebook_create_total", namespace)
            try:
                created = self.apps.create_namespaced_stateful_set(namespace, desired, _preload_content=False)
            except Exception:
                if self.metrics is not None:
                    self.metrics.inc("notebook_create_failed_total", namespace)
                raise
            return dict(json.loads(created.data))
        if copy_stateful_set_fields(desired, found):
            LOG.info("updating StatefulSet %s/%s", namespace, name)
            replaced = self.apps.replace_namespaced_stateful_set(name, namespace, found, _preload_content=False)
            found = json.loads(replaced.data)
        return found

    def _reconcile_service(self, notebook: dict[str, Any]) -> None:
        """notebook_controller.go:171-200."""
        desired = service(notebook)
        namespace, name = notebook["metadata"]["namespace"], notebook["metadata"]["name"]
        found = self._get(self.core.read_namespaced_service, name, namespace)
        if found is None:
            LOG.info("creating Service %s/%s", namespace, name)
            self.core.create_namespaced_service(namespace, desired)
        elif copy_service_fields(desired, found):
            LOG.info("updating Service %s/%s", namespace, name)
            self.core.replace_namespaced_service(name, namespace, found)

    def reconcile(self, namespace: str, name: str) -> None:
        notebook = self._get(self.custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name)
        if notebook is None or notebook["metadata"].get("deletionTimestamp"):
            return  # gone or going: owner references remove its StatefulSet and Service
        found = self._reconcile_stateful_set(notebook)
        self._reconcile_service(notebook)
        if self.use_istio:  # notebook_controller.go:202-208
            desired = virtual_service(notebook, owner_reference(notebook), self.env)
            reconcile_virtual_service(self.custom, desired, self._get)
        pod = self._get(self.core.read_namespaced_pod, f"{name}-0", namespace)
        status = notebook_status(notebook, found or {}, pod, now_rfc3339())
        if _without_filled_times(status) != _without_filled_times(notebook.get("status") or {}):
            notebook["status"] = status
            self.custom.replace_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, name, notebook)

    def reemit(self, namespace: str, event_name: str) -> None:
        """notebook_controller.go:93-118: the event, read again, issued on its Notebook when that exists."""
        event = self._get(self.core.read_namespaced_event, event_name, namespace)
        if event is None or not events.is_pod_or_stateful_set_event(event) or self.recorder is None:
            return
        name = events.notebook_name_for(event, lambda pod, pod_namespace: self._get(self.core.read_namespaced_pod, pod,
                                                                             pod_namespace))  # fmt: skip
        if name is None:
            return
        notebook = self._get(self.custom.get_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name)
        if notebook is None:
            return
        LOG.info("re-emitting event %s/%s on Notebook %s", namespace, event_name, name)
        self.recorder.event(
            notebook, event.get("type") or "", event.get("reason") or "", events.reissued_message(event)
        )


def main() -> None:
    from kubeflow_lite import notebook_manager

    notebook_manager.main()


if __name__ == "__main__":
    main()
