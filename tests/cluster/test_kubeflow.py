"""The Kubeflow components of the embedded cluster: installed by the chart, upgraded in place by Helm."""

from __future__ import annotations

import json
import subprocess

import pytest

from kfcheck import helm
from kfcheck.config import Settings
from kfcheck.embedded import trainer

from .conftest import Kubectl

pytestmark = pytest.mark.cluster
COMPONENTS = ["training-operator", "poddefault-webhook", "notebook-controller"]


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


def _helm_output(settings: Settings, *args: str) -> str:
    argv = [settings.helm, f"--kubeconfig={settings.kubeconfig}", f"--namespace={settings.kubeflow_namespace}", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_trainer_and_jobset_are_installed_beside_the_v1_operator(kubectl: Kubectl) -> None:
    """Kubeflow Trainer v2 and JobSet (kfcheck/embedded/trainer.py): CRDs established, both controllers
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
