"""What a long wait prints at a steady pace, and how a wait's pods read in its messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core.kube import Kube
from kfcheck.core.waiting.causes import describe
from kfcheck.core.waiting.clock import Clock
from kfcheck.core.waiting.outages import is_transient

PROGRESS_SECONDS = 30.0


class Progress:
    """Elapsed time, the object's state, its pods' states and the last line one of them logged, every
    `every` seconds, so a 30-minute training wait is never silent. The states are what the wait's watches
    saw; the log line is the one request a line costs."""

    def __init__(self, clock: Clock, every: float = PROGRESS_SECONDS) -> None:
        self.clock, self.every = clock, every
        self.started = self.last = clock.monotonic()

    def due_in(self) -> float:
        return max(0.0, self.last + self.every - self.clock.monotonic())

    def tick(self, kube: Kube, what: str, last_seen: dict[str, Any] | None, pods: list[dict[str, Any]]) -> None:
        now = self.clock.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        line = last_log_line(kube, pods)
        print(f"kfcheck: {now - self.started:.0f}s waiting for {what}: {describe(last_seen)}; "
              f"pods: {pod_summary(pods)}" + (f"; last log line: {line}" if line else ""), flush=True)  # fmt: skip


def last_log_line(kube: Kube, pods: list[dict[str, Any]]) -> str:
    """The last line the first running pod logged ("" if none runs or it cannot be read)."""
    for pod in sorted(pods, key=_name):
        if (pod.get("status") or {}).get("phase") != "Running":
            continue
        metadata = pod.get("metadata") or {}
        try:
            text = kube.core.read_namespaced_pod_log(metadata.get("name"), metadata.get("namespace"), tail_lines=1)
        except Exception as error:
            if is_transient(error):
                return "(not read: the API server does not answer)"
            if isinstance(error, ApiException):  # e.g. a pod of several containers: no line, the wait goes on
                return ""
            raise
        return f"{metadata.get('name')}: {str(text).strip()[:200]}"
    return ""


def pod_summary(pods: Iterable[dict[str, Any]]) -> str:
    lines = []
    for pod in sorted(pods, key=_name):
        status = pod.get("status") or {}
        states = []
        for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
            state, name = container.get("state") or {}, container.get("name")
            if "waiting" in state:
                states.append(f"{name}=waiting:{(state['waiting'] or {}).get('reason')}")
            elif "terminated" in state:
                terminated = state["terminated"] or {}
                states.append(f"{name}=terminated:{terminated.get('reason')}({terminated.get('exitCode')})")
            elif "running" in state:
                states.append(f"{name}=running")
        lines.append(f"{_name(pod)} {status.get('phase')} {' '.join(states)}")
    return "; ".join(lines) or "(no pods)"


def _name(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name"))
