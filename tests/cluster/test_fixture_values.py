"""Namespaces from kfcheck/kubeflow/fixtures/namespace.yaml are accepted by the real API server whatever the run id and
the scenario's name, and a radish run of scenarios named as QA writes them (a colon, a '#', `on`) passes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kfcheck.core import manifests, namespaces, wait
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube, connect
from kfcheck_cluster.layout import REPO_ROOT

from ..test_fixtures import HOSTILE

pytestmark = pytest.mark.cluster
RADISH = Path(sys.executable).with_name("radish")


def test_a_thousand_namespaces_with_random_run_ids_and_hostile_names_are_created(kubeconfig: str) -> None:
    """1,000 renders, half of them with all-digit run ids, each scenario name from HOSTILE in turn, are created
    on the cluster (the suite's own create path) and read back with the same values as strings; all are deleted
    again, and the test waits until the namespace controller has removed them."""
    kube = connect(Settings.from_user_data({"kubeconfig": kubeconfig}))
    generator = random.Random()  # noqa: S311 - test data, not secrets
    names: list[str] = []
    try:
        for attempt in range(1000):
            run_id = f"{generator.randrange(10**8):08d}" if attempt % 2 else f"{generator.getrandbits(32):08x}"
            scenario = HOSTILE[attempt % len(HOSTILE)]
            (created,) = manifests.create(kube, [namespaces.namespace_object("kfcheck-fx", scenario, run=run_id)], None)
            names.append(created["metadata"]["name"])
            stored = kube.core.read_namespace(names[-1]).metadata
            assert stored.labels["kfcheck/run-id"] == run_id
            assert stored.annotations["kfcheck/scenario"] == scenario
    finally:
        for name in names:
            namespaces.delete(kube, name)
        deadline = time.monotonic() + 600  # for all of them: the namespace controller removes them side by side
        for name in names:
            remaining = max(1.0, deadline - time.monotonic())
            wait.wait_until_gone(kube, f"namespace {name} to be gone", _list_namespaces(kube), "", name, remaining)


def _list_namespaces(kube: Kube) -> Callable[..., Any]:
    """The cluster's namespaces, listed as wait.wait_until_gone lists namespaced objects."""

    def list_namespaces(_namespace: str, **kwargs: Any) -> Any:
        return kube.core.list_namespace(**kwargs)

    return list_namespaces


def test_radish_runs_scenarios_named_with_a_colon_a_hash_and_on_under_an_all_digit_run_id(
    kubeconfig: str, tmp_path: Path
) -> None:
    feature = tmp_path / "names.feature"
    feature.write_text(
        "Feature: Names QA writes\n\n"
        "  Scenario: PyTorchJob: 2 workers # not a comment\n    Given the Kubeflow training operator serves TFJobs\n\n"
        "  Scenario: on\n    Given the Kubeflow training operator serves TFJobs\n"
    )
    report = tmp_path / "cucumber.json"
    run_id = f"{random.randrange(10**8):08d}"  # noqa: S311 - an all-digit run id, not a secret
    result = subprocess.run(
        [str(RADISH), str(feature), "-b", "radish", "--no-ansi", "--cucumber-json", str(report)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig, "KFCHECK_RUN_ID": run_id},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    elements = json.loads(report.read_text())[0]["elements"]
    assert [element["name"] for element in elements] == ["PyTorchJob: 2 workers # not a comment", "on"]
    assert all(step["result"]["status"] == "passed" for element in elements for step in element["steps"]), output
