"""Kubeflow training jobs (kubeflow.org/v1) in general: create from a fixture, wait, inspect replicas."""

from __future__ import annotations

import functools
import time
from typing import Any

from kfcheck import manifests, wait
from kfcheck.kube import Kube

GROUP, VERSION = "kubeflow.org", "v1"
API_VERSION = f"{GROUP}/{VERSION}"


def create(kube: Kube, fixture: str, namespace: str, **values: Any) -> dict[str, Any]:
    return manifests.apply_fixture(kube, fixture, namespace, **values)[0]


def _lister(kube: Kube, plural: str) -> Any:
    return functools.partial(_list, kube, plural)


def _list(kube: Kube, plural: str, namespace: str, **kwargs: Any) -> Any:
    return kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **kwargs)


def wait_succeeded(kube: Kube, kind: str, plural: str, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    def failed(job: dict[str, Any]) -> str | None:
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                return f"the {kind} failed: {condition.get('reason')}: {condition.get('message')}"
        return None

    return wait.wait_for(
        kube,
        f"{kind} {namespace}/{name} to succeed",
        _lister(kube, plural),
        namespace,
        name,
        done=lambda job: wait.has_condition(job, "Succeeded"),
        failed=failed,
        timeout=timeout,
    )


def replica_pods(kube: Kube, namespace: str, job_name: str) -> list[Any]:
    selector = f"training.kubeflow.org/job-name={job_name}"
    pods = kube.core.list_namespaced_pod(namespace, label_selector=selector).items
    return sorted(pods, key=lambda pod: pod.metadata.name)


def replica_type(pod: Any) -> str:
    return pod.metadata.labels.get("training.kubeflow.org/replica-type", "")


def pod_log(kube: Kube, namespace: str, pod_name: str, container: str) -> str:
    return kube.core.read_namespaced_pod_log(pod_name, namespace, container=container)


def services(kube: Kube, namespace: str, job_name: str) -> dict[str, Any]:
    selector = f"training.kubeflow.org/job-name={job_name}"
    return {
        svc.metadata.name: svc for svc in kube.core.list_namespaced_service(namespace, label_selector=selector).items
    }


def wait_replicas_completed(kube: Kube, namespace: str, job_name: str, pods: list[Any], timeout: float) -> None:
    """Watches each replica pod until it Succeeded; a pod that Failed ends the wait at once.

    A job is Succeeded as soon as its success policy holds (e.g. the master finished), while the kubelet
    may not yet have reported another replica's exit, so the pods are waited for, not sampled."""

    def pod_failed(pod: dict[str, Any]) -> str | None:
        if (pod.get("status") or {}).get("phase") == "Failed":
            return f"replica pod {pod['metadata']['name']} Failed: {wait.pod_summary(kube, namespace)}"
        return None

    deadline = time.monotonic() + timeout
    for pod in pods:
        wait.wait_for(
            kube,
            f"replica pod {namespace}/{pod.metadata.name} of {job_name} to complete",
            kube.core.list_namespaced_pod,
            namespace,
            pod.metadata.name,
            done=lambda seen: (seen.get("status") or {}).get("phase") == "Succeeded",
            failed=pod_failed,
            timeout=max(1.0, deadline - time.monotonic()),
            exists=True,
        )
