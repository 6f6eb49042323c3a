"""CPU and memory the pods really use (the paper's Fig. 10), from the kubelet's summary API.

A sampler reads `/api/v1/nodes/<node>/proxy/stats/summary` through the API server every few seconds
while the suite runs. For each scenario the peak of those samples is reported for every Kubeflow
component (the Deployments of the Kubeflow namespace, with the requests and limits they declare) and
every pod of the scenario (the training pods). The kubelet's CPU figure is a rate over its last
housekeeping interval (about 10 s) and memory is the working set, so a peak shorter than that can be
missed: the table says how many samples it saw.

The gate compares the peaks of a report before an upgrade with those after, next to the requests and
limits (componentResources) the components had in each run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from kfcheck import reports
from kfcheck.core.kube import Kube

KIND = "kfcheck/resource-usage"
MEBIBYTE = 1024 * 1024


@dataclass
class Sample:
    at: float  # time.time()
    namespace: str
    pod: str
    cpu_cores: float | None
    memory_bytes: int | None


def _pod_usage(pod: dict[str, Any]) -> tuple[float | None, int | None]:
    """A summary API pod entry's CPU (cores) and working-set memory (bytes); containers summed if the pod
    level is missing."""
    cpu = (pod.get("cpu") or {}).get("usageNanoCores")
    memory = (pod.get("memory") or {}).get("workingSetBytes")
    containers = pod.get("containers") or []
    if cpu is None and containers:
        values = [(c.get("cpu") or {}).get("usageNanoCores") for c in containers]
        cpu = sum(v for v in values if v is not None) if any(v is not None for v in values) else None
    if memory is None and containers:
        values = [(c.get("memory") or {}).get("workingSetBytes") for c in containers]
        memory = sum(v for v in values if v is not None) if any(v is not None for v in values) else None
    return (None if cpu is None else cpu / 1e9), (None if memory is None else int(memory))


def samples_from_summary(summary: dict[str, Any], at: float) -> list[Sample]:
    found = []
    for pod in summary.get("pods") or []:
        ref = pod.get("podRef") or {}
        cpu, memory = _pod_usage(pod)
        found.append(Sample(at, ref.get("namespace", ""), ref.get("name", ""), cpu, memory))
    return found


class UsageSampler:
    """Samples every node's summary API in a background thread until stopped."""

    def __init__(self, kube: Kube, interval: float = 5.0) -> None:
        self.kube = kube
        self.interval = interval
        self.samples: list[Sample] = []
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kfcheck-usage-sampler", daemon=True)
        self._nodes: list[str] = []

    def start(self) -> None:
        try:
            self._nodes = [node.metadata.name for node in self.kube.core.list_node().items]
        except ApiException as error:
            self.error = f"cannot list nodes ({error.status} {error.reason}): resource usage is not measured"
            return
        self.sample_once()
        if self.error is None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_once()
            if self.error is not None:
                return

    def read_summary(self, node: str) -> dict[str, Any]:
        response = self.kube.api.call_api(
            f"/api/v1/nodes/{node}/proxy/stats/summary", "GET",
            auth_settings=["BearerToken"], _preload_content=False, _request_timeout=10,
        )  # fmt: skip
        return dict(json.loads(response[0].data))

    def sample_once(self) -> None:
        for node in self._nodes:
            try:
                summary = self.read_summary(node)
            except ApiException as error:
                if error.status in (401, 403):
                    self.error = (
                        f"the kubelet summary API of node {node} is not readable ({error.status} {error.reason}): "
                        "resource usage needs get on nodes/proxy"
                    )
                continue  # a transient error: the next sample may work
            except Exception:  # noqa: S112 - a sample lost to a timeout or a restart is only a gap
                continue
            found = samples_from_summary(summary, time.time())
            with self._lock:
                self.samples.extend(found)

    def window(self, since: float, until: float) -> list[Sample]:
        with self._lock:
            return [sample for sample in self.samples if since <= sample.at <= until]


@dataclass
class Usage:
    cpu_peak: float | None = None  # cores
    memory_peak: int | None = None  # bytes
    samples: int = 0
    requests: dict[str, str] = field(default_factory=dict)
    limits: dict[str, str] = field(default_factory=dict)

    def add(self, sample: Sample) -> None:
        self.samples += 1
        if sample.cpu_cores is not None:
            self.cpu_peak = max(self.cpu_peak or 0.0, sample.cpu_cores)
        if sample.memory_bytes is not None:
            self.memory_peak = max(self.memory_peak or 0, sample.memory_bytes)


def component_of(pod_name: str, deployments: list[str]) -> str | None:
    """The Deployment a pod belongs to, from its name <deployment>-<replicaset hash>-<pod suffix>."""
    owner = pod_name.rsplit("-", 2)[0]
    return owner if owner in deployments else None


def deployment_resources(kube: Kube, namespace: str) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Deployment name -> (requests, limits) summed over its containers, as quantities in text."""
    found = {}
    for deployment in kube.apps.list_namespaced_deployment(namespace).items:
        totals: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
        for container in deployment.spec.template.spec.containers:
            resources = container.resources
            for kind in ("requests", "limits"):
                for key, value in (getattr(resources, kind, None) or {}).items():
                    totals[kind][key] = totals[kind].get(key, 0) + parse_quantity(value)
        found[deployment.metadata.name] = (
            {key: _quantity_text(key, value) for key, value in totals["requests"].items()},
            {key: _quantity_text(key, value) for key, value in totals["limits"].items()},
        )
    return found


def _quantity_text(resource: str, value: Any) -> str:
    if resource == "cpu":
        return f"{int(value * 1000)}m"
    if resource == "memory":
        return f"{int(value) // MEBIBYTE}Mi" if int(value) % MEBIBYTE == 0 else str(int(value))
    return str(value)


def scenario_usage(
    samples: list[Sample],
    scenario_namespace: str,
    kubeflow_namespace: str,
    resources: dict[str, tuple[dict[str, str], dict[str, str]]],
) -> tuple[dict[str, Usage], dict[str, Usage]]:
    """(components, pods of the scenario) -> peaks of the given samples."""
    components: dict[str, Usage] = {
        name: Usage(requests=requests, limits=limits) for name, (requests, limits) in resources.items()
    }
    pods: dict[str, Usage] = {}
    for sample in samples:
        if sample.namespace == kubeflow_namespace:
            component = component_of(sample.pod, list(components))
            if component is not None:
                components[component].add(sample)
        elif sample.namespace == scenario_namespace:
            pods.setdefault(sample.pod, Usage()).add(sample)
    return components, pods


def payload(
    scenario: str, interval: float, components: dict[str, Usage], pods: dict[str, Usage], error: str | None
) -> dict[str, Any]:
    def plain(usage: Usage) -> dict[str, Any]:
        return {
            "cpu_peak": usage.cpu_peak,
            "memory_peak": usage.memory_peak,
            "samples": usage.samples,
            "requests": usage.requests,
            "limits": usage.limits,
        }

    return {
        "kind": KIND,
        "scenario": scenario,
        "interval_seconds": interval,
        "components": {name: plain(usage) for name, usage in sorted(components.items())},
        "pods": {name: plain(usage) for name, usage in sorted(pods.items())},
        "error": error,
    }


def _cpu(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}m"


def _memory(value: int | None) -> str:
    return "-" if value is None else f"{value / MEBIBYTE:.0f}Mi"


def _resources(values: dict[str, str]) -> str:
    return ", ".join(f"{key}={values[key]}" for key in ("cpu", "memory") if key in values) or "-"


def render(data: dict[str, Any]) -> str:
    lines = [f"CPU and memory used during '{data['scenario']}' (peak of kubelet summary samples every "
             f"{data['interval_seconds']:.0f} s)"]  # fmt: skip
    if data.get("error"):
        lines.append(f"not measured: {data['error']}")
    lines.append(f"{'component / pod':<45} {'cpu peak':>9} {'mem peak':>9} {'samples':>7}  requests | limits")
    for title, section in (("kubeflow", data["components"]), ("pod", data["pods"])):
        for name, usage in section.items():
            lines.append(
                f"{title + '/' + name:<45} {_cpu(usage['cpu_peak']):>9} {_memory(usage['memory_peak']):>9} "
                f"{usage['samples']:>7}  {_resources(usage['requests'])} | {_resources(usage['limits'])}"
            )
    return "\n".join(lines)


# --- reading reports (the gate) -------------------------------------------------------------------


def from_report(features: list[dict[str, Any]] | Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The resource-usage attachments of a cucumber report: (component -> peak over the run with its latest
    requests/limits, "<pod> (<scenario>)" -> peak)."""
    components: dict[str, dict[str, Any]] = {}
    pods: dict[str, dict[str, Any]] = {}
    for data in attachments(features, KIND):
        for name, usage in (data.get("components") or {}).items():
            _merge(components.setdefault(name, {}), usage)
        for name, usage in (data.get("pods") or {}).items():
            _merge(pods.setdefault(f"{name} ({data.get('scenario')})", {}), usage)
    return components, pods


def _merge(into: dict[str, Any], usage: dict[str, Any]) -> None:
    for key in ("cpu_peak", "memory_peak"):
        values = [v for v in (into.get(key), usage.get(key)) if v is not None]
        into[key] = max(values) if values else None
    into["samples"] = into.get("samples", 0) + (usage.get("samples") or 0)
    into["requests"], into["limits"] = usage.get("requests") or {}, usage.get("limits") or {}


def attachments(features: list[dict[str, Any]] | Path, kind: str) -> list[dict[str, Any]]:
    """The JSON attachments of the given kind in a cucumber report (its features) or in any report the suite
    reads (a path: Cucumber Messages or cucumber JSON, through reports.read_results), in report order."""
    if isinstance(features, Path):
        texts = [text for result in reports.read_results(features) for step in result.steps
                 for _name, media_type, text in step.attachments if media_type == "application/json"]  # fmt: skip
        decoded = []
        for text in texts:
            with contextlib.suppress(ValueError):
                decoded.append(json.loads(text))
        return [data for data in decoded if isinstance(data, dict) and data.get("kind") == kind]
    found = []
    for feature in features:
        for element in feature.get("elements", []):
            for step in element.get("steps", []):
                for embedding in step.get("embeddings") or []:
                    if embedding.get("mime_type") != "application/json":
                        continue
                    with contextlib.suppress(ValueError, TypeError):
                        data = json.loads(base64.b64decode(embedding.get("data", "")))
                        if isinstance(data, dict) and data.get("kind") == kind:
                            found.append(data)
    return found


def fits(usage: dict[str, Any]) -> str:
    """Whether the peaks stay within the limits (and how close), in words."""
    limits = usage.get("limits") or {}
    verdicts = []
    for resource, peak in (("cpu", usage.get("cpu_peak")), ("memory", usage.get("memory_peak"))):
        if resource not in limits or peak is None:
            continue
        limit = float(parse_quantity(limits[resource]))
        share = peak / limit if limit else float("inf")
        verdicts.append(f"{resource} {share:.0%} of limit" + (" EXCEEDED" if share > 1 else ""))
    return ", ".join(verdicts) or "no limits"


def compare_table(before: list[dict[str, Any]] | Path, after: list[dict[str, Any]] | Path) -> str:
    """Components' (and training pods') peaks before and after, with the requests/limits after."""
    before_components, before_pods = from_report(before)
    after_components, after_pods = from_report(after)
    if not (before_components or after_components):
        return "resource usage: neither report carries kubelet measurements"
    lines = [
        "resource usage (peak over the run; before -> after; requests | limits after):",
        f"  {'component / pod (scenario)':<95} {'cpu before':>10} {'cpu after':>10} {'mem before':>10} "
        f"{'mem after':>10}  requests | limits after; fit",
    ]
    for section_before, section_after in ((before_components, after_components), (before_pods, after_pods)):
        for name in sorted(set(section_before) | set(section_after)):
            old, new = section_before.get(name, {}), section_after.get(name, {})
            lines.append(
                f"  {name[:95]:<95} {_cpu(old.get('cpu_peak')):>10} {_cpu(new.get('cpu_peak')):>10} "
                f"{_memory(old.get('memory_peak')):>10} {_memory(new.get('memory_peak')):>10}  "
                f"{_resources(new.get('requests') or {})} | {_resources(new.get('limits') or {})}; {fits(new)}"
            )
    return "\n".join(lines)
