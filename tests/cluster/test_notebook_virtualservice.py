"""Our notebook controller with USE_ISTIO=true on the real cluster writes the VirtualService upstream's does
(kubeflow/kubeflow v1.10.0 components/notebook-controller/controllers/notebook_controller.go:202-208,
467-612, components/common/reconcilehelper/util.go:199-219).

The embedded cluster has no Istio, so the test installs Istio's own VirtualService CRD: from the Go module
istio.io/api at the Istio Kubeflow 1.10's manifests ship (common/istio-1-24), file
kubernetes/customresourcedefinitions.gen.yaml, downloaded into the project's Go module cache. The installed
controller keeps USE_ISTIO=false (no other test is disturbed); this test runs the controller's reconcile from
the checkout in-process against the cluster with USE_ISTIO=true, on a stopped Notebook (no pod needed). The
CRD is removed afterwards, whatever happened, unless it was there before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfcheck_cluster.layout import REPO_ROOT, Layout

from .conftest import Kubectl

sys.path.insert(0, str(REPO_ROOT / "components"))

from kubeflow_lite import notebook_controller as nc

pytestmark = pytest.mark.cluster
ISTIO_API = "istio.io/api@v1.24.0"
CRD_NAME = "virtualservices.networking.istio.io"
ISTIO = ("networking.istio.io", "v1alpha3")
ENV = {"USE_ISTIO": "true", "ISTIO_GATEWAY": "kubeflow/kubeflow-gateway", "ISTIO_HOST": "*",
       "CLUSTER_DOMAIN": "cluster.local"}  # fmt: skip


def istio_virtual_service_crd(layout: Layout, scratch: Path) -> dict[str, Any]:
    env = {**os.environ, "GOMODCACHE": str(layout.cache / "go" / "mod"), "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    found = subprocess.run(["go", "mod", "download", "-json", ISTIO_API], cwd=scratch, env=env, capture_output=True,
                           text=True, timeout=300, check=False)  # fmt: skip
    if found.returncode != 0:
        pytest.fail(f"go mod download {ISTIO_API} failed:\n{found.stdout}{found.stderr}")
    crds = Path(json.loads(found.stdout)["Dir"]) / "kubernetes" / "customresourcedefinitions.gen.yaml"
    for document in yaml.safe_load_all(crds.read_text()):
        if document and document["metadata"]["name"] == CRD_NAME:
            return {"apiVersion": document["apiVersion"], "kind": document["kind"],
                    "metadata": {"name": CRD_NAME}, "spec": document["spec"]}  # fmt: skip
    pytest.fail(f"{crds} has no {CRD_NAME}")


def retried(action: Callable[[], Any], statuses: tuple[int, ...], seconds: float = 20) -> Any:
    """action(), again while it fails with one of statuses (the installed controller writes the same Notebook:
    409; a CRD just established: 404 for a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except Exception as error:
            if getattr(error, "status", None) not in statuses or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def api_client(kubeconfig: str) -> Iterator[Any]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=kubeconfig)
    try:
        yield client
    finally:
        client.close()


def expected_spec(namespace: str, rewrite: str, headers: dict[str, str]) -> dict[str, Any]:
    """nc.go:500-562 with the chart's settings."""
    route = {
        "headers": {"request": {"set": headers}},
        "match": [{"uri": {"prefix": f"/notebook/{namespace}/nb/"}}],
        "rewrite": {"uri": rewrite},
        "route": [{"destination": {"host": f"nb.{namespace}.svc.cluster.local", "port": {"number": 80}}}],
    }
    return {"hosts": ["*"], "gateways": ["kubeflow/kubeflow-gateway"], "http": [route]}


STOPPED_NOTEBOOK = {
    "apiVersion": "kubeflow.org/v1", "kind": "Notebook",
    "metadata": {"name": "nb", "annotations": {"kubeflow-resource-stopped": "2026-01-01T00:00:00Z"}},
    "spec": {"template": {"spec": {"containers": [{"name": "nb", "image": "127.0.0.1:5000/notebook:latest"}]}}},
}  # fmt: skip
ANNOTATIONS = {"notebooks.kubeflow.org/http-rewrite-uri": "/",
               "notebooks.kubeflow.org/http-headers-request-set": '{"X-RStudio-Root-Path": "/r/"}'}  # fmt: skip


def check_virtual_service(custom: Any, controller: nc.Controller, namespace: str, uid: str) -> None:
    """Field by field as upstream writes it; then drift put back, then the annotations' rewrite and headers."""
    name = f"notebook-{namespace}-nb"

    def read() -> dict[str, Any]:
        return dict(custom.get_namespaced_custom_object(*ISTIO, namespace, "virtualservices", name))

    made = read()
    assert (made["apiVersion"], made["kind"]) == ("networking.istio.io/v1alpha3", "VirtualService")  # nc.go:495-496
    assert (made["metadata"]["name"], made["metadata"]["namespace"]) == (name, namespace)  # nc.go:467-469, 497-498
    assert made["metadata"]["ownerReferences"] == [{  # nc.go:580 (SetControllerReference of a v1beta1.Notebook)
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Notebook", "name": "nb", "uid": uid, "controller": True,
        "blockOwnerDeletion": True}]  # fmt: skip
    assert made["spec"] == expected_spec(namespace, f"/notebook/{namespace}/nb/", {})
    # util.go:199-219: a changed spec is put back whole; the object's own labels stay
    made["spec"]["hosts"], made["metadata"]["labels"] = ["elsewhere.example"], {"added": "by-hand"}
    custom.replace_namespaced_custom_object(*ISTIO, namespace, "virtualservices", name, made)
    retried(lambda: controller.reconcile(namespace, "nb"), (409,))
    repaired = read()
    assert repaired["spec"] == expected_spec(namespace, f"/notebook/{namespace}/nb/", {})
    assert repaired["metadata"]["labels"] == {"added": "by-hand"}
    # nc.go:483-487, 518-531: rewrite and request headers from the Notebook's annotations
    patch = {"metadata": {"annotations": ANNOTATIONS}}
    custom.patch_namespaced_custom_object("kubeflow.org", "v1", namespace, "notebooks", "nb", patch)
    retried(lambda: controller.reconcile(namespace, "nb"), (409,))
    assert read()["spec"] == expected_spec(namespace, "/", {"X-RStudio-Root-Path": "/r/"})


def wait_established(kubectl: Kubectl, seconds: int = 30) -> None:
    """A watch of the new CRD until its Established condition is True. (`kubectl wait --for=condition=` fails at
    once on a CRD whose status has no conditions yet, as one just created may have.)"""
    established = '{.status.conditions[?(@.type=="Established")].status}{"\\n"}'
    seen = kubectl("get", f"crd/{CRD_NAME}", "--watch", f"--request-timeout={seconds}s", f"-o=jsonpath={established}",
                   until=("True",), timeout=seconds)  # fmt: skip
    assert seen.splitlines()[-1:] == ["True"], f"CRD {CRD_NAME} not Established within {seconds}s: {seen!r}"


def test_use_istio_makes_upstreams_virtual_service(
    kubectl: Kubectl, layout: Layout, api_client: Any, tmp_path: Path
) -> None:
    from kubernetes import client

    crd = istio_virtual_service_crd(layout, tmp_path)
    extensions, custom = client.ApiextensionsV1Api(api_client), client.CustomObjectsApi(api_client)
    existed = bool(extensions.list_custom_resource_definition(field_selector=f"metadata.name={CRD_NAME}").items)
    namespace, controller = kubectl.namespace, nc.Controller(api_client, ENV)
    notebook = custom.create_namespaced_custom_object("kubeflow.org", "v1", namespace, "notebooks", STOPPED_NOTEBOOK)
    if not existed:  # nc.go:205-207: without VirtualServices served the reconcile fails (and is retried)
        with pytest.raises(client.exceptions.ApiException) as failure:
            retried(lambda: controller.reconcile(namespace, "nb"), (409,))
        assert failure.value.status == 404
    try:
        if not existed:
            extensions.create_custom_resource_definition(crd)
            wait_established(kubectl)
        retried(lambda: controller.reconcile(namespace, "nb"), (404, 409))
        check_virtual_service(custom, controller, namespace, notebook["metadata"]["uid"])
    finally:
        if not existed:
            extensions.delete_custom_resource_definition(CRD_NAME)
