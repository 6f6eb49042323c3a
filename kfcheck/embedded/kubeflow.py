"""Installs the Kubeflow components into the embedded cluster with the project's Helm chart.

The training operator's CRDs (PyTorchJob, TFJob) are upstream files of its pinned Go module; they are
not committed but staged into a copy of the chart under the state directory, which is what Helm
installs (`$KFCHECK_STATE/chart/kubeflow`, also the chart that `helm upgrade` should be given).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from kfcheck.config import CLUSTER_STATE
from kfcheck.embedded import images, tools
from kfcheck.embedded.layout import IN_CLUSTER_REGISTRY, REGISTRY, REPO_ROOT, Layout
from kfcheck.embedded.processes import ClusterError

CHART_SOURCE = REPO_ROOT / "charts" / "kubeflow"
RELEASE = "kubeflow"
NAMESPACE = "kubeflow"
UPSTREAM_CRDS = ("kubeflow.org_pytorchjobs.yaml", "kubeflow.org_tfjobs.yaml")
# Images the components use and images the suite's scenarios run.
COMPONENT_IMAGES = ("busybox", "training-operator", "kubeflow-lite")
WORKLOAD_IMAGES = ("pytorch-mnist", "tf-mnist", "notebook", "builder-base", "kaniko-executor", "cluster-check")


def helm_binary(layout: Layout) -> Path:
    return layout.binary("helm", "helm")


def staged_chart(layout: Layout) -> Path:
    return layout.state / "chart" / "kubeflow"


def stage_chart(layout: Layout) -> Path:
    """Copies charts/kubeflow and adds the operator's CRDs from its pinned module."""
    version = layout.versions["TRAINING_OPERATOR_VERSION"]
    module = layout.cache / "go" / "mod" / "github.com" / "kubeflow" / f"training-operator@v{version}"
    target = staged_chart(layout)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CHART_SOURCE, target)
    for name in UPSTREAM_CRDS:
        source = module / "manifests" / "base" / "crds" / name
        if not source.exists():
            raise ClusterError(f"{source} is missing: run `cluster/build-binaries.sh training-operator`")
        shutil.copy(source, target / "crds" / name)
    return target


def record_cluster(layout: Layout, *, with_kubeflow: bool) -> None:
    """Writes where this cluster and its tools are ($KFCHECK_STATE/cluster.json), which the suite's
    Settings read as their defaults: the suite never needs to know how the embedded cluster is laid out."""
    recorded = {
        "kubeconfig": str(layout.kubeconfig),
        "helm": str(helm_binary(layout)),
        "registry": REGISTRY,
        "push_registry": IN_CLUSTER_REGISTRY,
    }
    if with_kubeflow:
        recorded["chart"] = str(staged_chart(layout))
    (layout.state / CLUSTER_STATE).write_text(json.dumps(recorded, indent=2) + "\n")


def install(layout: Layout, *, timeout_seconds: int = 600) -> None:
    """helm upgrade --install of the chart, waiting until every component is available."""
    started = time.monotonic()
    for name in (*COMPONENT_IMAGES, *WORKLOAD_IMAGES):
        images.build(name, layout)
    chart = stage_chart(layout)
    tools.helm_install(layout, RELEASE, chart, NAMESPACE, [chart / "crds"], timeout_seconds)
    print(f"[kfcheck up] Kubeflow components ready after {time.monotonic() - started:.0f}s", flush=True)
