"""Culling: a Notebook whose Jupyter kernels stayed idle past CULL_IDLE_TIME gets `kubeflow-resource-stopped`.

Upstream: kubeflow/kubeflow v1.10.0 components/notebook-controller/controllers/culling_controller.go (cc.go)
and main.go:110-122 (the culler runs only with ENABLE_CULLING=true). Written from reading them, no code copied.

Settings (cc.go:30-34, 385-391, 405-438; an empty variable counts as unset): ENABLE_CULLING ("true" turns it
on; default false), CULL_IDLE_TIME minutes (default 1440; not an integer: the default, logged),
IDLENESS_CHECK_PERIOD minutes (default 1; not an integer: the controller does not start), CLUSTER_DOMAIN
(default cluster.local), DEV (anything but "false": ask through `kubectl proxy` on localhost:8001).

A culling pass over one Notebook (cc.go:78-162), run on every change of the Notebook and again
IDLENESS_CHECK_PERIOD after each pass:
1. stop annotation present: remove the two culling annotations, done (no requeue);
2. pod `<name>-0` missing: remove them, done;
3. either annotation missing: set both to now;
4. less than IDLENESS_CHECK_PERIOD since `notebooks.kubeflow.org/last_activity_check_timestamp`: requeue;
5. GET `http://<name>.<ns>.svc.<domain>/notebook/<ns>/<name>/api/kernels` (10 s timeout; only kernels, not
   terminals). Any kernel not `idle`: last-activity = now; all idle: the latest of their `last_activity`;
   no answer, a non-200, a body that is not a kernel list, no kernels, or an unparsable time: unchanged.
   The check timestamp becomes now, and the Notebook is written;
6. now later than last-activity + CULL_IDLE_TIME: `kubeflow-resource-stopped` = now (RFC 3339), written.
Times are RFC 3339 in UTC, to the second. The culling metrics are not counted (see notebook_metrics.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger("notebook-controller")
STOP_ANNOTATION = "kubeflow-resource-stopped"
LAST_ACTIVITY = "notebooks.kubeflow.org/last-activity"
LAST_CHECK = "notebooks.kubeflow.org/last_activity_check_timestamp"
KERNEL_IDLE = "idle"
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
Clock = Callable[[], datetime.datetime]


def _env(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default  # cc.go:385-391: empty is unset


@dataclasses.dataclass(frozen=True)
class CullingSettings:
    enabled: bool = False
    cull_idle_minutes: int = 1440
    check_period_minutes: int = 1
    cluster_domain: str = "cluster.local"
    dev: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CullingSettings:
        """cc.go:405-438; raises ValueError for an IDLENESS_CHECK_PERIOD that is not an integer."""
        idle = _env(env, "CULL_IDLE_TIME", "1440")
        try:
            idle_minutes = _go_atoi(idle)
        except ValueError:
            LOG.info("CULL_IDLE_TIME should be Int. Got %s instead. Using default value.", idle)
            idle_minutes = 1440
        return cls(
            enabled=_env(env, "ENABLE_CULLING", "false") == "true",
            cull_idle_minutes=idle_minutes,
            check_period_minutes=_go_atoi(_env(env, "IDLENESS_CHECK_PERIOD", "1")),
            cluster_domain=_env(env, "CLUSTER_DOMAIN", "cluster.local"),
            dev=_env(env, "DEV", "false") != "false",
        )


def _go_atoi(text: str) -> int:
    """strconv.Atoi: an optional sign and decimal digits, nothing else."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f"not an integer: {text!r}")
    return int(text)


def parse_time(text: str | None) -> datetime.datetime | None:
    """time.Parse(time.RFC3339, ...): None when it does not parse."""
    if not text or not RFC3339.fullmatch(text):
        return None
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def kernels_url(name: str, namespace: str, settings: CullingSettings) -> str:
    """cc.go:208-216."""
    if settings.dev:
        return (f"http://localhost:8001/api/v1/namespaces/{namespace}/services/{name}:http-{name}/proxy"
                f"/notebook/{namespace}/{name}/api/kernels")  # fmt: skip
    return f"http://{name}.{namespace}.svc.{settings.cluster_domain}/notebook/{namespace}/{name}/api/kernels"


def _is_kernel(item: Any) -> bool:
    """What decodes into cc.go:62-68's KernelStatus: an object whose known fields have their Go types."""
    if not isinstance(item, dict):
        return False
    strings = ("id", "name", "last_activity", "execution_state")
    strings_ok = all(isinstance(item.get(key), str | None) for key in strings)
    connections = item.get("connections")
    return strings_ok and (connections is None or (isinstance(connections, int) and not isinstance(connections, bool)))


def fetch_kernels(url: str, opener: urllib.request.OpenerDirector | None = None) -> list[dict[str, Any]] | None:
    """cc.go:202-241: the kernels the Jupyter server lists, or None when it could not be asked or read."""
    try:
        with (opener or urllib.request.build_opener()).open(url, timeout=10) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        LOG.info("Warning: GET to %s: %d", url, error.code)
        return None
    except OSError as error:
        LOG.error("Error talking to %s: %s", url, error)
        return None
    try:
        kernels = json.loads(body)
    except ValueError:
        LOG.error("Error parsing JSON response for Notebook API Kernels.")
        return None
    if not isinstance(kernels, list) or not all(_is_kernel(kernel) for kernel in kernels):
        LOG.error("Error parsing JSON response for Notebook API Kernels.")
        return None
    return kernels


def last_activity(kernels: list[dict[str, Any]], now: datetime.datetime) -> str | None:
    """cc.go:243-308: now when a kernel is not idle, else the latest last_activity; None: leave it as it is."""
    if not kernels:
        return None
    if any(kernel.get("execution_state") != KERNEL_IDLE for kernel in kernels):
        return timestamp(now)
    times = [parse_time(kernel.get("last_activity")) for kernel in kernels]
    if any(moment is None for moment in times):
        LOG.error("Error parsing the last-activity from the /api/kernels")
        return None
    return timestamp(max(moment for moment in times if moment is not None))


def check_period_passed(annotations: Mapping[str, str], now: datetime.datetime, settings: CullingSettings) -> bool:
    """cc.go:166-176: an unparsable check timestamp counts as long ago."""
    if LAST_CHECK not in annotations:
        return False
    stored = parse_time(annotations[LAST_CHECK]) or datetime.datetime(1, 1, 1, tzinfo=datetime.UTC)
    return stored + datetime.timedelta(minutes=settings.check_period_minutes) < now


def is_idle(annotations: Mapping[str, str], now: datetime.datetime, settings: CullingSettings) -> bool:
    """cc.go:179-200."""
    if STOP_ANNOTATION in annotations:
        return False
    activity = parse_time(annotations.get(LAST_ACTIVITY))
    return activity is not None and now > activity + datetime.timedelta(minutes=settings.cull_idle_minutes)


class Culler:
    """cc.go:78-162 over the API: custom and core are the kubernetes client's CustomObjectsApi and CoreV1Api,
    get(read, *args) -> the object as a dict or None (404), clock() -> an aware datetime, fetch(url) -> kernels."""

    def __init__(
        self,
        custom: Any,
        core: Any,
        get: Callable[..., dict[str, Any] | None],
        settings: CullingSettings,
        clock: Clock,
        fetch: Callable[[str], list[dict[str, Any]] | None] = fetch_kernels,
    ) -> None:
        self.custom, self.core, self.get, self.settings = custom, core, get, settings
        self.clock, self.fetch = clock, fetch

    def _write(self, notebook: dict[str, Any]) -> dict[str, Any]:
        metadata = notebook["metadata"]
        written = self.custom.replace_namespaced_custom_object(
            "kubeflow.org", "v1", metadata["namespace"], "notebooks", metadata["name"], notebook, _preload_content=False
        )
        return dict(json.loads(written.data))

    def _without_culling_annotations(self, notebook: dict[str, Any]) -> None:
        """cc.go:338-352 (skipped when neither is there: the write would change nothing)."""
        annotations = notebook["metadata"].get("annotations") or {}
        if LAST_ACTIVITY in annotations or LAST_CHECK in annotations:
            annotations.pop(LAST_ACTIVITY, None)
            annotations.pop(LAST_CHECK, None)
            self._write(notebook)

    def reconcile(self, namespace: str, name: str) -> float | None:
        """One culling pass; the seconds until the next one (None: only on the Notebook's next change)."""
        read = self.custom.get_namespaced_custom_object
        notebook = self.get(read, "kubeflow.org", "v1", namespace, "notebooks", name)
        if notebook is None:
            return None
        annotations = notebook["metadata"].setdefault("annotations", {}) or {}
        notebook["metadata"]["annotations"] = annotations
        if STOP_ANNOTATION in annotations:
            self._without_culling_annotations(notebook)
            return None
        if self.get(self.core.read_namespaced_pod, f"{name}-0", namespace) is None:
            self._without_culling_annotations(notebook)
            return None
        now = self.clock()
        if LAST_ACTIVITY not in annotations or LAST_CHECK not in annotations:
            annotations[LAST_ACTIVITY] = annotations[LAST_CHECK] = timestamp(now)
            notebook = self._write(notebook)
        period = self.settings.check_period_minutes * 60.0 or None  # RequeueAfter 0: no requeue
        annotations = notebook["metadata"].setdefault("annotations", {})
        if not check_period_passed(annotations, now, self.settings):
            return period
        kernels = self.fetch(kernels_url(name, namespace, self.settings))
        activity = last_activity(kernels, now) if kernels is not None else None
        if activity is not None:
            annotations[LAST_ACTIVITY] = activity
        annotations[LAST_CHECK] = timestamp(now)
        notebook = self._write(notebook)
        annotations = notebook["metadata"].setdefault("annotations", {})
        if is_idle(annotations, now, self.settings):
            LOG.info("Notebook %s/%s needs culling. Updating Notebook CR Annotations...", namespace, name)
            annotations[STOP_ANNOTATION] = timestamp(now)
            self._write(notebook)
        return period
