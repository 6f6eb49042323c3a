"""The Kubeflow components of the embedded cluster: installed by the chart, upgraded in place by Helm."""

from __future__ import annotations

import json
import subprocess

import pytest

from kfcheck.embedded import kubeflow, trainer
from kfcheck.embedded.layout import Layout

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


def _helm(layout: Layout, *args: str) -> None:
    argv = [str(kubeflow.helm_binary(layout)), f"--kubeconfig={layout.kubeconfig}", "--namespace=kubeflow", *args]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_helm_upgrade_changes_every_component_containers_resources(kubectl: Kubectl, layout: Layout) -> None:
    before = _container_resources(kubectl)
    assert before, "no component Deployments in namespace kubeflow"
    for name, resources in before.items():  # the paper's componentResources, the chart's defaults
        assert resources == {
            "requests": {"cpu": "50m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "1Gi"},
        }, name
    chart = str(kubeflow.staged_chart(layout))
    try:
        new_values = ["--set", "componentResources.limits.memory=2Gi", "--set", "componentResources.requests.cpu=100m"]
        _helm(layout, "upgrade", "kubeflow", chart, "--reuse-values", "--wait", "--timeout=600s", *new_values)
        after = _container_resources(kubectl)
        for name, resources in after.items():
            assert resources["limits"]["memory"] == "2Gi", name
            assert resources["requests"]["cpu"] == "100m", name
        for component in COMPONENTS:
            kubectl("rollout", "status", "-n", "kubeflow", f"deployment/{component}", "--timeout=300s")
    finally:
        _helm(layout, "upgrade", "kubeflow", chart, "--reset-values", "--wait", "--timeout=600s")
    assert _container_resources(kubectl) == before


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
