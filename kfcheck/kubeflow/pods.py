"""Plain pods the scenarios run: wait for them to finish, read their output."""

from __future__ import annotations

from typing import Any

from kfcheck.core import wait
from kfcheck.core.scenario import Scenario


def wait_succeeded(scenario: Scenario, name: str) -> dict[str, Any]:
    return wait.wait_for(
        scenario.kube,
        f"pod {scenario.namespace}/{name} to complete",
        scenario.kube.core.list_namespaced_pod,
        scenario.namespace,
        name,
        done=wait.pod_succeeded,
        failed=wait.pod_failure,
        timeout=scenario.settings.timeout,
        owned=scenario.owns,
    )


def log(scenario: Scenario, name: str) -> str:
    return str(scenario.kube.core.read_namespaced_pod_log(name, scenario.namespace))
