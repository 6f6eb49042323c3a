"""The shared detector of causes that will not resolve by themselves (kfcheck.core.wait.pod_problems), on
objects shaped as the kubernetes client returns them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kfcheck.core import wait


def _kube(events: list[Any]) -> Any:
    core = SimpleNamespace(
        list_namespaced_event=lambda _namespace, field_selector: SimpleNamespace(items=events),
        list_namespaced_pod=lambda _namespace: SimpleNamespace(items=[]),
    )
    return SimpleNamespace(core=core)


def _event(reason: str, count: int, kind: str = "TFJob", name: str = "mnist") -> Any:
    involved = SimpleNamespace(kind=kind, name=name)
    return SimpleNamespace(reason=reason, count=count, involved_object=involved, message=f"Error creating: {reason}")


@pytest.mark.parametrize("reason", ["FailedCreatePod", "FailedCreate"])
def test_a_controller_that_keeps_failing_to_create_its_pods_is_a_cause(reason: str) -> None:
    """The training operator reports FailedCreatePod (a webhook refusing its pods), Kubernetes' Job
    controller FailedCreate: either, repeated, ends a wait at once instead of at its deadline."""
    (problem,) = wait.pod_problems(_kube([_event(reason, wait.FAILED_CREATE_REPEATS)]), "ns")
    assert problem.startswith("TFJob mnist cannot create its pods") and "Error creating" in problem


def test_a_single_failed_create_is_not_yet_a_cause() -> None:
    assert wait.pod_problems(_kube([_event("FailedCreatePod", 1)]), "ns") == []


def test_another_scenarios_failures_in_a_shared_namespace_are_not_ours() -> None:
    events = [_event("FailedCreatePod", 5, name="theirs")]
    assert wait.pod_problems(_kube(events), "ns", owned=lambda name: name == "mnist") == []


def test_failures_to_reach_the_api_server_are_an_outage_not_a_cause() -> None:
    """During an API server outage the operator's creates get no answer; they succeed once it is back."""
    outage = _event("FailedCreatePod", 13)
    outage.message = ('Error creating: Post "https://10.96.0.1:443/api/v1/namespaces/ns/pods": dial tcp '
                      "10.96.0.1:443: connect: network is unreachable")  # fmt: skip
    assert wait.pod_problems(_kube([outage]), "ns") == []


def test_a_controller_whose_cache_lags_after_an_outage_is_not_a_cause() -> None:
    """After an API outage the operator re-creates a pod that exists (its cache lags); its retry gets past it."""
    lagging = _event("FailedCreatePod", 5)
    lagging.message = 'Error creating: pods "mnist-ps-0" already exists'
    assert wait.pod_problems(_kube([lagging]), "ns") == []


def test_a_webhook_that_does_not_answer_the_api_server_is_a_cause() -> None:
    webhook_down = _event("FailedCreate", 3, kind="StatefulSet", name="nb")
    webhook_down.message = (
        'create Pod nb-0 in StatefulSet nb failed error: Internal error occurred: failed calling webhook "x.kubeflow"'
        ' failed to call webhook: Post "https://svc.kubeflow.svc:443/apply-poddefault?timeout=10s": dial tcp'
        " 10.96.1.2:443: connect: connection refused"
    )
    (problem,) = wait.pod_problems(_kube([webhook_down]), "ns")
    assert "failed calling webhook" in problem
