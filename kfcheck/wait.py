"""The one place that waits: a watch on the object with a deadline, re-opened when the watch expires.

Between watch events (at most every `probe_seconds`) the pods of the namespace are checked for
causes that will not go away by themselves: an image that cannot be pulled, a crash loop, a bad
container config. Those end the wait at once with the cause, instead of at the deadline. A timeout
reports what was last seen of the object and of its pods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from kfcheck.kube import Kube

FATAL_WAITING_REASONS = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CrashLoopBackOff": "a container keeps crashing",
    "CreateContainerConfigError": "a container's configuration is invalid (missing Secret/ConfigMap key?)",
    "CreateContainerError": "a container cannot be created",
}


class WaitFailed(AssertionError):
    """A wait ended without its condition: a visible cause, or the deadline with the last state seen."""


def pod_problems(kube: Kube, namespace: str, label_selector: str = "") -> list[str]:
    """Problems of pods in the namespace that will not resolve by themselves."""
    problems = []
    for pod in kube.core.list_namespaced_pod(namespace, label_selector=label_selector).items:
        statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
        for status in statuses:
            waiting = status.state.waiting if status.state else None
            if waiting and waiting.reason in FATAL_WAITING_REASONS:
                problems.append(
                    f"pod {pod.metadata.name} container {status.name}: {waiting.reason}: "
                    f"{FATAL_WAITING_REASONS[waiting.reason]} ({(waiting.message or '').strip()[:300]})"
                )
        for condition in pod.status.conditions or []:
            if condition.type == "PodScheduled" and condition.status == "False" and condition.reason == "Unschedulable":
                problems.append(f"pod {pod.metadata.name} cannot be scheduled: {condition.message}")
    return problems


def pod_summary(kube: Kube, namespace: str) -> str:
    lines = []
    for pod in kube.core.list_namespaced_pod(namespace).items:
        states = []
        for status in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
            state = status.state
            if state.waiting:
                states.append(f"{status.name}=waiting:{state.waiting.reason}")
            elif state.terminated:
                states.append(f"{status.name}=terminated:{state.terminated.reason}({state.terminated.exit_code})")
            elif state.running:
                states.append(f"{status.name}=running")
        lines.append(f"{pod.metadata.name} {pod.status.phase} {' '.join(states)}")
    return "; ".join(lines) or "(no pods)"


def wait_for(
    kube: Kube,
    what: str,
    list_function: Callable[..., Any],
    namespace: str,
    name: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    failed: Callable[[dict[str, Any]], str | None] = lambda _obj: None,
    probe_seconds: int = 3,
    watch_pods: bool = True,
    exists: bool = False,
) -> dict[str, Any]:
    """Watches one object until done(obj) holds; returns it (as a dict).

    list_function(namespace, **kwargs) lists the object's kind in a namespace (the watch's source).

    failed(obj) returning a message ends the wait with it (e.g. a job condition Failed). With exists=True
    the object is known to exist already, so finding it gone ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_seen: dict[str, Any] | None = None
    field_selector = f"metadata.name={name}"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pods = pod_summary(kube, namespace) if watch_pods else ""
            raise WaitFailed(
                f"timed out after {timeout:.0f}s waiting for {what}; last seen: {describe(last_seen)}"
                + (f"; pods: {pods}" if pods else "")
            )
        stream = watch.Watch()
        try:
            for event in stream.stream(
                list_function,
                namespace,
                field_selector=field_selector,
                timeout_seconds=max(1, min(probe_seconds, int(remaining))),
            ):
                obj = event["object"]
                last_seen = obj if isinstance(obj, dict) else kube.api.sanitize_for_serialization(obj)
                if event["type"] == "DELETED":
                    raise WaitFailed(f"{what}: the object was deleted while waiting")
                if done(last_seen):
                    stream.stop()
                    return last_seen
                message = failed(last_seen)
                if message:
                    stream.stop()
                    raise WaitFailed(f"{what}: {message}")
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the watch's resourceVersion expired; re-list
                raise
        if exists and last_seen is None:  # a watch starts with the object itself when it exists
            raise WaitFailed(f"{what}: the object is gone (deleted before it got there)")
        if watch_pods:
            problems = pod_problems(kube, namespace)
            if problems:
                raise WaitFailed(f"{what} cannot succeed: " + "; ".join(problems))


def describe(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return "nothing (the object never appeared)"
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    if conditions:
        return ", ".join(f"{c.get('type')}={c.get('status')}({c.get('reason', '')})" for c in conditions)
    return str({key: status[key] for key in list(status)[:6]}) if status else "no status yet"


def has_condition(obj: dict[str, Any], condition_type: str, status: str = "True") -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == status
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def wait_until_gone(
    kube: Kube, what: str, list_function: Callable[..., Any], namespace: str, name: str, timeout: float
) -> None:
    """Watches one object until it does not exist (already absent: returns at once)."""
    deadline = time.monotonic() + timeout
    field_selector = f"metadata.name={name}"
    last_seen: dict[str, Any] | None = None
    while True:
        listing = list_function(namespace, field_selector=field_selector)
        items = listing["items"] if isinstance(listing, dict) else listing.items
        if not items:
            return
        if last_seen is None:
            last_seen = items[0] if isinstance(items[0], dict) else kube.api.sanitize_for_serialization(items[0])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitFailed(
                f"timed out after {timeout:.0f}s waiting for {what}; it is still there: {describe(last_seen)}"
            )
        version = (
            listing["metadata"]["resourceVersion"] if isinstance(listing, dict) else listing.metadata.resource_version
        )
        stream = watch.Watch()
        try:
            window = max(1, min(10, int(remaining)))
            for event in stream.stream(list_function, namespace, field_selector=field_selector,
                                       resource_version=version, timeout_seconds=window):  # fmt: skip
                obj = event["object"]
                last_seen = obj if isinstance(obj, dict) else kube.api.sanitize_for_serialization(obj)
                if event["type"] == "DELETED":
                    stream.stop()
                    return
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the watch's resourceVersion expired; list again
                raise
