"""The Kubeflow components of the embedded cluster: installed by the chart, upgraded in place by Helm."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from kfcheck.core.config import Settings
from kfcheck.kubeflow import helm
from kfcheck_cluster import images, kubeflow, trainer
from kfcheck_cluster.layout import REPO_ROOT, Layout

from .conftest import Kubectl

pytestmark = pytest.mark.cluster
COMPONENTS = ["training-operator", "poddefault-webhook", "notebook-controller", "jupyter-web-app-deployment"]


def test_crds_are_established_and_components_available(kubectl: Kubectl) -> None:
    for crd in ("pytorchjobs.kubeflow.org", "tfjobs.kubeflow.org"):
        kubectl.wait(f"crd/{crd}", "condition=Established", timeout=30)
    for component in COMPONENTS:
        kubectl("wait", "-n", "kubeflow", f"deployment/{component}", "--for=condition=Available", "--timeout=120s")


def _container_resources(kubectl: Kubectl) -> dict[str, dict]:
    out = kubectl("get", "deployments", "-n", "kubeflow", "-o", "json")
    return {
        f"{item['metadata']['name']}/{container['name']}": container.get("resources", {})
        for item in json.loads(out)["items"]
        for container in item["spec"]["template"]["spec"]["containers"]
    }


def test_helm_upgrade_changes_every_component_containers_resources(kubectl: Kubectl, kubeconfig: str) -> None:
    before = _container_resources(kubectl)
    assert before, "no component Deployments in namespace kubeflow"
    for name, resources in before.items():  # the paper's componentResources, the chart's defaults
        assert resources == {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "1Gi"},
        }, name
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    restore = helm.restorer(settings)
    try:
        helm.upgrade_resources(settings, {"limits": {"memory": "2Gi"}, "requests": {"cpu": "100m"}})
        after = _container_resources(kubectl)
        for name, resources in after.items():
            assert resources["limits"]["memory"] == "2Gi", name
            assert resources["requests"]["cpu"] == "100m", name
        for component in COMPONENTS:
            kubectl("rollout", "status", "-n", "kubeflow", f"deployment/{component}", "--timeout=300s")
    finally:
        restore()
    assert _container_resources(kubectl) == before


def test_the_upgrade_scenarios_restore_keeps_a_value_the_operator_set(kubectl: Kubectl, kubeconfig: str) -> None:
    """An operator's own value (here the operator's init container image, set by hand) survives the upgrade
    feature's restore: it rolls back to the recorded revision instead of resetting values to the chart's."""
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    untouched = helm.restorer(settings)  # this test leaves the release as it found it, too
    try:
        hand_set = "127.0.0.1:5000/busybox:latest"
        helm.upgrade(settings, [f"trainingOperator.pytorchInitContainerImage={hand_set}"])
        restore = helm.restorer(settings)  # what the upgrade step records
        helm.upgrade_resources(settings, {"limits": {"memory": "2Gi"}})
        restore()
        values = json.loads(_helm_output(settings, "get", "values", settings.helm_release, "--output=json"))
        assert values["trainingOperator"]["pytorchInitContainerImage"] == hand_set
        assert "componentResources" not in values  # the scenario's own change is gone
    finally:
        untouched()


def test_up_gives_the_release_back_the_values_an_interrupted_upgrade_left(kubectl: Kubectl, kubeconfig: str) -> None:
    """An upgrade scenario killed before its restore leaves the release upgraded; `make up` (helm upgrade
    --install --reset-values) gives it the chart's values again, with only the release set's images set,
    instead of reusing those."""
    before = _container_resources(kubectl)
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    restore = helm.restorer(settings)  # only if up does not
    try:
        helm.upgrade_resources(settings, {"limits": {"memory": "2Gi"}})
        assert _container_resources(kubectl) != before
        up = subprocess.run([sys.executable, "-m", "kfcheck_cluster", "up", "--no-build"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        assert _container_resources(kubectl) == before
        values = json.loads(_helm_output(settings, "get", "values", settings.helm_release, "--output=json"))
        layout = Layout.from_env()
        assert values == {
            "trainingOperator": {
                "image": images.reference("training-operator", layout),
                "pytorchInitContainerImage": kubeflow.pytorch_init_image(layout),
            },
            "jupyterWebApp": {"image": images.reference("jupyter-web-app", layout)},
        }, f"the release kept values after up: {values}"
    finally:
        restore()


def test_the_upgrade_gate_passes_under_an_all_digit_run_id_and_rolls_the_release_back(
    kubectl: Kubectl, kubeconfig: str, tmp_path: Path
) -> None:
    """What `make upgrade-gate` runs (issue: an all-digit run id, read by YAML as a number, made every namespace
    of a run refused and the gate report regressions): the TFJob smoke scenarios before and after a helm
    upgrade, the gate's PASS, then the release rolled back to what it was (--roll-back)."""
    before = _container_resources(kubectl)
    run_id = f"{random.randrange(10**8):08d}"  # noqa: S311 - an all-digit run id, not a secret
    result = subprocess.run(
        [sys.executable, "-m", "kfcheck", "upgrade-gate", "--reports", str(tmp_path), "--roll-back",
         "--set", "componentResources.limits.memory=2Gi",
         "--", "features/tfjob.feature", "-b", "radish", "--tags", "smoke", "--no-ansi"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200, check=False,
        env={**os.environ, "KUBECONFIG": kubeconfig, "KFCHECK_RUN_ID": run_id},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "upgraded release kubeflow in kubeflow with componentResources.limits.memory=2Gi" in output, output[-6000:]
    for run in ("before", "after"):
        assert f"{tmp_path / run / 'messages.ndjson'}: 2 passed, 0 failed, 0 skipped" in output, output[-6000:]
    assert "gate: PASS" in output and "rolled release kubeflow back to revision" in output, output[-6000:]
    assert _container_resources(kubectl) == before


def _helm_output(settings: Settings, *args: str) -> str:
    argv = [settings.helm, f"--kubeconfig={settings.kubeconfig}", f"--namespace={settings.kubeflow_namespace}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_trainer_and_jobset_are_installed_beside_the_v1_operator(kubectl: Kubectl) -> None:
    """Kubeflow Trainer v2 and JobSet (kfcheck_cluster/trainer.py): CRDs established, both controllers
    available with webhooks whose certificates they made themselves, and the torch-distributed runtime."""
    crds = ("trainjobs.trainer.kubeflow.org", "clustertrainingruntimes.trainer.kubeflow.org", "jobsets.jobset.x-k8s.io")
    for crd in crds:
        kubectl.wait(f"crd/{crd}", "condition=Established", timeout=30)
    for deployment in ("kubeflow-trainer-controller-manager", "jobset-controller"):
        kubectl("wait", "-n", trainer.NAMESPACE, f"deployment/{deployment}", "--for=condition=Available",
                "--timeout=120s")  # fmt: skip
    for webhooks in ("validator.trainer.kubeflow.org", "jobset-validating-webhook-configuration"):
        bundles = kubectl("get", f"validatingwebhookconfiguration/{webhooks}", "-o",
                          "jsonpath={.webhooks[*].clientConfig.caBundle}").split()  # fmt: skip
        assert bundles and all(bundles), f"{webhooks} has webhooks without a CA bundle"
    containers = "{.spec.template.spec.replicatedJobs[0].template.spec.template.spec.containers[0].image}"
    image = kubectl("get", "clustertrainingruntime/torch-distributed", "-o", f"jsonpath={containers}")
    assert image == trainer.RUNTIME_IMAGE
