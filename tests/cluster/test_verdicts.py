"""Verdicts on the real cluster, read from the reports: a cleanup the cluster refuses fails the run with the
failed after hook in every report; a Profile user's skip names the missing permission in cucumber.json and
junit.xml; every report names what served each Kubeflow API, the stand-ins marked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from string import Template
from typing import Any

import pytest
from lxml import etree

from kfcheck import reports
from kfcheck_cluster.layout import REPO_ROOT, Layout

pytestmark = pytest.mark.cluster
MANIFESTS = Path(__file__).parent / "manifests"
PREFIX = "kfundel"
RUN_ID = "kfcheck-undeletable-test"


def kfcheck_run(reports_dir: Path, kubeconfig: str, *radish_args: str,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "kfcheck", "run", "--reports", str(reports_dir), *radish_args, "-b", "radish",
         "--no-ansi"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig, **(env or {})},
    )  # fmt: skip


def elements(directory: Path) -> list[dict[str, Any]]:
    return [element for feature in reports.load(directory / "cucumber.json") for element in feature["elements"]
            if element.get("type") == "scenario"]  # fmt: skip


def test_a_cleanup_the_cluster_refuses_fails_the_run_in_every_report(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    kubectl = [str(layout.binary("kubernetes", "kubectl")), f"--kubeconfig={kubeconfig}"]
    policy = Template((MANIFESTS / "undeletable-namespaces.yaml").read_text()).substitute(prefix=PREFIX)
    subprocess.run([*kubectl, "apply", "-f", "-"], input=policy, text=True, check=True, timeout=60)
    try:
        result = kfcheck_run(tmp_path, kubeconfig, "features/pytorchjob.feature", "--tags", "smoke",
                             "-u", f"namespace_prefix={PREFIX}", env={"KFCHECK_RUN_ID": RUN_ID})  # fmt: skip
    finally:
        subprocess.run([*kubectl, "delete", "-f", "-", "--ignore-not-found"], input=policy, text=True, check=True,
                       timeout=60)  # fmt: skip
        _delete_once_the_policy_is_gone(kubectl)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    scenarios = reports.read_results(tmp_path / "messages.ndjson")
    assert scenarios and all(s.tested_status == "passed" for s in scenarios), output  # the operator did its part
    for scenario in scenarios:
        assert scenario.status == "failed" and f"Namespace {PREFIX}-" in scenario.cleanup_failure
        assert "may not be deleted" in scenario.cleanup_failure
        hook = next(step for step in scenario.steps if step.keyword == "After " and step.status == "failed")
        assert {name for name, _, _ in hook.attachments} >= {"events", "objects (YAML)"}
    for element in elements(tmp_path):
        failed_after = [step for step in element["after"] if step["result"]["status"] == "failed"]
        assert len(failed_after) == 1 and "may not be deleted" in failed_after[0]["result"]["error_message"]
    for case in etree.parse(str(tmp_path / "junit.xml")).iter("testcase"):
        failure = case.find("failure")
        assert failure is not None and "may not be deleted" in failure.get("message", "")
    check_what_served_each_api(tmp_path)


def _delete_once_the_policy_is_gone(kubectl: list[str], seconds: float = 60) -> None:
    """The API server stops applying a deleted policy a moment later (its admission cache is refreshed
    asynchronously, with nothing to watch): the test's namespaces are deleted as soon as it allows."""
    deadline = time.monotonic() + seconds
    while True:
        done = subprocess.run([*kubectl, "delete", "namespaces", "-l", f"kfcheck/run-id={RUN_ID}", "--wait=false"],
                              capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        if done.returncode == 0 or time.monotonic() > deadline:
            assert done.returncode == 0, done.stderr
            return
        time.sleep(1)


def check_what_served_each_api(directory: Path) -> None:
    """Every report names what served each Kubeflow API, read from the cluster; our stand-ins say they are."""
    found = reports.run_findings(reports.read_envelopes(directory / "messages.ndjson"))
    by_api = {line.split(":", 1)[0]: line for line in found["what served each Kubeflow API"].splitlines()}
    assert "kfcheck stand-in following Kubeflow v1.10.0" in by_api["PodDefault (kubeflow.org/v1alpha1)"]
    assert "kfcheck stand-in following Kubeflow v1.10.0" in by_api["Notebook (kubeflow.org/v1)"]
    operator = by_api["PyTorchJob (kubeflow.org/v1)"]
    assert "Deployment kubeflow/training-operator" in operator and "stand-in" not in operator
    assert "sha256:" in operator  # the digest the node pulled
    for feature in reports.load(directory / "cucumber.json"):
        assert feature["description"].startswith("what served each Kubeflow API:\n")


def test_a_profile_users_skips_name_the_missing_permission_in_every_report(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """The Profile user (kubeflow-edit in one namespace) may not read the Helm release in kubeflow: the Helm
    feature is skipped by the preflight, and each report says which permission was missing."""
    made = subprocess.run([sys.executable, "-m", "kfcheck_cluster", "profile"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300, check=True)  # fmt: skip
    profile_kubeconfig = made.stdout.split("export KUBECONFIG=", 1)[1].split()[0]
    # no -u registry=: the embedded cluster is known by its API server and CA, not by the kubeconfig's path
    result = kfcheck_run(
        tmp_path, profile_kubeconfig, "features/helm_upgrade.feature", "-u", "namespace=kfcheck-profile"
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    results = reports.read_results(tmp_path / "messages.ndjson")
    assert results and all(r.status == "skipped" for r in results), output
    reasons = {r.skip_reason for r in results}
    assert len(reasons) == 1 and next(iter(reasons)).startswith("missing permissions: "), reasons
    reason = next(iter(reasons))
    for element in elements(tmp_path):
        assert element["steps"][0]["result"] == {**element["steps"][0]["result"], "error_message": reason}
    skipped = [case.find("skipped") for case in etree.parse(str(tmp_path / "junit.xml")).iter("testcase")]
    assert skipped and all(item is not None and item.get("message") == reason for item in skipped)
