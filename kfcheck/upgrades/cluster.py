"""What the release gate reads from the cluster itself, beside its `kfcheck run`s: Kubeflow's CRDs (for the
rollback check), the objects of a CRD's kind, what serves each Kubeflow API (after a failed upgrade, when no
run reads it), and the sweep of what the in-flight feature left behind. `ClusterAccess` is what the gate
needs; `KubeCluster` does it with the official client (kfcheck.core.kube), and tests give fakes."""

from __future__ import annotations

from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kfcheck.core import namespaces, provenance
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube, connect
from kfcheck.kubeflow import in_flight
from kfcheck.kubeflow.served import SERVED_APIS
from kfcheck.upgrades.crds import CrdVersions

# What the in-flight feature (@upgrade, kfcheck.kubeflow.in_flight) leaves for the next phase carries its label:
# the namespace it makes or, in a shared namespace (-u namespace=), each of its objects. The gate deletes it all.
IN_FLIGHT_LABEL = in_flight.LABEL
IN_FLIGHT_SELECTOR = f"{IN_FLIGHT_LABEL}=true"
CRD_API = ("apiextensions.k8s.io/v1", "CustomResourceDefinition")


class ClusterAccess(Protocol):
    def crds(self) -> list[dict[str, Any]]:
        """Every CRD of the cluster, as the API server returns it."""

    def list_objects(self, crd: CrdVersions, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` objects of the CRD's kind ("namespace/name"), and whether there are more."""

    def components(self) -> list[dict[str, Any]]:
        """What serves each Kubeflow API now (kfcheck.core.provenance's entries, as dicts)."""

    def sweep_in_flight(self) -> list[str]:
        """Deletes what the in-flight feature left (by IN_FLIGHT_SELECTOR); what was deleted."""


class KubeCluster:
    """ClusterAccess through the official Kubernetes client with the runs' settings (-u kubeconfig=, -u context=,
    -u namespace= ...). Each read connects anew: an upgrade or a rollback changes what the cluster serves, and a
    connection's API discovery would remember what it served before."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _connect(self) -> Kube:
        return connect(self.settings)

    def crds(self) -> list[dict[str, Any]]:
        resource = self._connect().dynamic.resources.get(api_version=CRD_API[0], kind=CRD_API[1])
        return [dict(item) for item in resource.get().to_dict().get("items", [])]

    def list_objects(self, crd: CrdVersions, limit: int) -> tuple[list[str], bool]:
        version = crd.storage or (crd.served[0] if crd.served else "")
        listed = self._connect().custom.list_cluster_custom_object(crd.group, version, crd.plural, limit=limit)
        names = []
        for item in listed.get("items", []):
            metadata = item.get("metadata") or {}
            namespace = metadata.get("namespace")
            names.append(f"{namespace}/{metadata.get('name')}" if namespace else str(metadata.get("name")))
        return names, bool((listed.get("metadata") or {}).get("continue"))

    def components(self) -> list[dict[str, Any]]:
        entries = provenance.read(self._connect(), self.settings, SERVED_APIS)
        return list(provenance.payload(entries)["apis"])

    def sweep_in_flight(self) -> list[str]:
        kube = self._connect()
        if not self.settings.namespace:  # the in-flight feature's own namespace goes with everything in it
            listed = kube.core.list_namespace(label_selector=IN_FLIGHT_SELECTOR)
            names = [ns.metadata.name for ns in listed.items if ns.metadata.deletion_timestamp is None]
            for name in names:
                namespaces.delete(kube, name)
            return [f"namespace {name}" for name in names]
        return self._sweep_shared_namespace(kube, self.settings.namespace)

    @staticmethod
    def _sweep_shared_namespace(kube: Kube, namespace: str) -> list[str]:
        swept = []
        for api_version, kind in namespaces.SWEPT_KINDS:
            try:
                resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)
                items = resource.get(namespace=namespace, label_selector=IN_FLIGHT_SELECTOR).items
            except ResourceNotFoundError:
                continue  # a kind this cluster does not serve (after a rollback, say)
            except ApiException as error:
                if error.status == 404:
                    continue
                raise
            for item in items:
                if item.metadata.deletionTimestamp is None:
                    namespaces.delete_object(kube, api_version, kind, item.metadata.name, namespace)
                    swept.append(f"{kind} {namespace}/{item.metadata.name}")
        return swept
