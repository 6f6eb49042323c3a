"""Evidence of a scenario for a failed step: events, pod logs, the YAML of the objects it made (and of
the kinds the Kubeflow modules it used registered), and the logs of the Kubeflow controllers that acted
for it since it started. Secrets are redacted. In a shared namespace only the scenario's own objects
(their names carry its suffix) are shown."""

from __future__ import annotations

import itertools
import time
from typing import Any

import yaml
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kfcheck.core.redact import redact_object, redact_text
from kfcheck.core.scenario import Scenario

MAX_LOG_BYTES = 20000
ALWAYS = (("v1", "Pod"), ("v1", "Service"), ("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap"), ("v1", "Secret"))


def events(scenario: Scenario) -> str:
    mine = scenario.owns
    items = [
        e for e in scenario.kube.core.list_namespaced_event(scenario.namespace).items if mine(e.involved_object.name)
    ]
    items.sort(key=lambda e: str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp))
    lines = [
        f"{e.last_timestamp or e.event_time} {e.type} {e.reason} "
        f"{e.involved_object.kind}/{e.involved_object.name}: {e.message}"
        for e in items
    ]
    return redact_text("\n".join(lines) or "(no events)")


def _logs(scenario: Scenario, namespace: str, pods: list[Any], since: int | None = None) -> list[str]:
    parts = []
    for pod in pods:
        containers = [c.name for c in (pod.spec.init_containers or [])] + [c.name for c in pod.spec.containers]
        for container in containers:
            for previous in (False, True):
                try:
                    text = scenario.kube.core.read_namespaced_pod_log(
                        pod.metadata.name, namespace, container=container, previous=previous,
                        limit_bytes=MAX_LOG_BYTES, since_seconds=since,
                    )  # fmt: skip
                except ApiException:
                    continue  # no (previous) log yet
                label = " (previous)" if previous else ""
                parts.append(f"=== {pod.metadata.name}/{container}{label}\n{text}")
    return parts


def pod_logs(scenario: Scenario) -> str:
    mine = scenario.owns
    pods = [p for p in scenario.kube.core.list_namespaced_pod(scenario.namespace).items if mine(p.metadata.name)]
    return redact_text("\n".join(_logs(scenario, scenario.namespace, pods)) or "(no pod logs)")


def controller_logs(scenario: Scenario) -> str:
    """The logs of the Kubeflow controllers the scenario used, since it started."""
    since = max(1, int(time.time() - scenario.started) + 5)
    parts = []
    for controller in scenario.controllers.values():
        namespaces = list(dict.fromkeys(str(getattr(scenario.settings, key)) for key in controller.namespace_settings))
        found: list[str] = []
        for namespace, selector in itertools.product(namespaces, controller.label_selectors):
            pods = scenario.kube.core.list_namespaced_pod(namespace, label_selector=selector).items
            found = _logs(scenario, namespace, pods, since)
            if found:
                break
        tried = " or ".join(controller.label_selectors)
        parts += found or [f"=== {controller.name}: no pod with {tried} in {' or '.join(namespaces)}"]
    return redact_text("\n".join(parts) or "(the scenario used no Kubeflow controller)")


def objects_yaml(scenario: Scenario) -> str:
    mine, found = scenario.owns, list[dict[str, Any]]()
    for api_version, kind in sorted(set(ALWAYS) | scenario.evidence_kinds):
        try:
            resource = scenario.kube.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            continue
        try:
            items = resource.get(namespace=scenario.namespace).items
        except ApiException as error:
            if error.status != 403:
                raise
            found.append({"kind": kind, "note": f"not listed: this user may not list {kind} (403)"})
            continue
        found.extend(item.to_dict() for item in items if mine(item.metadata.name))
    for obj in found:
        (obj.get("metadata") or {}).pop("managedFields", None)
    return yaml.safe_dump_all([redact_object(obj) for obj in found], sort_keys=False)


def gather(scenario: Scenario) -> dict[str, str]:
    """name -> text of each piece of evidence; a piece that cannot be read says why."""
    evidence = {}
    for name, collect in (
        ("events", events),
        ("pod logs", pod_logs),
        ("objects (YAML)", objects_yaml),
        ("Kubeflow controller logs", controller_logs),
    ):
        try:
            evidence[name] = collect(scenario)
        except Exception as error:
            evidence[name] = f"(could not gather {name}: {error})"
    return evidence
