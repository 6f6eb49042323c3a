"""What served each Kubeflow API the suite checks, read from the cluster at the start of a run: the
Deployment behind the API's controller or webhook (found by the pod labels every known install gives it,
kfcheck.core.scenario.Controller), its images with the digests the node pulled, and its version. A Deployment
annotated `kfcheck/stand-in` is one of kfcheck's own stand-ins (the embedded cluster's PodDefault webhook
and notebook controller), and the report says so with the annotation's words. What cannot be read (a
Profile user may not read the Kubeflow namespace) is said, never guessed."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core import capabilities
from kfcheck.core.capabilities import Api
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube
from kfcheck.core.scenario import Controller

STAND_IN_ANNOTATION = "kfcheck/stand-in"
VERSION_LABEL = "app.kubernetes.io/version"
TITLE = "what served each Kubeflow API"
KIND = "kfcheck/provenance"


@dataclass
class Served:
    api: str  # "PyTorchJob (kubeflow.org/v1)"
    component: str  # the controller or webhook, as the suite names it
    served: bool = False
    deployment: str = ""  # namespace/name
    images: list[str] = field(default_factory=list)  # image (@ digest the node pulled, when known)
    version: str = ""
    stand_in: str = ""  # the kfcheck/stand-in annotation: one of ours, following which Kubeflow
    note: str = ""  # what could not be read, and why

    def line(self) -> str:
        if not self.served:
            return f"{self.api}: not served by this cluster"
        if not self.deployment:
            return f"{self.api}: served; {self.component}: {self.note or 'its Deployment was not found'}"
        origin = f" — {self.stand_in}" if self.stand_in else ""
        version = self.version or "(no version label)"
        return f"{self.api}: {self.component}, Deployment {self.deployment}, version {version}{origin}; images " + (
            ", ".join(self.images) or "(none read)"
        )


def read(kube: Kube, settings: Settings, known: list[tuple[Api, Controller]]) -> list[Served]:
    """One entry per API: whether it is served and, where it is, what serves it."""
    entries = []
    for api, controller in known:
        entry = Served(f"{api.kind} ({api.api_version})", controller.name)
        entry.served = capabilities.serves(kube, api)
        if entry.served:
            try:
                _fill(kube, settings, controller, entry)
            except ApiException as error:
                entry.note = f"not readable by this user ({error.status} {error.reason})"
        entries.append(entry)
    return entries


def _fill(kube: Kube, settings: Settings, controller: Controller, entry: Served) -> None:
    namespaces = list(dict.fromkeys(str(getattr(settings, key)) for key in controller.namespace_settings))
    for namespace, selector in itertools.product(namespaces, controller.label_selectors):
        pods = kube.core.list_namespaced_pod(namespace, label_selector=selector).items
        if pods:
            _from_pod(kube, pods[0], entry)
            return
    entry.note = f"no pod with {' or '.join(controller.label_selectors)} in {' or '.join(namespaces)}"


def _from_pod(kube: Kube, pod: Any, entry: Served) -> None:
    namespace = pod.metadata.namespace
    deployment = _owning_deployment(kube, pod)
    template_labels = pod.metadata.labels or {}
    digests = {status.image: status.image_id for status in (pod.status.container_statuses or []) if status.image_id}
    if deployment is None:
        entry.deployment, entry.note = f"{namespace}/pod {pod.metadata.name}", "the pod has no Deployment"
        images = [container.image for container in pod.spec.containers]
        annotations: dict[str, str] = pod.metadata.annotations or {}
        labels = template_labels
    else:
        entry.deployment = f"{namespace}/{deployment.metadata.name}"
        images = [container.image for container in deployment.spec.template.spec.containers]
        annotations = deployment.metadata.annotations or {}
        labels = {**template_labels, **(deployment.metadata.labels or {})}
    entry.images = [_with_digest(image, digests) for image in images]
    entry.version = labels.get(VERSION_LABEL) or _tag(images[0] if images else "")
    entry.stand_in = annotations.get(STAND_IN_ANNOTATION, "")


def _owning_deployment(kube: Kube, pod: Any) -> Any:
    owner = next((ref for ref in pod.metadata.owner_references or [] if ref.kind == "ReplicaSet"), None)
    if owner is None:
        return None
    replica_set = kube.apps.read_namespaced_replica_set(owner.name, pod.metadata.namespace)
    parent = next((ref for ref in replica_set.metadata.owner_references or [] if ref.kind == "Deployment"), None)
    return None if parent is None else kube.apps.read_namespaced_deployment(parent.name, pod.metadata.namespace)


def _with_digest(image: str, digests: dict[str, str]) -> str:
    digest = digests.get(image, "").rpartition("@")[2]
    return f"{image} ({digest})" if digest.startswith("sha256:") else image


def _tag(image: str) -> str:
    name = image.split("@", 1)[0]
    tag = name.rpartition(":")[2] if ":" in name.rpartition("/")[2] else ""
    return f"image tag {tag}" if tag else ""


def render(entries: list[Served]) -> str:
    return "\n".join(entry.line() for entry in entries)


def payload(entries: list[Served]) -> dict[str, Any]:
    return {"kind": KIND, "apis": [asdict(entry) for entry in entries]}
