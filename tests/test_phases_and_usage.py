"""The phase table of a scenario, the resource-usage tables (from recorded objects, no cluster), and the plan
and merged report of `kfcheck run-parallel -j N`."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kfcheck import parallel
from kfcheck.measure import phases, usage

START = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat()


def pod(name: str, created: float, scheduled: float, started: float, finished: float, init: float | None = None):
    conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": at(scheduled)}]
    spec: dict[str, Any] = {"containers": [{"name": "main"}]}
    if init is not None:
        conditions.append({"type": "Initialized", "status": "True", "lastTransitionTime": at(init)})
        spec["initContainers"] = [{"name": "init"}]
    return {
        "metadata": {"name": name, "creationTimestamp": at(created)},
        "spec": spec,
        "status": {
            "conditions": conditions,
            "containerStatuses": [
                {"name": "main", "state": {"terminated": {"startedAt": at(started), "finishedAt": at(finished)}}}
            ],
        },
    }


def pulled(pod_name: str, seconds: float, message: str) -> dict[str, Any]:
    return {
        "involvedObject": {"kind": "Pod", "name": pod_name},
        "reason": "Pulled",
        "firstTimestamp": at(seconds),
        "message": message,
    }


def test_phases_follow_the_critical_path_and_add_up_to_the_wall_time() -> None:
    pods = [pod("job-master-0", 3, 3, 5, 36), pod("job-worker-0", 3, 3, 35, 36, init=34)]
    events = [
        pulled("job-master-0", 4, 'Successfully pulled image "b" in 52ms (52ms including waiting). Image size: 1'),
        pulled("job-worker-0", 4, 'Container image "b" already present on machine'),
        pulled("job-worker-0", 34, 'Successfully pulled image "b" in 1.5s (1.5s including waiting)'),
    ]
    succeeded = {"type": "Succeeded", "status": "True", "lastTransitionTime": at(37)}
    job = {"metadata": {"creationTimestamp": at(2)}, "status": {"conditions": [succeeded]}}
    result = phases.compute(
        "wiring", {"metadata": {"name": "ns", "creationTimestamp": at(0)}},
        [{"metadata": {"name": "default", "creationTimestamp": at(1)}}], [], [job], pods, events,
        [("When I submit", START + timedelta(seconds=1.5), START + timedelta(seconds=2.1)),
         ("Then it succeeds", START + timedelta(seconds=2.1), START + timedelta(seconds=37.4)),
         ("And checks", START + timedelta(seconds=37.4), START + timedelta(seconds=38))],
        start=START, end=START + timedelta(seconds=38.5),
    )  # fmt: skip
    assert result.phases["namespace"] == 1
    assert result.phases["submitted"] == 1  # the job
    assert result.phases["pods_created"] == 1
    assert result.phases["scheduled"] == 0
    assert result.phases["initialized"] == 31  # the worker waited for the master's name
    assert result.phases["images"] == 0
    assert result.phases["started"] == 1
    assert result.phases["done"] == 2
    assert result.phases["checks"] == 1
    assert result.phases["cleanup"] == 0.5
    assert sum(result.phases.values()) == result.total == 38.5
    assert result.pulls == 2 and result.pull_seconds == 1.552
    worker = next(p for p in result.pods if p["pod"] == "job-worker-0")
    assert worker["initialized"] == 34 and worker["started"] == 35
    text = phases.render(result)
    assert "init containers done" in text and "job-worker-0" in text and "Then it succeeds" in text


def test_a_scenario_without_pods_has_only_its_own_phases() -> None:
    result = phases.compute(
        "refused", {"metadata": {"name": "ns", "creationTimestamp": at(0)}}, [], [], [], [], [],
        [("When I create", START, START + timedelta(seconds=2))], start=START, end=START + timedelta(seconds=3),
    )  # fmt: skip
    assert result.phases["checks"] == 2 and result.phases["cleanup"] == 1 and result.phases["scheduled"] == 0
    assert result.milestones["scheduled"] is None


def test_pull_seconds_reads_the_kubelets_units() -> None:
    assert phases.pull_seconds('Successfully pulled image "x" in 52ms (52ms including waiting)') == 0.052
    assert phases.pull_seconds('Successfully pulled image "x" in 2.5s (3s including waiting)') == 2.5
    assert phases.pull_seconds('Container image "x" already present on machine') == 0


SUMMARY = {
    "pods": [
        {"podRef": {"namespace": "kubeflow", "name": "training-operator-7d9f8c-abcde"},
         "cpu": {"usageNanoCores": 12_000_000}, "memory": {"workingSetBytes": 40 * usage.MEBIBYTE}},
        {"podRef": {"namespace": "kfcheck-x", "name": "mnist-master-0"},
         "containers": [{"cpu": {"usageNanoCores": 900_000_000}, "memory": {"workingSetBytes": 300 * usage.MEBIBYTE}},
                        {"cpu": {"usageNanoCores": 100_000_000}, "memory": {"workingSetBytes": 20 * usage.MEBIBYTE}}]},
        {"podRef": {"namespace": "other", "name": "unrelated"}, "cpu": {"usageNanoCores": 1}},
    ]
}  # fmt: skip


def report_with(data: dict[str, Any]) -> list[dict[str, Any]]:
    encoded = base64.b64encode(json.dumps(data).encode()).decode()
    step = {"name": "x", "embeddings": [{"mime_type": "application/json", "data": encoded}]}
    return [{"name": "f", "elements": [{"name": "s", "steps": [step]}]}]


def test_usage_peaks_per_component_and_pod_with_the_declared_resources() -> None:
    samples = usage.samples_from_summary(SUMMARY, 1.0) + usage.samples_from_summary(
        {"pods": [{"podRef": {"namespace": "kfcheck-x", "name": "mnist-master-0"},
                   "cpu": {"usageNanoCores": 500_000_000}, "memory": {"workingSetBytes": 500 * usage.MEBIBYTE}}]}, 2.0
    )  # fmt: skip
    resources = {"training-operator": ({"cpu": "100m", "memory": "64Mi"}, {"cpu": "500m", "memory": "256Mi"})}
    components, pods = usage.scenario_usage(samples, "kfcheck-x", "kubeflow", resources)
    operator = components["training-operator"]
    assert operator.cpu_peak == 0.012 and operator.memory_peak == 40 * usage.MEBIBYTE and operator.samples == 1
    master = pods["mnist-master-0"]
    assert master.cpu_peak == 1.0 and master.memory_peak == 500 * usage.MEBIBYTE and master.samples == 2
    assert "unrelated" not in pods
    data = usage.payload("mnist", 5, components, pods, None)
    text = usage.render(data)
    assert "kubeflow/training-operator" in text and "12m" in text and "40Mi" in text and "memory=256Mi" in text


def test_the_gate_table_compares_peaks_with_the_limits_after() -> None:
    def run(memory_mib: int, limit: str) -> list[dict[str, Any]]:
        return report_with({
            "kind": usage.KIND, "scenario": "s", "interval_seconds": 5, "error": None, "pods": {},
            "components": {"training-operator": {"cpu_peak": 0.02, "memory_peak": memory_mib * usage.MEBIBYTE,
                                                 "samples": 3, "requests": {"memory": "64Mi"},
                                                 "limits": {"cpu": "500m", "memory": limit}}},
        })  # fmt: skip

    table = usage.compare_table(run(40, "256Mi"), run(70, "64Mi"))
    assert "training-operator" in table and "40Mi" in table and "70Mi" in table
    assert "memory 109% of limit EXCEEDED" in table and "cpu 4% of limit" in table
    assert "neither report" in usage.compare_table([], [])


def test_component_of_uses_the_deployment_pod_name() -> None:
    assert usage.component_of("notebook-controller-5f7c9d8b6-x2x4z", ["notebook-controller"]) == "notebook-controller"
    assert usage.component_of("etcd-node", ["notebook-controller"]) is None


def test_parallel_plan_keeps_slow_scenarios_for_the_serial_run(tmp_path: Path) -> None:
    features = ["features/pytorchjob.feature", "features/helm_upgrade.feature"]
    side_by_side, serial = parallel.plan(features, "not kaniko", "slow", tmp_path)
    assert [run.features for run in side_by_side] == [["features/pytorchjob.feature"]]
    assert side_by_side[0].tags == "(not kaniko) and (not (slow))"
    assert serial is not None and serial.features == features and serial.tags == "(not kaniko) and (slow)"


def test_parallel_merge_puts_a_features_scenarios_back_together(tmp_path: Path) -> None:
    def part(name: str, lines: list[int]) -> Path:
        elements = [{"name": f"s{line}", "line": line, "keyword": "Scenario", "steps": []} for line in lines]
        path = tmp_path / name
        path.write_text(json.dumps([{"uri": "features/a.feature", "name": "A", "line": 1, "elements": elements}]))
        return path

    merged = parallel.merge([part("serial.json", [20]), part("a.json", [5, 30])], ["features/a.feature"])
    assert len(merged) == 1 and [e["name"] for e in merged[0]["elements"]] == ["s5", "s20", "s30"]
