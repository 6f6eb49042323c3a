"""Plain pods the scenarios run: wait for them to finish, read their output."""

from __future__ import annotations

from typing import Any

from kfcheck.core import wait
from kfcheck.core.scenario import Scenario


def wait_succeeded(scenario: Scenario, name: str) -> dict[str, Any]:
    return wait.until(
        scenario.kube,
        wait.Wait(
            f"pod {scenario.namespace}/{name} to complete",
            wait.Target(scenario.kube.core.list_namespaced_pod, scenario.namespace, name),
            done=wait.pod_succeeded,
            failed=wait.pod_failure,
            timeout=scenario.settings.timeout,
            pods=wait.Pods.the_object(scenario.owns),
        ),
    )


def log(scenario: Scenario, name: str) -> str:
    return str(scenario.kube.core.read_namespaced_pod_log(name, scenario.namespace))
