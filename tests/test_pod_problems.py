"""The shared detector of causes that will not resolve by themselves (kfcheck.core.wait.event_problem and
pod_problems), on objects shaped as the API server sends them in a list or a watch (camelCase dicts)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kfcheck.core import wait


def _event(reason: str, count: int, kind: str = "TFJob", name: str = "mnist") -> dict[str, Any]:
    involved, metadata = {"kind": kind, "name": name}, {"name": f"{name}.1", "uid": f"uid-{name}"}
    return {"type": "Warning", "reason": reason, "count": count, "involvedObject": involved,
            "message": f"Error creating: {reason}", "metadata": metadata}  # fmt: skip


def _pod(name: str = "mnist-worker-0", waiting: str = "", condition: dict[str, str] | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting, "message": "  back-off pulling  "}} if waiting else {"running": {}}
    status = {"phase": "Pending", "containerStatuses": [{"name": "tensorflow", "state": state}],
              "conditions": [condition] if condition else []}  # fmt: skip
    return {"metadata": {"name": name}, "status": status}


def _unschedulable(message: str) -> dict[str, str]:
    return {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}


def _nodes(*taint_keys: str) -> Any:
    taints = [SimpleNamespace(key=key) for key in taint_keys]
    node = SimpleNamespace(spec=SimpleNamespace(taints=taints))
    return SimpleNamespace(core=SimpleNamespace(list_node=lambda: SimpleNamespace(items=[node])))


@pytest.mark.parametrize("reason", ["FailedCreatePod", "FailedCreate"])
def test_a_controller_that_keeps_failing_to_create_its_pods_is_a_cause(reason: str) -> None:
    """The training operator reports FailedCreatePod (a webhook refusing its pods), Kubernetes' Job
    controller FailedCreate: either, repeated, ends a wait at once instead of at its deadline."""
    problem = wait.event_problem(_event(reason, wait.FAILED_CREATE_REPEATS))
    assert problem is not None
    assert problem.startswith("TFJob mnist cannot create its pods") and "Error creating" in problem


def test_a_claim_without_a_volume_is_a_cause() -> None:
    problem = wait.event_problem(_event("ProvisioningFailed", 4, kind="PersistentVolumeClaim", name="context"))
    assert problem is not None and problem.startswith("PersistentVolumeClaim context cannot get a volume (4 times)")


def test_a_single_failed_create_is_not_yet_a_cause() -> None:
    assert wait.event_problem(_event("FailedCreatePod", 1)) is None


def test_another_scenarios_failures_in_a_shared_namespace_are_not_ours() -> None:
    assert wait.event_problem(_event("FailedCreatePod", 5, name="theirs"), owned=lambda name: name == "mnist") is None


def test_failures_to_reach_the_api_server_are_an_outage_not_a_cause() -> None:
    """During an API server outage the operator's creates get no answer; they succeed once it is back."""
    outage = _event("FailedCreatePod", 13)
    outage["message"] = ('Error creating: Post "https://10.96.0.1:443/api/v1/namespaces/ns/pods": dial tcp '
                         "10.96.0.1:443: connect: network is unreachable")  # fmt: skip
    assert wait.event_problem(outage) is None


def test_a_controller_whose_cache_lags_after_an_outage_is_not_a_cause() -> None:
    """After an API outage the operator re-creates a pod that exists (its cache lags); its retry gets past it."""
    lagging = _event("FailedCreatePod", 5)
    lagging["message"] = 'Error creating: pods "mnist-ps-0" already exists'
    assert wait.event_problem(lagging) is None


def test_a_webhook_that_does_not_answer_the_api_server_is_a_cause() -> None:
    webhook_down = _event("FailedCreate", 3, kind="StatefulSet", name="nb")
    webhook_down["message"] = (
        'create Pod nb-0 in StatefulSet nb failed error: Internal error occurred: failed calling webhook "x.kubeflow"'
        ' failed to call webhook: Post "https://svc.kubeflow.svc:443/apply-poddefault?timeout=10s": dial tcp'
        " 10.96.1.2:443: connect: connection refused"
    )
    problem = wait.event_problem(webhook_down)
    assert problem is not None and "failed calling webhook" in problem


@pytest.mark.parametrize("reason", sorted(wait.FATAL_WAITING_REASONS))
def test_a_container_waiting_for_a_reason_that_will_not_pass_is_a_cause(reason: str) -> None:
    (problem,) = wait.pod_problems(_pod(waiting=reason))
    assert problem == (f"pod mnist-worker-0 container tensorflow: {reason}: {wait.FATAL_WAITING_REASONS[reason]} "
                       "(back-off pulling)")  # fmt: skip


def test_a_container_being_created_is_not_a_cause() -> None:
    assert wait.pod_problems(_pod(waiting="ContainerCreating")) == []


def test_a_pod_that_cannot_be_scheduled_is_a_cause_unless_it_waits_for_its_claim() -> None:
    (problem,) = wait.pod_problems(_pod(condition=_unschedulable("0/1 nodes are available: 1 Insufficient cpu.")))
    assert problem == "pod mnist-worker-0 cannot be scheduled: 0/1 nodes are available: 1 Insufficient cpu."
    waiting = _unschedulable("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    assert wait.pod_problems(_pod(condition=waiting)) == []


def test_a_taint_of_nodes_that_have_not_reported_yet_is_not_a_cause_but_another_taint_is() -> None:
    pod = _pod(condition=_unschedulable("0/1 nodes are available: 1 node(s) had untolerated taint {x}."))
    assert wait.pod_problems(pod, _nodes("node.kubernetes.io/not-ready")) == []
    (problem,) = wait.pod_problems(pod, _nodes("node.kubernetes.io/not-ready", "dedicated"))
    assert "cannot be scheduled" in problem
