"""Where a scenario's time went, read from the cluster's own records of its namespace.

Milestones come from the objects' timestamps and events: the namespace's and its default
ServiceAccount's creationTimestamp, the submitted objects' creationTimestamp, pod conditions
(PodScheduled, Initialized), the kubelet's Pulled events (with the pull time it reports), container
states (startedAt, finishedAt) and the jobs' Succeeded/Failed conditions. The steps' own start and end
come from radish's clock. Kubernetes writes most timestamps with 1 s resolution, so a phase shorter
than a second may read 0 or 1.

The phases are consecutive: each milestone is the moment the *last* object reached it, and a phase
lasts from the latest earlier milestone to its own, so the phases of a scenario add up to its wall time.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core.kube import Kube

MANAGED_BY = "app.kubernetes.io/managed-by=kfcheck"
# Kinds a scenario submits that finish with conditions (api group/version, plural, condition types).
JOB_KINDS = [
    ("kubeflow.org", "v1", "pytorchjobs"),
    ("kubeflow.org", "v1", "tfjobs"),
    ("trainer.kubeflow.org", "v1alpha1", "trainjobs"),
    ("kubeflow.org", "v1", "notebooks"),
]
DONE_CONDITIONS = {"Succeeded", "Failed", "Complete", "Ready"}
PHASES = [
    ("namespace", "namespace ready (it and its default ServiceAccount exist)"),
    ("submitted", "objects submitted (first object of the scenario created)"),
    ("pods_created", "pods created (by the operator or the steps)"),
    ("scheduled", "pods scheduled"),
    ("initialized", "init containers done (PyTorch workers: the master's name resolves)"),
    ("images", "images ready (last Pulled event)"),
    ("started", "containers started"),
    ("done", "jobs done (Succeeded/Failed/Ready, or the last container finished)"),
    ("checks", "checks (the steps after the work was done)"),
    ("cleanup", "cleanup (after-scenario hooks, namespace deletion requested)"),
]
_PULL_TIME = re.compile(r" in (?P<value>[0-9.]+)(?P<unit>ms|s|m)\b")


def parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass
class PodTimes:
    name: str
    created: datetime | None = None
    scheduled: datetime | None = None
    initialized: datetime | None = None  # only for pods with init containers
    images_ready: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    pull_seconds: float = 0.0  # as the kubelet reports it in its Pulled events ("in 52ms")
    pulls: int = 0  # images really pulled (not "already present")


@dataclass
class ScenarioPhases:
    """What one scenario's namespace recorded, as offsets in seconds from the scenario's start."""

    scenario: str
    namespace: str
    phases: dict[str, float] = field(default_factory=dict)  # phase key -> seconds
    milestones: dict[str, float | None] = field(default_factory=dict)  # phase key -> offset of its end
    pods: list[dict[str, Any]] = field(default_factory=list)  # per pod: offsets of its milestones
    steps: list[dict[str, Any]] = field(default_factory=list)  # per step: name, start, end offsets
    total: float = 0.0
    pull_seconds: float = 0.0
    pulls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _latest(values: list[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _condition_time(obj: dict[str, Any], types: set[str], status: str = "True") -> datetime | None:
    times = [
        parse_time(c.get("lastTransitionTime"))
        for c in (obj.get("status") or {}).get("conditions") or []
        if c.get("type") in types and c.get("status") == status
    ]
    return _latest(times)


def _event_time(event: dict[str, Any]) -> datetime | None:
    return parse_time(
        event.get("eventTime")
        or event.get("firstTimestamp")
        or event.get("lastTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
    )


def pull_seconds(message: str) -> float:
    """The pull time in a kubelet Pulled event ("Successfully pulled image ... in 52.3ms (...)"), else 0."""
    match = _PULL_TIME.search(message or "")
    if not match:
        return 0.0
    value = float(match["value"])
    return {"ms": value / 1000, "s": value, "m": value * 60}[match["unit"]]


def pod_times(pod: dict[str, Any], events: list[dict[str, Any]]) -> PodTimes:
    metadata, status = pod.get("metadata") or {}, pod.get("status") or {}
    name = metadata.get("name", "")
    times = PodTimes(name=name, created=parse_time(metadata.get("creationTimestamp")))
    times.scheduled = _condition_time(pod, {"PodScheduled"})
    if (pod.get("spec") or {}).get("initContainers"):
        times.initialized = _condition_time(pod, {"Initialized"})
    statuses = status.get("containerStatuses") or []
    states = [s.get("state") or {} for s in statuses]
    started = [parse_time((st.get("running") or st.get("terminated") or {}).get("startedAt")) for st in states]
    finished = [parse_time((st.get("terminated") or {}).get("finishedAt")) for st in states]
    times.started = _latest(started) if all(started) and started else None
    times.finished = _latest(finished) if all(finished) and finished else None
    pulled: list[datetime | None] = []
    for event in events:
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if involved.get("kind") != "Pod" or involved.get("name") != name or event.get("reason") != "Pulled":
            continue
        pulled.append(_event_time(event))
        seconds = pull_seconds(event.get("message") or event.get("note") or "")
        if seconds:
            times.pull_seconds += seconds
            times.pulls += 1
    times.images_ready = _latest(pulled)
    return times


def _offset(moment: datetime | None, origin: datetime) -> float | None:
    return None if moment is None else round((moment - origin).total_seconds(), 3)


def compute(
    scenario: str,
    namespace: dict[str, Any],
    service_accounts: list[dict[str, Any]],
    submitted: list[dict[str, Any]],
    jobs: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]],
    steps: list[tuple[str, datetime | None, datetime | None]],
    start: datetime,
    end: datetime,
) -> ScenarioPhases:
    """The phases of one scenario: `start` is when its set-up began, `end` when its after-hooks ended (radish's
    clock, timezone-aware); `steps` are (sentence, start, end) of the steps that ran."""
    ns_name = (namespace.get("metadata") or {}).get("name", "")
    default_sa = [sa for sa in service_accounts if (sa.get("metadata") or {}).get("name") == "default"]
    created = [parse_time((o.get("metadata") or {}).get("creationTimestamp")) for o in [*submitted, *jobs, *pods]]
    per_pod = [pod_times(pod, events) for pod in pods]
    finished_pods = [p.finished for p in per_pod]
    job_done = [_condition_time(job, DONE_CONDITIONS) for job in jobs]
    last_step_end = _latest([step_end for _name, _start, step_end in steps])
    moments: dict[str, datetime | None] = {
        "namespace": _latest(
            [parse_time((namespace.get("metadata") or {}).get("creationTimestamp"))]
            + [parse_time((sa.get("metadata") or {}).get("creationTimestamp")) for sa in default_sa]
        ),
        "submitted": min((c for c in created if c is not None), default=None),
        "pods_created": _latest([p.created for p in per_pod]),
        "scheduled": _latest([p.scheduled for p in per_pod]),
        "initialized": _latest([p.initialized for p in per_pod]),
        "images": _latest([p.images_ready for p in per_pod]),
        "started": _latest([p.started for p in per_pod]),
        "done": _latest(job_done) if any(job_done) else _latest(finished_pods),
        "checks": last_step_end,
        "cleanup": end,
    }
    result = ScenarioPhases(scenario=scenario, namespace=ns_name, total=round((end - start).total_seconds(), 3))
    reached = start
    for key, _title in PHASES:
        moment = moments[key]
        result.milestones[key] = _offset(moment, start)
        if moment is None or moment <= reached:
            result.phases[key] = 0.0
            continue
        result.phases[key] = round((moment - reached).total_seconds(), 3)
        reached = moment
    _add_pods(result, per_pod, start)
    result.steps = [
        {"step": name, "start": _offset(step_start, start), "end": _offset(step_end, start)}
        for name, step_start, step_end in steps
    ]
    return result


def _add_pods(result: ScenarioPhases, per_pod: list[Any], start: datetime) -> None:
    """Each pod's milestones (seconds after the scenario's start) and its image pulls."""
    for times in per_pod:
        moments = ("created", "scheduled", "initialized", "images_ready", "started", "finished")
        row: dict[str, Any] = {"pod": times.name}
        row.update({moment: _offset(getattr(times, moment), start) for moment in moments})
        row["pull_seconds"] = round(times.pull_seconds, 3)
        result.pods.append(row)
        result.pull_seconds += times.pull_seconds
        result.pulls += times.pulls
    result.pull_seconds = round(result.pull_seconds, 3)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render(phases: ScenarioPhases) -> str:
    """The phases of one scenario as text tables: phases, pods, steps."""
    lines = [
        f"Where the time of '{phases.scenario}' went (namespace {phases.namespace}): {phases.total:.1f} s",
        "offsets in seconds from the scenario's start; cluster timestamps have 1 s resolution",
        "",
        f"{'phase':<70} {'seconds':>8} {'ends at':>8}",
    ]
    for key, title in PHASES:
        lines.append(f"{title:<70} {phases.phases.get(key, 0.0):>8.1f} {_seconds(phases.milestones.get(key)):>8}")
    lines.append(f"{'image pulls reported by the kubelet (' + str(phases.pulls) + ' pulls)':<70} "
                 f"{phases.pull_seconds:>8.1f}")  # fmt: skip
    if phases.pods:
        lines += ["", f"{'pod':<40} {'created':>8} {'sched':>8} {'init':>8} {'images':>8} {'started':>8} "
                      f"{'finished':>8} {'pulling':>8}"]  # fmt: skip
        for pod in phases.pods:
            lines.append(
                f"{pod['pod']:<40} {_seconds(pod['created']):>8} {_seconds(pod['scheduled']):>8} "
                f"{_seconds(pod['initialized']):>8} {_seconds(pod['images_ready']):>8} {_seconds(pod['started']):>8} "
                f"{_seconds(pod['finished']):>8} {pod['pull_seconds']:>8.2f}"
            )
    if phases.steps:
        lines += ["", f"{'step':<90} {'start':>8} {'end':>8}"]
        for step in phases.steps:
            lines.append(f"{step['step'][:90]:<90} {_seconds(step['start']):>8} {_seconds(step['end']):>8}")
    return "\n".join(lines)


# --- reading the cluster ----------------------------------------------------------------------------


def _plain(kube: Kube, obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else dict(kube.api.sanitize_for_serialization(obj))


def read_namespace(kube: Kube, namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Everything compute() needs from the scenario's namespace, read before it is deleted."""
    record: dict[str, list[dict[str, Any]]] = {
        "namespace": [_plain(kube, kube.core.read_namespace(namespace))],
        "service_accounts": [_plain(kube, sa) for sa in kube.core.list_namespaced_service_account(namespace).items],
        "pods": [_plain(kube, pod) for pod in kube.core.list_namespaced_pod(namespace).items],
        "events": [_plain(kube, event) for event in kube.core.list_namespaced_event(namespace).items],
        "jobs": [],
        "submitted": [],
    }
    for listed in (kube.core.list_namespaced_config_map, kube.core.list_namespaced_secret,
                   kube.core.list_namespaced_persistent_volume_claim):  # fmt: skip
        record["submitted"] += [_plain(kube, item) for item in listed(namespace, label_selector=MANAGED_BY).items]
    for group, version, plural in JOB_KINDS:
        try:
            items = kube.custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]
        except ApiException as error:
            if error.status in (403, 404):  # kind not installed, or not ours to read
                continue
            raise
        record["jobs"] += items
    return record
