"""How the embedded cluster installs Kubeflow the kubeflow/manifests way (`make up KUBEFLOW_INSTALL=manifests`):
kustomize renders upstream's names, labels and webhook configuration, images from the local registry, and
`up` refuses to put a second install next to the recorded one. Rendering needs the training operator's
module in the Go module cache and the built kubectl (`make build`)."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfcheck.core.config import CLUSTER_STATE
from kfcheck_cluster import kubeflow, trainer
from kfcheck_cluster.layout import REGISTRY, Layout, known_releases
from kfcheck_cluster.processes import ClusterError


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    cache = Layout.from_env().cache
    layout = Layout(cache=cache, state=tmp_path / "state")
    layout.state.mkdir()
    return layout


def _rendered(layout: Layout) -> list[dict[str, Any]]:
    kubectl = layout.binary("kubernetes", "kubectl")
    modules = [kubeflow.training_operator_module]
    if kubeflow.with_trainer(layout):
        modules += [trainer.trainer_module, trainer.jobset_module]
    try:
        for module in modules:
            module(layout)
    except ClusterError as error:
        pytest.skip(str(error))
    if not kubectl.exists():
        pytest.skip(f"{kubectl} is not built: run `make build`")
    certificate, _key = kubeflow.webhook_certificate(layout)
    tree = kubeflow.stage_manifests(layout, base64.b64encode(certificate.read_bytes()).decode())
    out = subprocess.run([str(kubectl), "kustomize", str(tree)], capture_output=True, text=True, check=True).stdout
    return [document for document in yaml.safe_load_all(out) if document]


@pytest.mark.parametrize("release", known_releases())
def test_each_release_sets_manifests_install_has_kubeflow_manifests_names_and_its_versions_images(
    layout: Layout, release: str
) -> None:
    layout = dataclasses.replace(layout, release=release)
    documents = _rendered(layout)
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    with_trainer = {"kubeflow-trainer-controller-manager", "jobset-controller-manager"}
    assert set(deployments) == {
        "training-operator", "admission-webhook-deployment", "notebook-controller-deployment",
        "jupyter-web-app-deployment", *(with_trainer if layout.versions["TRAINER_VERSION"] else ()),
    }  # fmt: skip
    versions = {"training-operator": "TRAINING_OPERATOR_VERSION", "kubeflow-trainer-controller-manager":
                "TRAINER_VERSION", "jobset-controller-manager": "JOBSET_VERSION",
                "jupyter-web-app-deployment": "NOTEBOOKS_VERSION"}  # fmt: skip
    for name, key in versions.items():
        if name in deployments:
            (container, *_) = deployments[name]["spec"]["template"]["spec"]["containers"]
            assert container["image"].endswith(f":v{layout.versions[key]}"), container["image"]
    assert deployments["training-operator"]["metadata"]["labels"] == {"control-plane": "kubeflow-training-operator"}
    assert deployments["admission-webhook-deployment"]["metadata"]["labels"]["app"] == "poddefaults"
    assert deployments["notebook-controller-deployment"]["metadata"]["labels"]["app"] == "notebook-controller"
    if layout.versions["TRAINER_VERSION"]:
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
    if layout.versions["TRAINER_VERSION"]:
        trainer_step = runtimes["torch-distributed"]["spec"]["template"]["spec"]["replicatedJobs"][0]
        assert trainer_step["template"]["spec"]["template"]["spec"]["containers"][0]["image"].startswith(f"{REGISTRY}/")
    else:
        assert not runtimes
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
