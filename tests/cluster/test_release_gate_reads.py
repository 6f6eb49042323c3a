"""What the release gate reads from the real cluster itself (kfcheck.upgrades.cluster.KubeCluster): Kubeflow's
CRDs and their versions, the objects of a kind, what serves each API (JobSet among them); and the sweep of what
the in-flight feature left, in a namespace of the test's own (never cluster-wide: the cluster is shared)."""

from __future__ import annotations

import dataclasses

import pytest

from kfcheck.core.config import Settings
from kfcheck.upgrades import crds
from kfcheck.upgrades.cluster import IN_FLIGHT_LABEL, KubeCluster

from .conftest import Kubectl

pytestmark = pytest.mark.cluster


def test_kubeflows_crds_are_read_and_a_rollback_to_themselves_is_safe(settings: Settings) -> None:
    cluster = KubeCluster(settings)
    found = crds.of_groups(cluster.crds())
    assert {"pytorchjobs.kubeflow.org", "tfjobs.kubeflow.org", "poddefaults.kubeflow.org"} <= set(found)
    assert all(crd.served and crd.stored and crd.storage in crd.served for crd in found.values())
    assert crds.check_rollback(found, found).safe
    names, more = cluster.list_objects(found["pytorchjobs.kubeflow.org"], 5)
    assert len(names) <= 5 and isinstance(more, bool)


def test_what_serves_each_api_includes_jobset_where_trainer_runs(settings: Settings) -> None:
    entries = {entry["api"]: entry for entry in KubeCluster(settings).components()}
    jobset = entries["JobSet (jobset.x-k8s.io/v1alpha2)"]
    if not jobset["served"]:
        pytest.skip("this cluster serves no JobSet (a release without Trainer)")
    assert jobset["component"] == "jobset" and jobset["version"] and jobset["images"], jobset


def test_the_sweep_deletes_what_carries_the_in_flight_label_and_nothing_else(
    settings: Settings, kubectl: Kubectl
) -> None:
    for name, labels in (("left-in-flight", f"{IN_FLIGHT_LABEL}=true"), ("not-in-flight", "app=other")):
        kubectl("create", "configmap", name)
        kubectl("label", "configmap", name, labels)
    shared = dataclasses.replace(settings, namespace=kubectl.namespace)
    assert KubeCluster(shared).sweep_in_flight() == [f"ConfigMap {kubectl.namespace}/left-in-flight"]
    left = kubectl("get", "configmaps", "-o", "name").split()
    assert "configmap/not-in-flight" in left and "configmap/left-in-flight" not in left
