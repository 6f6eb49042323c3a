"""When things happened to the work in flight across a Kubeflow upgrade, from the cluster's own timestamps (API
server time): when a job was made and its pods started, when the phase before the upgrade recorded it, when each
controller acting for it was replaced (its pods then, compared with its pods now) and when the job finished.

The story is attached to the step as information. Whether a job really was training when its controller was
replaced is the upgrade's timing, which the release gate decides, not a promise of Kubeflow's; the steps stay
strict about what is Kubeflow's (the same pods, no restart, the accepted accuracy)."""

from __future__ import annotations

import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core.scenario import Controller, Scenario

Pods = list[dict[str, Any]] | str  # a controller's pods, or why they could not be read


def iso(value: Any) -> str:
    """A timestamp as the API server writes it (2026-06-01T10:00:00Z), from its text or a datetime; "" for none."""
    if value in (None, ""):
        return ""
    when = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_facts(pod: dict[str, Any]) -> dict[str, Any]:
    """What the later phases compare of a pod (as the API server gives it, JSON field names)."""
    metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
    containers = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return {
        "name": metadata.get("name"),
        "uid": metadata.get("uid"),
        "created": iso(metadata.get("creationTimestamp")),
        "started": iso(status.get("startTime")),
        "restarts": sum(int(container.get("restartCount") or 0) for container in containers),
    }


def controller_pods(scenario: Scenario, controllers: tuple[Controller, ...]) -> dict[str, Pods]:
    """Each controller's pods now (found as kfcheck.core.diagnostics finds them: by the first of its label selectors
    that finds pods, in the first of its namespaces), or why they could not be read (a Profile user may not list
    pods in Kubeflow's namespaces)."""
    found: dict[str, Pods] = {}
    for controller in controllers:
        found[controller.name] = _pods_of(scenario, controller)
    return found


def _pods_of(scenario: Scenario, controller: Controller) -> Pods:
    names = list(dict.fromkeys(str(getattr(scenario.settings, key)) for key in controller.namespace_settings))
    for namespace in names:
        for selector in controller.label_selectors:
            try:
                pods = scenario.kube.core.list_namespaced_pod(namespace, label_selector=selector).items
            except ApiException as error:
                return f"not readable here ({error.status} {error.reason} listing pods in {namespace})"
            if pods:
                return [pod_facts(scenario.kube.api.sanitize_for_serialization(pod)) for pod in pods]
    return []


def story(subject: str, events: list[tuple[str, str]], before: dict[str, Pods], now: dict[str, Pods],
          busy: tuple[str, str]) -> str:  # fmt: skip
    """The timeline of `subject` (its events, and each controller's replacement between `before` and `now`) and, for
    each controller, whether the subject was in flight (busy: from, until; until "" while it still is) when it was
    replaced."""
    events, verdicts = list(events), []
    for name, pods_before in before.items():
        pods_now = now.get(name, [])
        if isinstance(pods_before, str) or isinstance(pods_now, str):
            verdicts.append(f"{name}: its pods {pods_before if isinstance(pods_before, str) else pods_now}")
            continue
        if not pods_before or not pods_now:
            verdicts.append(f"{name}: no pod of it was found {'before the upgrade' if not pods_before else 'now'}")
            continue
        old = {pod["uid"] for pod in pods_before}
        new = [pod for pod in pods_now if pod["uid"] not in old]
        if not new:
            verdicts.append(f"{name} was not replaced since then (still {_names(pods_now)}): {subject} was not in "
                            f"flight through a replacement of {name}")  # fmt: skip
            continue
        replaced_at = min(pod["created"] for pod in new)
        events.append((replaced_at, f"{name} replaced: {_names(pods_before)} -> {_names(new)}"))
        verdicts.append(_verdict(subject, name, replaced_at, busy))
    lines = [f"timeline of {subject} (API server time):"]
    lines += [f"  {when or '(unknown)'}  {what}" for when, what in sorted(events)]
    return "\n".join(lines + [f"  => {verdict}" for verdict in verdicts])


def _verdict(subject: str, name: str, replaced_at: str, busy: tuple[str, str]) -> str:
    since, until = busy
    if replaced_at < since:
        return f"{name} was replaced at {replaced_at}, before {subject} was in flight (since {since})"
    if until and replaced_at >= until:
        return f"{name} was replaced at {replaced_at}, after {subject} had finished at {until}: not in flight then"
    return f"{subject} was in flight when {name} was replaced at {replaced_at}"


def _names(pods: list[dict[str, Any]]) -> str:
    return ", ".join(f"{pod['name']} (created {pod['created']})" for pod in pods)
