"""How the embedded cluster installs Kubeflow Trainer, for each release set that has it: upstream's chart from the
release set's module with JobSet's chart (and from v2.2.0 LeaderWorkerSet's) as its locally resolved dependency,
our values with the release set's image tags, and the torch runtime on our image. Needs the modules in the Go
module cache (`KUBEFLOW_RELEASE=NAME cluster/build-binaries.sh trainer jobset`); `helm template` also needs the
built Helm."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kfcheck_cluster import trainer
from kfcheck_cluster.layout import Layout, known_releases, read_release

WITH_TRAINER = [name for name in known_releases() if read_release(name)["TRAINER_VERSION"]]


@pytest.fixture(params=WITH_TRAINER)
def layout(request: pytest.FixtureRequest, tmp_path: Path) -> Layout:
    release = Layout.from_env(request.param)
    modules = {"github.com/kubeflow/trainer/v2": "TRAINER_VERSION", "sigs.k8s.io/jobset": "JOBSET_VERSION"}
    for module, key in modules.items():
        path = release.cache / "go" / "mod" / f"{module}@v{release.versions[key]}"
        if not path.is_dir():
            pytest.skip(f"{path} is not in the Go module cache: run `make build`")
    return Layout(cache=release.cache, state=tmp_path / "state", release=request.param)


def test_the_staged_chart_carries_every_dependency_it_declares_jobset_at_the_release_sets_version(
    layout: Layout,
) -> None:
    chart = trainer.stage_chart(layout)
    declared = [dependency["name"] for dependency in yaml.safe_load((chart / "Chart.yaml").read_text())["dependencies"]]
    staged = {path.name: yaml.safe_load((path / "Chart.yaml").read_text()) for path in (chart / "charts").iterdir()}
    assert sorted(staged) == sorted(declared)
    assert staged["jobset"]["version"] == layout.versions["JOBSET_VERSION"]
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
         f"--values={trainer.VALUES}", *trainer.image_values(layout)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    deployments = [doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "Deployment"]
    images = sorted(c["image"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"])
    assert images == [f"127.0.0.1:5000/jobset-controller:v{layout.versions['JOBSET_VERSION']}",
                      f"127.0.0.1:5000/trainer-controller-manager:v{layout.versions['TRAINER_VERSION']}"]  # fmt: skip
