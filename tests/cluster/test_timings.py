"""A real scenario's report carries where its time went and the CPU/memory used, read from the cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kfcheck.bdd.timing_tables import PHASES_KIND
from kfcheck.measure import usage
from kfcheck_cluster.layout import REPO_ROOT

pytestmark = pytest.mark.cluster


def test_a_tfjob_scenario_reports_its_phases_and_the_components_usage(kubeconfig: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "kfcheck", "run", "--reports", str(tmp_path), "features/tfjob.feature", "-b", "radish",
         "--no-ansi", "--tags", "not slow"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    messages = tmp_path / "messages.ndjson"  # the attachments as recorded (cucumber JSON folds them into text)
    tables = usage.attachments(messages, PHASES_KIND)
    assert len(tables) == 2  # one per example row
    for table in tables:
        assert abs(sum(table["phases"].values()) - table["total"]) < 0.01
        assert table["phases"]["done"] > 0, table  # the job's Succeeded condition was read
        assert {pod["pod"] for pod in table["pods"]} >= {"wiring-ps-0", "wiring-worker-0"}
        assert all(pod["scheduled"] is not None and pod["finished"] is not None for pod in table["pods"])
    used = usage.attachments(messages, usage.KIND)
    assert len(used) == 2
    assert used[0]["error"] is None
    operator = used[-1]["components"]["training-operator"]
    assert operator["samples"] > 0 and operator["memory_peak"] > 0, operator
    assert operator["limits"], "the training operator's limits (componentResources) were not read"
