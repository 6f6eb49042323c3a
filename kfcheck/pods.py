"""Plain pods the scenarios run: wait for them to finish, read their output."""

from __future__ import annotations

from typing import Any

from kfcheck import wait
from kfcheck.kube import Kube


def _failure(pod: dict[str, Any]) -> str | None:
    status = pod.get("status") or {}
    if status.get("phase") != "Failed":
        return None
    reasons = [
        f"{c.get('name')}: {c.get('state', {}).get('terminated', {}).get('reason')} "
        f"(exit {c.get('state', {}).get('terminated', {}).get('exitCode')})"
        for c in status.get("containerStatuses") or []
    ]
    return "the pod failed: " + "; ".join(reasons)


def wait_succeeded(kube: Kube, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    return wait.wait_for(
        kube,
        f"pod {namespace}/{name} to complete",
        kube.core.list_namespaced_pod,
        namespace,
        name,
        done=lambda pod: (pod.get("status") or {}).get("phase") == "Succeeded",
        failed=_failure,
        timeout=timeout,
    )


def log(kube: Kube, namespace: str, name: str) -> str:
    return kube.core.read_namespaced_pod_log(name, namespace)
