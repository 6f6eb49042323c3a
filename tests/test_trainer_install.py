"""How the embedded cluster installs Kubeflow Trainer: upstream's chart from the pinned module with JobSet's
chart as its locally resolved dependency, our values, and the torch runtime on our image. Needs the modules
in the Go module cache (`make build`); `helm template` also needs the built Helm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kfcheck_cluster import trainer
from kfcheck_cluster.layout import Layout


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    cache = Layout.from_env().cache
    modules = {"github.com/kubeflow/trainer/v2": "TRAINER_VERSION", "sigs.k8s.io/jobset": "JOBSET_VERSION"}
    for module, key in modules.items():
        path = cache / "go" / "mod" / f"{module}@v{Layout.from_env().versions[key]}"
        if not path.is_dir():
            pytest.skip(f"{path} is not in the Go module cache: run `make build`")
    return Layout(cache=cache, state=tmp_path / "state")


def test_the_staged_chart_carries_jobset_as_its_resolved_dependency(layout: Layout) -> None:
    chart = trainer.stage_chart(layout)
    requirement = yaml.safe_load((chart / "Chart.yaml").read_text())["dependencies"][0]
    staged = yaml.safe_load((chart / "charts" / "jobset" / "Chart.yaml").read_text())
    assert (staged["name"], staged["version"]) == (requirement["name"], requirement["version"])
    assert trainer.stage_chart(layout) == chart  # staging again replaces the read-only copy


def test_the_torch_runtime_runs_our_pytorch_image(layout: Layout) -> None:
    runtime = trainer.torch_runtime(layout, "torch_distributed.yaml")
    assert runtime["metadata"]["name"] == "torch-distributed"
    jobs = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    images = [c["image"] for job in jobs for c in job["template"]["spec"]["template"]["spec"]["containers"]]
    assert images == [trainer.RUNTIME_IMAGE]


def test_both_controllers_come_from_the_local_registry(layout: Layout) -> None:
    helm = layout.binary("helm", "helm")
    if not helm.exists():
        pytest.skip(f"{helm} is not built: run `make build`")
    chart = trainer.stage_chart(layout)
    rendered = subprocess.run(
        [str(helm), "template", trainer.RELEASE, str(chart), f"--namespace={trainer.NAMESPACE}",
         f"--values={trainer.VALUES}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    deployments = [doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Deployment"]
    images = sorted(c["image"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"])
    assert images == ["127.0.0.1:5000/jobset-controller:latest", "127.0.0.1:5000/trainer-controller-manager:latest"]
