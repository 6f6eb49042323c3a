"""The Istio VirtualService a Notebook gets when the controller runs with USE_ISTIO=true.

Upstream: kubeflow/kubeflow v1.10.0 components/notebook-controller/controllers/notebook_controller.go
(nc.go below) 202-208 (only when USE_ISTIO is "true"), 467-571 (generateVirtualService), 573-612
(reconcileVirtualService), 725-731 (the VirtualServices it owns are watched); components/common/
reconcilehelper/util.go 199-219 (CopyVirtualService). Written from reading those, no code copied.

- name `notebook-<namespace>-<name>` in the Notebook's namespace, apiVersion networking.istio.io/v1alpha3,
  owned (controller reference) by the Notebook; no labels or annotations of its own;
- spec.hosts [ISTIO_HOST or "*"], spec.gateways [ISTIO_GATEWAY or "kubeflow/kubeflow-gateway"] (unset and
  empty both take the default);
- one http route: match uri prefix `/notebook/<ns>/<name>/`, rewrite uri the same prefix unless the
  Notebook's annotation `notebooks.kubeflow.org/http-rewrite-uri` is non-empty, request headers set from the
  annotation `notebooks.kubeflow.org/http-headers-request-set` (a JSON object of strings; anything else,
  or no annotation, gives an empty set), destination `<name>.<ns>.svc.<CLUSTER_DOMAIN>` port 80
  (CLUSTER_DOMAIN when set at all, even empty; cluster.local when unset);
- drift: when the found object's spec differs from the desired one in any way, the whole spec is put back;
  its metadata is left as found.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger("notebook-controller")
ISTIO_GROUP, ISTIO_VERSION, ISTIO_PLURAL = "networking.istio.io", "v1alpha3", "virtualservices"
ANNOTATION_REWRITE_URI = "notebooks.kubeflow.org/http-rewrite-uri"
ANNOTATION_HEADERS_REQUEST_SET = "notebooks.kubeflow.org/http-headers-request-set"
DEFAULT_GATEWAY, DEFAULT_HOST, DEFAULT_CLUSTER_DOMAIN = "kubeflow/kubeflow-gateway", "*", "cluster.local"
SERVING_PORT = 80


def virtual_service_name(name: str, namespace: str) -> str:
    return f"notebook-{namespace}-{name}"


def _headers_request_set(annotation: str | None) -> dict[str, str]:
    """nc.go:518-531: the annotation as a JSON map of strings; on a decoding error, an empty map."""
    if not annotation:
        return {}
    try:
        decoded = json.loads(annotation)
    except ValueError:
        return {}
    if decoded is None:  # JSON null decodes into a nil map: no headers, no error
        return {}
    if not isinstance(decoded, dict) or not all(isinstance(value, str) for value in decoded.values()):
        return {}
    return dict(decoded)


def virtual_service(notebook: dict[str, Any], owner: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The VirtualService a Notebook asks for (nc.go:471-571); env is the controller's environment."""
    metadata = notebook["metadata"]
    name, namespace = metadata["name"], metadata["namespace"]
    annotations = metadata.get("annotations") or {}
    prefix = f"/notebook/{namespace}/{name}/"
    rewrite = annotations.get(ANNOTATION_REWRITE_URI) or prefix
    cluster_domain = env.get("CLUSTER_DOMAIN", DEFAULT_CLUSTER_DOMAIN)
    route = {
        "headers": {"request": {"set": _headers_request_set(annotations.get(ANNOTATION_HEADERS_REQUEST_SET))}},
        "match": [{"uri": {"prefix": prefix}}],
        "rewrite": {"uri": rewrite},
        "route": [{"destination": {"host": f"{name}.{namespace}.svc.{cluster_domain}",
                                   "port": {"number": SERVING_PORT}}}],
    }  # fmt: skip
    return {
        "apiVersion": f"{ISTIO_GROUP}/{ISTIO_VERSION}",
        "kind": "VirtualService",
        "metadata": {"name": virtual_service_name(name, namespace), "namespace": namespace, "ownerReferences": [owner]},
        "spec": {
            "hosts": [env.get("ISTIO_HOST") or DEFAULT_HOST],
            "gateways": [env.get("ISTIO_GATEWAY") or DEFAULT_GATEWAY],
            "http": [route],
        },
    }


def copy_virtual_service(desired: dict[str, Any], found: dict[str, Any]) -> bool:
    """reconcilehelper/util.go:199-219: the desired spec replaces the found one when they differ at all."""
    if "spec" not in desired:
        return False
    if not isinstance(found.get("spec"), dict) or found["spec"] != desired["spec"]:
        found["spec"] = desired["spec"]
        return True
    return False


def reconcile_virtual_service(custom: Any, desired: dict[str, Any], get: Callable[..., dict[str, Any] | None]) -> None:
    """nc.go:573-612: create when missing, else put the spec back. Errors (among them the 404 of a cluster
    that does not serve VirtualServices) go up to the reconcile, which is retried with backoff."""
    namespace, name = desired["metadata"]["namespace"], desired["metadata"]["name"]
    found = get(custom.get_namespaced_custom_object, ISTIO_GROUP, ISTIO_VERSION, namespace, ISTIO_PLURAL, name)
    if found is None:
        LOG.info("creating VirtualService %s/%s", namespace, name)
        custom.create_namespaced_custom_object(ISTIO_GROUP, ISTIO_VERSION, namespace, ISTIO_PLURAL, desired)
    elif copy_virtual_service(desired, found):
        LOG.info("updating VirtualService %s/%s", namespace, name)
        custom.replace_namespaced_custom_object(ISTIO_GROUP, ISTIO_VERSION, namespace, ISTIO_PLURAL, name, found)
