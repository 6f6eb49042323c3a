"""Installs Kubeflow Trainer v2 (with JobSet) into the embedded cluster from upstream's own Helm chart, at the
versions of the Kubeflow release set (cluster/releases/); a release set without Trainer removes it.

The chart `charts/kubeflow-trainer` comes from the trainer Go module of the release set's version (the same
module zip the controller is built from); its dependency, JobSet's chart `charts/jobset`, from the jobset
module of the release set's version (Trainer v2.2.0's chart names JobSet 0.11.0, which the module proxy here
does not serve; the release set takes v0.11.1, the version Trainer v2.2.0's go.mod requires), and from v2.2.0
LeaderWorkerSet's chart (disabled unless Trainer's data cache is on) from its module. Helm would fetch them
from OCI repositories; instead they are staged into the trainer chart's `charts/` directory, which is how
Helm resolves a dependency without any repository. The staged chart lives under the state directory
(`$KFCHECK_STATE/chart/kubeflow-trainer`). Values (cluster/config/kubeflow-trainer-values.yaml, the image
tags set from the release set) point both controllers at the images built here. Both controllers manage
their webhook certificates themselves (a cert rotator writes the Secret and injects the CA bundle), so no
cert-manager is needed.

Upstream's `torch-distributed` ClusterTrainingRuntime (manifests/base/runtimes of the trainer module) is
applied after the controllers are available, its image pointed at our pytorch-mnist image (the upstream
image lives in a registry this machine does not reach). The v1 training operator is left alone: both
run side by side.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml

from kfcheck_cluster import images, tools
from kfcheck_cluster.layout import CLUSTER_DIR, REGISTRY, Layout
from kfcheck_cluster.processes import ClusterError

RELEASE = "kubeflow-trainer"
NAMESPACE = "kubeflow-system"  # where Kubeflow's manifests install Trainer and JobSet
VALUES = CLUSTER_DIR / "config" / "kubeflow-trainer-values.yaml"
IMAGES = ("trainer-controller-manager", "jobset-controller", "pytorch-mnist")
RUNTIMES = ("torch_distributed.yaml",)
RUNTIME_IMAGE = f"{REGISTRY}/pytorch-mnist:latest"
# what upstream's third-party/jobset kustomization names (a regular expression)
JOBSET_RELEASE_MANIFEST = r"https://github\.com/kubernetes-sigs/jobset/releases/download/v[0-9.]+/manifests\.yaml"
TRAINER_CONTAINER = "node"  # the container of a runtime's trainer step that Trainer configures
CRD_GROUPS = ("trainer.kubeflow.org", "jobset.x-k8s.io")


def module_dir(layout: Layout, module: str, version_key: str) -> Path:
    """The unpacked module in the Go module cache (filled by `make build`)."""
    path = layout.cache / "go" / "mod" / f"{module}@v{layout.versions[version_key]}"
    if not path.is_dir():
        raise ClusterError(f"{path} is missing: run `cluster/build-binaries.sh trainer jobset` (or `make build`)")
    return path


def trainer_module(layout: Layout) -> Path:
    return module_dir(layout, "github.com/kubeflow/trainer/v2", "TRAINER_VERSION")


def jobset_module(layout: Layout) -> Path:
    return module_dir(layout, "sigs.k8s.io/jobset", "JOBSET_VERSION")


def staged_chart(layout: Layout) -> Path:
    return layout.state / "chart" / RELEASE


def dependency_charts(layout: Layout, chart: dict[str, Any]) -> dict[str, Path]:
    """Where each dependency the trainer chart declares is staged from: JobSet's chart from the release set's
    jobset module (checked to be that version), LeaderWorkerSet's from the module of the version it names."""
    staged = {}
    for dependency in chart.get("dependencies") or []:
        name = dependency["name"]
        if name == "jobset":
            source = jobset_module(layout) / "charts" / "jobset"
            found = yaml.safe_load((source / "Chart.yaml").read_text()).get("version")
            if found != layout.versions["JOBSET_VERSION"]:
                raise ClusterError(f"{source} is chart version {found}, expected {layout.versions['JOBSET_VERSION']}")
        elif name == "lws":
            source = layout.cache / "go" / "mod" / f"sigs.k8s.io/lws@v{dependency['version']}" / "charts" / "lws"
        else:
            raise ClusterError(f"the trainer chart depends on '{name}', which kfcheck_cluster cannot stage")
        if not source.is_dir():
            raise ClusterError(f"{source} is missing: run `cluster/build-binaries.sh trainer jobset`")
        staged[name] = source
    return staged


def stage_chart(layout: Layout) -> Path:
    """The trainer module's chart with its dependencies' charts (from their modules) as resolved dependencies."""
    target = staged_chart(layout)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tools.copy_writable(trainer_module(layout) / "charts" / "kubeflow-trainer", target)
    chart = yaml.safe_load((target / "Chart.yaml").read_text())
    (target / "charts").mkdir(exist_ok=True)
    for name, source in dependency_charts(layout, chart).items():
        tools.copy_writable(source, target / "charts" / name)
    return target


def torch_runtime(layout: Layout, name: str) -> dict[str, Any]:
    """An upstream runtime with its trainer container's image replaced by our PyTorch image."""
    runtime: dict[str, Any] = yaml.safe_load((trainer_module(layout) / "manifests/base/runtimes" / name).read_text())
    replaced = 0
    for job in runtime["spec"]["template"]["spec"]["replicatedJobs"]:
        for container in job["template"]["spec"]["template"]["spec"]["containers"]:
            if container["name"] == TRAINER_CONTAINER:
                container["image"] = RUNTIME_IMAGE
                replaced += 1
    if not replaced:
        raise ClusterError(f"runtime {name} has no container '{TRAINER_CONTAINER}' whose image could be set")
    return runtime


def apply_runtimes(layout: Layout, timeout_seconds: int) -> None:
    """Applies the runtimes; Trainer's webhook validates them (retried while it does not answer yet)."""
    manifest = yaml.safe_dump_all([torch_runtime(layout, name) for name in RUNTIMES], sort_keys=False)
    try:
        tools.apply_retrying_webhooks(layout, "-f", "-", stdin=manifest, timeout_seconds=timeout_seconds)
    except ClusterError as error:
        raise ClusterError(f"applying the training runtimes failed: {str(error)[-3000:]}") from None


def image_values(layout: Layout) -> list[str]:
    """The controllers' image tags of the release set, over the values file's."""
    return [f"--set=image.tag={images.tag_of('trainer-controller-manager', layout)}",
            f"--set=jobset.image.tag={images.tag_of('jobset-controller', layout)}"]  # fmt: skip


def install(layout: Layout, *, timeout_seconds: int = 600) -> None:
    """helm upgrade --install of Trainer (+ JobSet) at the release set's versions (CRDs applied first), then
    its runtimes; waits until all are usable. A release set without Trainer removes it instead."""
    if not layout.versions["TRAINER_VERSION"]:
        uninstall(layout, timeout_seconds=timeout_seconds)
        return
    started = time.monotonic()
    rebuilt = [images.reference(name, layout) for name in IMAGES if images.build(name, layout)]
    generations = tools.deployment_generations(layout, NAMESPACE)
    chart = stage_chart(layout)
    crds = [chart / "crds", chart / "charts" / "jobset" / "crds"]
    tools.helm_install(layout, RELEASE, chart, NAMESPACE, crds, timeout_seconds, f"--values={VALUES}",
                      *image_values(layout))  # fmt: skip
    tools.restart_deployments_using(layout, NAMESPACE, rebuilt, timeout_seconds, generations)
    apply_runtimes(layout, timeout_seconds=120)
    versions = f"v{layout.versions['TRAINER_VERSION']} (JobSet v{layout.versions['JOBSET_VERSION']})"
    print(f"[kfcheck up] Kubeflow Trainer {versions} ready after {time.monotonic() - started:.0f}s", flush=True)


def uninstall(layout: Layout, *, timeout_seconds: int) -> None:
    """Removes Trainer and JobSet as a release without them has it, so that no API is served without its
    controller: first every TrainJob, runtime and JobSet while the controllers still run (they remove the
    finalizers they put), then the Helm release, then the CRDs Helm leaves behind."""
    if not tools.helm_release_exists(layout, RELEASE, NAMESPACE):
        return
    print(f"[kfcheck up] the release set {layout.release_name} has no Trainer: uninstalling {RELEASE}", flush=True)
    crds = tools.crds_of_groups(layout, CRD_GROUPS)
    tools.delete_objects_of_crds(layout, crds, timeout_seconds)
    tools.helm(layout, "uninstall", RELEASE, f"--namespace={NAMESPACE}", "--wait", f"--timeout={timeout_seconds}s")
    tools.delete_crds(layout, crds, timeout_seconds)
