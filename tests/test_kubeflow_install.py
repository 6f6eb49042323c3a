"""How the embedded cluster installs Kubeflow the kubeflow/manifests way (`make up KUBEFLOW_INSTALL=manifests`):
kustomize renders upstream's names, labels and webhook configuration, images from the local registry, and
`up` refuses to put a second install next to the recorded one. Rendering needs the training operator's
module in the Go module cache and the built kubectl (`make build`)."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfcheck.core.config import CLUSTER_STATE
from kfcheck_cluster import kubeflow, trainer
from kfcheck_cluster.layout import REGISTRY, Layout
from kfcheck_cluster.processes import ClusterError


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    cache = Layout.from_env().cache
    layout = Layout(cache=cache, state=tmp_path / "state")
    layout.state.mkdir()
    return layout


def _rendered(layout: Layout) -> list[dict[str, Any]]:
    kubectl = layout.binary("kubernetes", "kubectl")
    try:
        for module in (kubeflow.training_operator_module, trainer.trainer_module, trainer.jobset_module):
            module(layout)
    except ClusterError as error:
        pytest.skip(str(error))
    if not kubectl.exists():
        pytest.skip(f"{kubectl} is not built: run `make build`")
    certificate, _key = kubeflow.webhook_certificate(layout)
    tree = kubeflow.stage_manifests(layout, base64.b64encode(certificate.read_bytes()).decode())
    out = subprocess.run([str(kubectl), "kustomize", str(tree)], capture_output=True, text=True, check=True).stdout
    return [document for document in yaml.safe_load_all(out) if document]


def test_the_manifests_install_has_kubeflow_manifests_names_labels_and_local_images(layout: Layout) -> None:
    documents = _rendered(layout)
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert set(deployments) == {
        "training-operator", "admission-webhook-deployment", "notebook-controller-deployment",
        "kubeflow-trainer-controller-manager", "jobset-controller-manager",
    }  # fmt: skip
    assert deployments["training-operator"]["metadata"]["labels"] == {"control-plane": "kubeflow-training-operator"}
    assert deployments["admission-webhook-deployment"]["metadata"]["labels"]["app"] == "poddefaults"
    assert deployments["notebook-controller-deployment"]["metadata"]["labels"]["app"] == "notebook-controller"
    trainer_labels = deployments["kubeflow-trainer-controller-manager"]["metadata"]["labels"]
    assert trainer_labels["app.kubernetes.io/name"] == "trainer"
    for deployment in deployments.values():
        assert deployment["metadata"]["namespace"] == "kubeflow"  # kubeflow/manifests' platform overlay for Trainer
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert container["image"].startswith(f"{REGISTRY}/"), container["image"]
    mutating = {d["metadata"]["name"]: d for d in documents if d["kind"] == "MutatingWebhookConfiguration"}
    (webhook,) = mutating["admission-webhook-mutating-webhook-configuration"]["webhooks"]
    assert webhook["name"] == "admission-webhook-deployment.kubeflow.org"
    assert webhook["clientConfig"]["service"] == {
        "name": "admission-webhook-service", "namespace": "kubeflow", "path": "/apply-poddefault",
    }  # fmt: skip
    runtimes = {d["metadata"]["name"]: d for d in documents if d["kind"] == "ClusterTrainingRuntime"}
    trainer_step = runtimes["torch-distributed"]["spec"]["template"]["spec"]["replicatedJobs"][0]
    assert trainer_step["template"]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(f"{REGISTRY}/")
    certificate = (layout.state / "admission-webhook-pki" / "tls.crt").read_bytes()
    assert base64.b64decode(webhook["clientConfig"]["caBundle"]) == certificate


def test_the_webhook_certificate_is_made_once_and_kept(layout: Layout) -> None:
    first, _ = kubeflow.webhook_certificate(layout)
    made = first.read_bytes()
    again, _ = kubeflow.webhook_certificate(layout)
    assert again.read_bytes() == made


def test_up_refuses_a_second_install_next_to_the_recorded_one_and_names_the_switch(layout: Layout) -> None:
    (layout.state / CLUSTER_STATE).write_text(json.dumps({"kubeflow_install": "helm"}))
    kubeflow.check_install(layout, "helm")
    with pytest.raises(ClusterError, match=r"`make down` then `make up KUBEFLOW_INSTALL=manifests`"):
        kubeflow.check_install(layout, "manifests")
    with pytest.raises(ClusterError, match="unknown Kubeflow install 'kustomize'"):
        kubeflow.check_install(layout, "kustomize")


def test_a_cluster_without_kubeflow_recorded_takes_either_install(layout: Layout) -> None:
    (layout.state / CLUSTER_STATE).write_text(json.dumps({"kubeconfig": "x"}))
    kubeflow.check_install(layout, "manifests")
