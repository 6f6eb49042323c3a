"""Kubeflow release sets on the embedded cluster: `python -m kfcheck_cluster upgrade --release NAME` moves the
running cluster's Kubeflow to another release set (cluster/releases/NAME.env), up or down, the way its install
does it: Helm — `helm upgrade` of each release with that version's chart and images, the CRDs applied first;
manifests — `kubectl apply --server-side -k` of the staged tree of that version. `prepare --release NAME` builds
a release set's binaries and images without touching the cluster, so that the upgrade step itself is only the
upgrade. An interrupted upgrade leaves the cluster between two release sets; `make up` (or this command again)
brings it to one: every component is applied at the versions of the release set named.
"""

from __future__ import annotations

import time

from kfcheck_cluster import host, images, kubeflow, trainer
from kfcheck_cluster.layout import Layout
from kfcheck_cluster.processes import ClusterError

KUBEFLOW_BINARIES = ["training_operator", "trainer", "jobset"]


def prepare(layout: Layout) -> None:
    """The release set's binaries and the images of its components, built and pushed to the local registry."""
    host.build_binaries(layout, KUBEFLOW_BINARIES)
    install = kubeflow.recorded_install(layout) or "manifests"  # the manifests install builds every image
    kubeflow.build_images(layout, install)
    if install == "helm" and kubeflow.with_trainer(layout):
        for name in trainer.IMAGES:
            images.build(name, layout)
    print(f"[kfcheck release] release set {layout.release_name}: binaries and images ready", flush=True)


def install_release(layout: Layout, how: str) -> None:
    """Every Kubeflow component at the layout's release set, in the install `how` (helm or manifests)."""
    kubeflow.install(layout, how)
    if how == "helm":  # the manifests install has Trainer and JobSet in its kustomize tree
        trainer.install(layout)


def upgrade(layout: Layout) -> None:
    """Moves the running cluster's Kubeflow to the layout's release set and records it."""
    how = kubeflow.recorded_install(layout)
    if how is None:
        raise ClusterError("no Kubeflow is recorded on this cluster: `make up` first")
    if not layout.kubeconfig.exists():
        raise ClusterError(f"{layout.kubeconfig} is missing: the embedded cluster is not up (`make up`)")
    started = time.monotonic()
    was = kubeflow.recorded_release(layout) or "(not recorded)"
    print(f"[kfcheck release] {how} install: {was} -> {layout.release_name}", flush=True)
    prepare(layout)
    install_release(layout, how)
    kubeflow.record_cluster(layout, kubeflow_install=how)
    print(f"[kfcheck release] Kubeflow is at release set {layout.release_name} after "
          f"{time.monotonic() - started:.0f}s", flush=True)  # fmt: skip
