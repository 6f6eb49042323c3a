"""Evidence of a namespace for a failed step: events, pod logs, the objects' YAML — secrets redacted."""

from __future__ import annotations

from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException

from kfcheck.kube import Kube
from kfcheck.redact import redact_object, redact_text

MAX_LOG_BYTES = 20000


def events(kube: Kube, namespace: str) -> str:
    items = kube.core.list_namespaced_event(namespace).items
    items.sort(key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp))
    lines = [
        f"{e.last_timestamp or e.event_time} {e.type} {e.reason} "
        f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
        for e in items
    ]
    return redact_text("\n".join(lines) or "(no events)")


def pod_logs(kube: Kube, namespace: str) -> str:
    parts = []
    for pod in kube.core.list_namespaced_pod(namespace).items:
        containers = [c.name for c in (pod.spec.init_containers or [])] + [c.name for c in pod.spec.containers]
        for container in containers:
            for previous in (False, True):
                try:
                    text = kube.core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=container, previous=previous, limit_bytes=MAX_LOG_BYTES
                    )
                except ApiException:
                    continue  # no (previous) log yet
                label = " (previous)" if previous else ""
                parts.append(f"=== {pod.metadata.name}/{container}{label}\n{text}")
    return redact_text("\n".join(parts) or "(no pod logs)")


def objects_yaml(kube: Kube, namespace: str, extra: list[dict[str, Any]] | None = None) -> str:
    found: list[Any] = []
    for kind in ("Pod", "Service", "PersistentVolumeClaim", "ConfigMap", "Secret"):
        resource = kube.dynamic.resources.get(api_version="v1", kind=kind)
        found.extend(item.to_dict() for item in resource.get(namespace=namespace).items)
    for api_version, kind in (
        ("kubeflow.org/v1", "PyTorchJob"),
        ("kubeflow.org/v1", "TFJob"),
        ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
        ("jobset.x-k8s.io/v1alpha2", "JobSet"),
        ("batch/v1", "Job"),
    ):
        try:
            resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)
        except Exception:  # noqa: S112 - the CRD may be absent; evidence is best effort
            continue
        found.extend(item.to_dict() for item in resource.get(namespace=namespace).items)
    found.extend(extra or [])
    for obj in found:
        (obj.get("metadata") or {}).pop("managedFields", None)
    return yaml.safe_dump_all([redact_object(obj) for obj in found], sort_keys=False)


def has_trainjobs(kube: Kube, namespace: str) -> bool:
    try:
        resource = kube.dynamic.resources.get(api_version="trainer.kubeflow.org/v1alpha1", kind="TrainJob")
        return bool(resource.get(namespace=namespace).items)
    except Exception:
        return False  # no Trainer API: nothing of it to show


def controller_logs(kube: Kube, namespace: str, controllers_namespace: str) -> str:
    """The lines about `namespace` in the logs of every controller pod in `controllers_namespace` (Kubeflow
    Trainer and JobSet), the most recent MAX_LOG_BYTES of each."""
    parts = []
    for pod in kube.core.list_namespaced_pod(controllers_namespace).items:
        for container in pod.spec.containers:
            try:
                text = kube.core.read_namespaced_pod_log(
                    pod.metadata.name, controllers_namespace, container=container.name, limit_bytes=4 * MAX_LOG_BYTES
                )
            except ApiException as error:
                parts.append(f"=== {pod.metadata.name}/{container.name}: (log unreadable: {error.reason})")
                continue
            lines = "\n".join(line for line in text.splitlines() if namespace in line)[-MAX_LOG_BYTES:]
            parts.append(f"=== {pod.metadata.name}/{container.name} (lines naming {namespace})\n{lines or '(none)'}")
    return redact_text("\n".join(parts) or f"(no controller pods in namespace {controllers_namespace})")


def gather(kube: Kube, namespace: str, trainer_namespace: str | None = None) -> dict[str, str]:
    """name -> text of each piece of evidence; a piece that cannot be read says why. With trainer_namespace,
    a namespace holding TrainJobs also gets the Trainer and JobSet controllers' log lines about it."""
    evidence = {}
    for name, collect in (("events", events), ("pod logs", pod_logs), ("objects (YAML)", objects_yaml)):
        try:
            evidence[name] = collect(kube, namespace)
        except Exception as error:
            evidence[name] = f"(could not gather {name}: {error})"
    if trainer_namespace and has_trainjobs(kube, namespace):
        name = f"controller logs ({trainer_namespace})"
        try:
            evidence[name] = controller_logs(kube, namespace, trainer_namespace)
        except Exception as error:
            evidence[name] = f"(could not gather {name}: {error})"
    return evidence
