"""Kubeflow training jobs (kubeflow.org/v1) in general: create from a fixture, wait, inspect replicas."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from kfcheck.core import wait
from kfcheck.core.scenario import Controller, Scenario

GROUP, VERSION = "kubeflow.org", "v1"
API_VERSION = f"{GROUP}/{VERSION}"
JOB_NAME_LABEL = "training.kubeflow.org/job-name"  # the training operator's label on a job's pods and Services
TRAINING_OPERATOR = Controller("training-operator", ("control-plane=kubeflow-training-operator",))


def create(scenario: Scenario, fixture: str, **values: Any) -> dict[str, Any]:
    scenario.uses(TRAINING_OPERATOR)
    return scenario.create(fixture, **values)[0]


def get(scenario: Scenario, plural: str, name: str) -> dict[str, Any]:
    job: dict[str, Any] = scenario.kube.custom.get_namespaced_custom_object(
        GROUP, VERSION, scenario.namespace, plural, name
    )
    return job


def replicas(job: dict[str, Any], replica_type: str) -> int:
    """How many replicas of a type the job asked for (its spec, whatever the kind calls the map)."""
    specs = next(value for key, value in job["spec"].items() if key.endswith("ReplicaSpecs"))
    return int((specs.get(replica_type) or {}).get("replicas", 0))


def _lister(scenario: Scenario, plural: str) -> Any:
    def list_jobs(namespace: str, **kwargs: Any) -> Any:
        return scenario.kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **kwargs)

    return list_jobs


def wait_succeeded(scenario: Scenario, kind: str, plural: str, name: str, timeout: float) -> dict[str, Any]:
    def failed(job: dict[str, Any]) -> str | None:
        for condition in (job.get("status") or {}).get("conditions") or []:
            if condition.get("type") == "Failed" and condition.get("status") == "True":
                return f"the {kind} failed: {condition.get('reason')}: {condition.get('message')}"
        return None

    return wait.until(
        scenario.kube,
        wait.Wait(
            f"{kind} {scenario.namespace}/{name} to succeed",
            wait.Target(_lister(scenario, plural), scenario.namespace, name),
            done=lambda job: wait.has_condition(job, "Succeeded"),
            failed=failed,
            timeout=timeout,
            pods=wait.Pods.labelled(f"{JOB_NAME_LABEL}={name}", scenario.owns),
            progress=True,
        ),
    )


@dataclass(frozen=True)
class JobKind:
    """What the steps do alike with every kind of training job, bound to one kind."""

    kind: str
    plural: str
    fixture: str  # kfcheck/kubeflow/fixtures/<fixture>.yaml trains; <fixture>-wiring.yaml only reports its wiring

    def submit_wiring_check(self, scenario: Scenario, name: str, workers: int) -> dict[str, Any]:
        settings = scenario.settings
        return create(scenario, f"{self.fixture}-wiring", name=scenario.name(name), image=settings.busybox_image,
                      workers=workers, deadline=settings.timeout)  # fmt: skip

    def wait_succeeded(self, scenario: Scenario, name: str, training: bool = False) -> dict[str, Any]:
        timeout = scenario.settings.training_timeout if training else scenario.settings.timeout
        return wait_succeeded(scenario, self.kind, self.plural, scenario.name(name), timeout)


def replica_pods(scenario: Scenario, job_name: str) -> list[Any]:
    selector = f"{JOB_NAME_LABEL}={job_name}"
    pods = scenario.kube.core.list_namespaced_pod(scenario.namespace, label_selector=selector).items
    return sorted(pods, key=lambda pod: pod.metadata.name)


def replica_type(pod: Any) -> str:
    return str(pod.metadata.labels.get("training.kubeflow.org/replica-type", ""))


def replica_index(pod: Any) -> int:
    return int(pod.metadata.labels.get("training.kubeflow.org/replica-index", "0"))


def pod_log(scenario: Scenario, pod_name: str, container: str) -> str:
    return str(scenario.kube.core.read_namespaced_pod_log(pod_name, scenario.namespace, container=container))


def services(scenario: Scenario, job_name: str) -> dict[str, Any]:
    selector = f"{JOB_NAME_LABEL}={job_name}"
    listed = scenario.kube.core.list_namespaced_service(scenario.namespace, label_selector=selector)
    return {svc.metadata.name: svc for svc in listed.items}


def wait_replicas_completed(scenario: Scenario, job_name: str, pods: list[Any], timeout: float) -> None:
    """Watches each replica pod until it Succeeded; a pod that Failed ends the wait at once.

    A job is Succeeded as soon as its success policy holds (e.g. the master finished), while the kubelet
    may not yet have reported another replica's exit, so the pods are waited for, not sampled."""
    deadline = time.monotonic() + timeout
    for pod in pods:
        wait.until(
            scenario.kube,
            wait.Wait(
                f"replica pod {scenario.namespace}/{pod.metadata.name} of {job_name} to complete",
                wait.Target(scenario.kube.core.list_namespaced_pod, scenario.namespace, pod.metadata.name),
                done=wait.pod_succeeded,
                failed=wait.pod_failure,
                timeout=max(1.0, deadline - time.monotonic()),
                pods=wait.Pods.the_object(scenario.owns),
                exists=True,
            ),
        )
