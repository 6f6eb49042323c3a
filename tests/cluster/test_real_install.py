"""What a real installation meets, on the embedded cluster: the suite's images in another registry, and a
user with a Kubeflow Profile's rights only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kfcheck_cluster import images, profile
from kfcheck_cluster.layout import IN_CLUSTER_REGISTRY, REGISTRY, REPO_ROOT, Layout

pytestmark = pytest.mark.cluster
RADISH = Path(sys.executable).with_name("radish")
MIRROR = f"{REGISTRY}/mirror-{os.getpid()}"


def test_the_suite_runs_from_images_pushed_to_another_registry(kubeconfig: str, tmp_path: Path) -> None:
    copied = images.push_suite_images(MIRROR, tls_verify=False)
    assert f"{MIRROR}/tf-mnist:latest" in copied
    path = MIRROR.split("/", 1)[1]
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/{path}/tf-mnist/tags/list", timeout=10) as response:
        assert json.load(response)["tags"] == ["latest"]
    report = tmp_path / "cucumber.json"
    result = subprocess.run(
        [str(RADISH), "features/tfjob.feature", "-b", "radish", "--no-ansi", "--tags", "smoke",
         "--cucumber-json", str(report), "-u", f"registry={MIRROR}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [step for element in json.loads(report.read_text())[0]["elements"] for step in element["steps"]]
    assert steps and all(step["result"]["status"] == "passed" for step in steps)


def _names(kubectl: list[str], *args: str) -> set[str]:
    out = subprocess.run([*kubectl, "get", *args, "-o", "name"], capture_output=True, text=True, check=True, timeout=60)
    return set(out.stdout.split())


def test_a_profile_user_with_kubeflow_edit_rights_runs_every_feature_it_may(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """A ServiceAccount bound to kubeflow-edit in one namespace, nothing else: every feature it may run
    passes inside that namespace, the Helm feature is skipped with its reason, no namespace is created and
    nothing is left in the namespace afterwards."""
    user_kubeconfig = profile.ensure(layout)
    admin = [str(layout.binary("kubernetes", "kubectl")), f"--kubeconfig={kubeconfig}"]
    namespaces_before = _names(admin, "namespaces")
    kinds = "pods,services,persistentvolumeclaims,configmaps,secrets,pytorchjobs,tfjobs,notebooks,poddefaults,trainjobs"
    objects_before = _names(admin, kinds, "-n", profile.NAMESPACE)
    report = tmp_path / "cucumber.json"
    result = subprocess.run(
        [str(RADISH), "features/", "-b", "radish", "--no-ansi", "--cucumber-json", str(report),
         "-u", f"namespace={profile.NAMESPACE}", "-u", f"registry={REGISTRY}",
         "-u", f"push_registry={IN_CLUSTER_REGISTRY}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600, check=False,
        env={**os.environ, "KUBECONFIG": user_kubeconfig},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    statuses = {
        feature["name"]: {step["result"]["status"] for element in feature["elements"] for step in element["steps"]}
        for feature in json.loads(report.read_text())
    }
    helm_feature = "Upgrading the Kubeflow components with Helm"
    assert statuses.pop(helm_feature) == {"skipped"}, output
    # the work in flight across an upgrade runs only in the release gate's phases: skipped, saying so
    assert statuses.pop("Work in flight through a Kubeflow release upgrade and its rollback") == {"skipped"}, output
    assert "runs in the release gate around an upgrade" in output, output  # radish's own JSON holds no reasons
    assert "missing permissions: " in output and "in the Kubeflow components' namespace" in output, output
    # Kubeflow Trainer's own roles (applied from its module) grant TrainJobs but not reading JobSets: the
    # TrainJobs run and pass; the scenarios that read their JobSet (@jobset) are skipped with exactly that
    # named, or pass where an admin granted it
    trainer = statuses.pop("Distributed PyTorch training with Kubeflow Trainer's TrainJob")
    assert "passed" in trainer and trainer <= {"passed", "skipped"}, (trainer, output)
    if "skipped" in trainer:
        assert "get jobsets.jobset.x-k8s.io in the scenario's namespace" in output, output
    # in the user's own namespace the empty-selector PodDefault would inject into every pod the user makes
    # meanwhile: that one scenario is skipped with its reason (-u allow_namespace_wide=true runs it)
    poddefault = statuses.pop("PodDefaults configure notebook servers")
    assert poddefault == {"passed", "skipped"}, (poddefault, output)
    assert "would inject into every pod of the user's namespace" in output, output
    assert statuses and all(found == {"passed"} for found in statuses.values()), statuses
    assert _names(admin, "namespaces") - namespaces_before == set(), "the run created namespaces"
    left = _names(admin, kinds, "-n", profile.NAMESPACE) - objects_before
    if left:  # deletions are asynchronous (Background propagation): wait for them, then none may remain
        subprocess.run([*admin, "wait", "--for=delete", "-n", profile.NAMESPACE, *sorted(left), "--timeout=180s"],
                       capture_output=True, text=True, timeout=200, check=False)  # fmt: skip
    assert _names(admin, kinds, "-n", profile.NAMESPACE) - objects_before == set(), "the run left objects behind"
