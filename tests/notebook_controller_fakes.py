"""A fake Kubernetes API for the notebook controller's unit tests: objects by (kind, namespace, name), the
kubernetes client's method names, answers with `.data` as `_preload_content=False` gives them."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import notebook_controller as nc

NAMESPACE = "team"
KINDS = {"notebooks": "Notebook", "virtualservices": "VirtualService"}


class Answer:
    def __init__(self, obj: dict) -> None:
        self.data = json.dumps(obj).encode()


def not_found() -> Exception:
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=404)


def notebook(name: str = "nb", annotations: dict | None = None, **first_container: Any) -> dict:
    metadata: dict[str, Any] = {"name": name, "namespace": NAMESPACE, "uid": "u1", "resourceVersion": "5"}
    if annotations is not None:
        metadata["annotations"] = annotations
    containers = [{"name": name, "image": "jupyter", **first_container}]
    return {"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": metadata,
            "spec": {"template": {"spec": {"containers": containers}}}}  # fmt: skip


class FakeApi:
    """CustomObjectsApi, AppsV1Api and CoreV1Api at once. `unserved` holds plurals the cluster does not serve
    (every call on them answers 404, as the API server does without the CRD); `failing` verbs raise."""

    def __init__(self, *objects: dict) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.writes: list[str] = []
        self.unserved: set[str] = set()
        self.failing: set[str] = set()
        self.version = 10
        for obj in objects:
            self.put(obj)

    def put(self, obj: dict) -> dict:
        self.version += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.objects[(stored["kind"], stored["metadata"].get("namespace", ""), stored["metadata"]["name"])] = stored
        return stored

    def read(self, kind: str, namespace: str, name: str) -> Answer:
        if (kind, namespace, name) not in self.objects:
            raise not_found()
        return Answer(self.objects[(kind, namespace, name)])

    def write(self, verb: str, kind: str, body: dict) -> Answer:
        self.writes.append(f"{verb} {kind}")
        if f"{verb} {kind}" in self.failing:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=500)
        return Answer(self.put({"kind": kind, **body}))

    # CustomObjectsApi
    def _custom(self, plural: str) -> str:
        if plural in self.unserved:
            raise not_found()
        return KINDS[plural]

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                     **_: Any) -> Answer:  # fmt: skip
        return self.read(self._custom(plural), namespace, name)

    def create_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, body: dict,
                                        **_: Any) -> Answer:  # fmt: skip
        return self.write("create", self._custom(plural), body)

    def replace_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                         body: dict, **_: Any) -> Answer:  # fmt: skip
        return self.write("replace", self._custom(plural), body)

    def replace_namespaced_custom_object_status(self, group: str, version: str, namespace: str, plural: str,
                                                name: str, body: dict, **_: Any) -> Answer:  # fmt: skip
        return self.write("status", "Notebook", body)

    def list_cluster_custom_object(self, group: str, version: str, plural: str, **_: Any) -> Answer:
        kind = self._custom(plural)
        return Answer({"items": [o for (k, _, _), o in self.objects.items() if k == kind]})

    # AppsV1Api
    def read_namespaced_stateful_set(self, name: str, namespace: str, **_: Any) -> Answer:
        return self.read("StatefulSet", namespace, name)

    def create_namespaced_stateful_set(self, namespace: str, body: dict, **_: Any) -> Answer:
        return self.write("create", "StatefulSet", body)

    def replace_namespaced_stateful_set(self, name: str, namespace: str, body: dict, **_: Any) -> Answer:
        return self.write("replace", "StatefulSet", body)

    # CoreV1Api
    def read_namespaced_service(self, name: str, namespace: str, **_: Any) -> Answer:
        return self.read("Service", namespace, name)

    def create_namespaced_service(self, namespace: str, body: dict, **_: Any) -> Answer:
        return self.write("create", "Service", body)

    def replace_namespaced_service(self, name: str, namespace: str, body: dict, **_: Any) -> Answer:
        return self.write("replace", "Service", body)

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Answer:
        return self.read("Pod", namespace, name)

    def read_namespaced_event(self, name: str, namespace: str, **_: Any) -> Answer:
        return self.read("Event", namespace, name)

    def create_namespaced_event(self, namespace: str, body: dict, **_: Any) -> Answer:
        if ("Event", namespace, body["metadata"]["name"]) in self.objects:
            from kubernetes.client.exceptions import ApiException

            raise ApiException(status=409)
        return self.write("create", "Event", body)

    def patch_namespaced_event(self, name: str, namespace: str, body: dict, **_: Any) -> Answer:
        found = self.read("Event", namespace, name)  # 404 when it is gone
        self.writes.append("patch Event")
        return Answer(self.put({**json.loads(found.data), **body}))

    def events_about(self, name: str) -> list[dict]:
        """The events the controller wrote about the object called name."""
        return [o for (k, _, _), o in self.objects.items() if k == "Event" and o["involvedObject"]["name"] == name
                and (o.get("source") or {}).get("component") == "notebook-controller"]  # fmt: skip


def controller_on(api: FakeApi, env: dict[str, str] | None = None) -> nc.Controller:
    """A Controller whose three APIs are the fake (its __init__ only adds the kubernetes client's)."""
    controller = nc.Controller.__new__(nc.Controller)
    controller.custom = controller.apps = controller.core = api
    controller.env = dict(env or {})
    controller.add_fsgroup = controller.env.get("ADD_FSGROUP")
    controller.use_istio = controller.env.get("USE_ISTIO") == "true"
    return controller
