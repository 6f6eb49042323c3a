"""The release gate across Kubeflow release sets on the real cluster, when the target release is broken or the
upgrade command fails: the verdict must name what broke (regression) or say the gate could not tell
(inconclusive), and the cluster must end at one consistent release set. Each gate runs a few smoke scenarios
only (the full gate is `make release-gate`, which `make test` runs); the in-flight feature is not among the
paths here, which the gate reports as inconclusive on its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kfcheck_cluster import kubeflow
from kfcheck_cluster.layout import REPO_ROOT, Layout, read_release
from tests.cluster.conftest import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.faults]
BROKEN = REPO_ROOT / "tests" / "data" / "releases" / "kubeflow-1.11-broken-pytorch-init.env"
CLUSTER = f"{sys.executable} -m kfcheck_cluster upgrade --release"
FROM = "kubeflow-1.11"


def _gate(reports: Path, upgrade: str, *paths: str) -> tuple[int, dict[str, Any]]:
    argv = [sys.executable, "-m", "kfcheck", "release-gate", "--reports", str(reports), "--from", FROM, "--to", "x",
            "--upgrade-command", upgrade, "--rollback-command", f"{CLUSTER} {FROM}",
            "--", *paths, "-b", "radish", "--tags", "smoke", "--no-ansi"]  # fmt: skip
    result = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800, check=False)
    gate = reports / "release-gate" / "gate.json"
    assert gate.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return result.returncode, json.loads(gate.read_text())


def _assert_cluster_at(release: str, layout: Layout, kubectl: Kubectl) -> None:
    """Every versioned component runs the release set's image, and cluster.json names the release set."""
    assert kubeflow.recorded_release(layout) == release
    versions = read_release(release)
    images = kubectl("get", "deployments", "-A", "-o", "jsonpath={.items[*].spec.template.spec.containers[*].image}")
    assert f"training-operator:v{versions['TRAINING_OPERATOR_VERSION']}" in images
    assert f"trainer-controller-manager:v{versions['TRAINER_VERSION']}" in images
    assert f"jobset-controller:v{versions['JOBSET_VERSION']}" in images


@pytest.fixture
def at_the_default_release(layout: Layout) -> Layout:
    result = subprocess.run([*CLUSTER.split(), FROM], cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return layout


def test_a_release_whose_pytorchjob_init_image_cannot_start_is_a_regression_naming_those_scenarios(
    at_the_default_release: Layout, kubectl: Kubectl, tmp_path: Path
) -> None:
    code, gate = _gate(tmp_path, f"{CLUSTER} {BROKEN}", "features/pytorchjob.feature", "features/tfjob.feature")
    assert code == 1, gate["reasons"]
    assert gate["verdict"] == "regression"
    regressions = gate["comparisons"]["before→after"]["regressions"]
    assert regressions and all("PyTorchJob" in str(item) for item in regressions), regressions
    statuses = {row["name"]: row["statuses"] for row in gate["scenarios"]}
    tfjob = [status for name, status in statuses.items() if "TFJob" in name or "TF_CONFIG" in name]
    assert tfjob and all(status.get("after") == "passed" for status in tfjob), statuses
    assert gate["comparisons"]["before→rollback"]["outcome"] == "pass"  # the rollback mended it
    _assert_cluster_at(FROM, at_the_default_release, kubectl)


def test_an_upgrade_command_that_fails_midway_is_inconclusive_and_the_cluster_ends_at_the_release_rolled_back_to(
    at_the_default_release: Layout, kubectl: Kubectl, tmp_path: Path
) -> None:
    failing = f"{CLUSTER} kubeflow-master-2026-06 && echo 'the upgrade script failed after the upgrade' && false"
    code, gate = _gate(tmp_path, failing, "features/pytorchjob.feature")
    assert code == 3, gate["reasons"]
    assert gate["verdict"] == "inconclusive"
    upgrade = gate["commands"]["upgrade"]
    assert upgrade["exit_code"] == 1
    assert "the upgrade script failed after the upgrade" in upgrade["output_tail"]
    assert gate["commands"]["rollback"]["exit_code"] == 0
    trainer = gate["versions"]["after the rollback"]["components"]["kubeflow-trainer"]
    assert trainer["version"].lstrip("v") == read_release(FROM)["TRAINER_VERSION"], trainer
    _assert_cluster_at(FROM, at_the_default_release, kubectl)
