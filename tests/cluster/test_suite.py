"""The suite against the real cluster: Ctrl-C mid-scenario leaves nothing behind, and a broken scenario
fails fast with its evidence in the cucumber JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kfcheck.core import manifests, namespaces
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube, connect
from kfcheck_cluster.layout import REPO_ROOT

from .conftest import Kubectl

pytestmark = pytest.mark.cluster
RADISH = Path(sys.executable).with_name("radish")
MANAGED = "app.kubernetes.io/managed-by=kfcheck"


def radish(*args: str, kubeconfig: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(RADISH), *args, "-b", "radish", "--no-ansi"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "KUBECONFIG": kubeconfig},
    )


def suite_namespaces(kubectl: Kubectl) -> list[str]:
    out = kubectl("get", "namespaces", "-l", MANAGED, "-o", "jsonpath={.items[*].metadata.name}")
    return out.split()


def test_ctrl_c_mid_scenario_leaves_no_object_behind(kubectl: Kubectl, kubeconfig: str, tmp_path: Path) -> None:
    earlier = set(suite_namespaces(kubectl))  # e.g. another run's, still alive: not this test's business
    report = tmp_path / "cucumber.json"
    run = radish("features/pytorchjob.feature", "--tags", "slow", "--cucumber-json", str(report), kubeconfig=kubeconfig)
    assert run.stdout is not None
    deadline = time.monotonic() + 120
    for line in run.stdout:  # interrupt once the job has been submitted, while the training runs
        if "succeeds within the training timeout" in line or time.monotonic() > deadline:
            break
    created = sorted(set(suite_namespaces(kubectl)) - earlier)
    assert created, "the scenario created no namespace before it was interrupted"
    run.send_signal(signal.SIGINT)
    output = run.communicate(timeout=120)[0]
    assert report.exists(), f"no report after Ctrl-C:\n{output}"
    kubectl("wait", "--for=delete", *[f"namespace/{name}" for name in created], "--timeout=180s")
    assert not set(created) & set(suite_namespaces(kubectl))


def test_a_later_run_deletes_the_namespaces_of_a_run_that_was_killed(kubeconfig: str) -> None:
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    kube = connect(settings)
    killed_pid = _pid_of_a_finished_process()
    orphan = _create_namespace_owned_by(kube, "orphan", killed_pid, keep=False)
    kept = _create_namespace_owned_by(kube, "kept", killed_pid, keep=True)
    alive = _create_namespace_owned_by(kube, "alive", os.getpid(), keep=False)
    try:
        swept = namespaces.sweep_orphans(kube, settings)
        assert orphan in swept
        assert kept not in swept, "a namespace kept on purpose (-u keep_namespaces=true) was deleted"
        assert alive not in swept, "the namespace of a run that is still alive was deleted"
    finally:
        for name in (orphan, kept, alive):
            namespaces.delete(kube, name)


def test_an_image_that_cannot_be_pulled_fails_fast_with_evidence(kubeconfig: str, tmp_path: Path) -> None:
    report = tmp_path / "cucumber.json"
    run = radish(
        "features/pytorchjob.feature", "--tags", "slow", "--cucumber-json", str(report),
        "-u", "pytorch_image=127.0.0.1:5000/no-such-image:1", kubeconfig=kubeconfig,
    )  # fmt: skip
    output = run.communicate(timeout=600)[0]  # the training timeout is 1800s: only the visible cause ends it
    assert run.returncode == 1, output
    steps = json.loads(report.read_text())[0]["elements"][0]["steps"]
    failed = [step for step in steps if step["result"]["status"] == "failed"]
    assert len(failed) == 1
    assert "the image cannot be pulled" in failed[0]["result"]["error_message"]
    assert "timed out" not in failed[0]["result"]["error_message"]
    evidence = failed[0]["result"]["error_message"]  # reports.normalise() puts the evidence after the error
    assert "### events of namespace" in evidence
    assert "no-such-image" in evidence
    assert "### objects (YAML) of namespace" in evidence
    assert [step["result"]["status"] for step in steps[steps.index(failed[0]) + 1 :]] == ["skipped", "skipped"]


def _pid_of_a_finished_process() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _create_namespace_owned_by(kube: Kube, what: str, pid: int, *, keep: bool) -> str:
    name = f"kfcheck-test-{what}-{os.getpid()}"
    manifests.apply_fixture(
        kube, "namespace", None, name=name, run_id="test", scenario=f"sweep test ({what})",
        owner_host=namespaces.OWNER_HOST, owner_pid=str(pid), keep=str(keep).lower(),
    )  # fmt: skip
    return name
