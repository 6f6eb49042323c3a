"""Installs Kubeflow Trainer v2 (with JobSet) into the embedded cluster from upstream's own Helm chart.

The chart `charts/kubeflow-trainer` comes from the pinned trainer Go module (the same module zip the
controller is built from); its dependency, JobSet's chart `charts/jobset`, from the pinned jobset module.
Helm would fetch JobSet from an OCI repository; instead the jobset chart is staged into the trainer
chart's `charts/` directory, which is how Helm resolves a dependency without any repository. The staged
chart lives under the state directory (`$KFCHECK_STATE/chart/kubeflow-trainer`). Values
(cluster/config/kubeflow-trainer-values.yaml) point both controllers at the images built here. Both
controllers manage their webhook certificates themselves (a cert rotator writes the Secret and injects
the CA bundle), so no cert-manager is needed.

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
JOBSET_RELEASE_MANIFEST = "https://github.com/kubernetes-sigs/jobset/releases/download/v{JOBSET_VERSION}/manifests.yaml"
TRAINER_CONTAINER = "node"  # the container of a runtime's trainer step that Trainer configures


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


def stage_chart(layout: Layout) -> Path:
    """The trainer module's chart with the jobset module's chart as its resolved dependency."""
    target = staged_chart(layout)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tools.copy_writable(trainer_module(layout) / "charts" / "kubeflow-trainer", target)
    dependency = jobset_module(layout) / "charts" / "jobset"
    chart = yaml.safe_load((dependency / "Chart.yaml").read_text())
    wanted = layout.versions["JOBSET_VERSION"]
    if chart.get("version") != wanted:
        raise ClusterError(f"{dependency} is chart version {chart.get('version')}, expected {wanted}")
    (target / "charts").mkdir(exist_ok=True)
    tools.copy_writable(dependency, target / "charts" / "jobset")
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


def install(layout: Layout, *, timeout_seconds: int = 600) -> None:
    """helm upgrade --install of Trainer (+ JobSet), then its CRDs' runtimes; waits until all are usable."""
    started = time.monotonic()
    rebuilt = [name for name in IMAGES if images.build(name, layout)]
    chart = stage_chart(layout)
    crds = [chart / "crds", chart / "charts" / "jobset" / "crds"]
    tools.helm_install(layout, RELEASE, chart, NAMESPACE, crds, timeout_seconds, f"--values={VALUES}")
    tools.restart_deployments_using(layout, NAMESPACE, [f"{REGISTRY}/{name}:{images.TAG}" for name in rebuilt],
                                    timeout_seconds)  # fmt: skip
    apply_runtimes(layout, timeout_seconds=120)
    print(f"[kfcheck up] Kubeflow Trainer ready after {time.monotonic() - started:.0f}s", flush=True)
