"""PodDefault mutating admission webhook (kubeflow.org/v1alpha1), served over HTTPS.

Behaves as Kubeflow's admission-webhook (kubeflow/kubeflow v1.10.0 components/admission-webhook/main.go;
../README.md lists the upstream file and line of each rule; the merging itself is poddefault_merge.py):

- a pod annotated `poddefault.admission.kubeflow.org/exclude: "true"`, and a mirror pod, is admitted as is;
- every PodDefault of the pod's namespace whose selector matches the pod's labels applies (an empty
  selector matches every pod); one PodDefault with an invalid selector makes every pod of the namespace
  be refused;
- a conflict (an env var, volume, volume mount by name or by mount path, init container, sidecar,
  toleration by key, image pull secret, label or annotation already on the pod as another Go value)
  refuses the pod: Allowed=false, message `conflict occurred while applying poddefaults: ...`;
- otherwise env, volumeMounts, envFrom, command and args (only where unset, never on istio-proxy) go into
  every container; volumes, tolerations, imagePullSecrets, initContainers, sidecars, labels and
  annotations into the pod; serviceAccountName and automountServiceAccountToken are set; the pod is
  annotated `poddefault.admission.kubeflow.org/poddefault-<name>: <resourceVersion>`; the answer is the
  JSONPatch upstream's patch library makes between the pod before and after.

python3 -m kubeflow_lite.poddefault_webhook --tlsCertFile tls.crt --tlsKeyFile tls.key --webhookPort 4443
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubeflow_lite.poddefault_merge import (
    ANNOTATION_PREFIX,
    InvalidSelector,
    aggregate,
    apply_poddefaults,
    conflicts,
    patch_between,
    selector_matches,
    show,
)

LOG = logging.getLogger("poddefault-webhook")
EXCLUDE_ANNOTATION = f"{ANNOTATION_PREFIX}/exclude"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
PATH = "/apply-poddefault"

PodDefaultLister = Callable[[str], list[dict[str, Any]]]


# --- admission ---------------------------------------------------------------------------------------


@dataclass
class Decision:
    allowed: bool
    message: str = ""
    patch: list[dict[str, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)


def review(pod: dict[str, Any], request_namespace: str, list_poddefaults: PodDefaultLister) -> Decision:
    """What the webhook answers for a pod CREATE (mutatePods, main.go:599-704)."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or request_namespace
    annotations = metadata.get("annotations") or {}
    if annotations.get(EXCLUDE_ANNOTATION) == "true" or MIRROR_POD_ANNOTATION in annotations:
        return Decision(allowed=True)
    try:
        poddefaults = list_poddefaults(namespace)
    except Exception as error:  # the API server's answer, e.g. the CRD is not installed (main.go:637-644)
        return Decision(allowed=False, message=str(error))
    labels = metadata.get("labels") or {}
    matching = []
    for poddefault in poddefaults:
        selector = (poddefault.get("spec") or {}).get("selector") or {}
        try:
            selected = selector_matches(selector, labels)
        except InvalidSelector as error:
            return Decision(
                allowed=False,
                message=f"label selector conversion failed: {show(selector)} for selector: {error}",
            )
        if selected and (poddefault.get("metadata") or {}).get("namespace", namespace) == namespace:
            matching.append(poddefault)
    if not matching:
        return Decision(allowed=True)
    names = [(p.get("metadata") or {}).get("name", "") for p in matching]
    errors = conflicts(pod, matching)
    if errors:
        return Decision(
            allowed=False,
            message=f"conflict occurred while applying poddefaults: {','.join(names)} on pod: "
            f"{metadata.get('name', '')} err: {aggregate(errors)}",
        )
    return Decision(allowed=True, patch=patch_between(pod, apply_poddefaults(pod, matching)), applied=names)


def admission_response(review_request: dict[str, Any], list_poddefaults: PodDefaultLister) -> dict[str, Any]:
    """The AdmissionReview answering one, in the request's version. Upstream registers the webhook with
    admissionReviewVersions [v1beta1, v1] (manifests/base/mutating-webhook-configuration.yaml:6-8 at v1.10.0),
    so the API server asks in v1beta1, the first version it serves. Upstream's handler answers with an
    AdmissionReview whose only field is the response (main.go:733-737: no apiVersion, no kind), which a
    v1beta1 request accepts and a v1 request would not; answering in the request's version is what the
    API server takes for both. Allowed=false carries only a message (toAdmissionResponse, main.go:64-70),
    so the API server answers 400."""
    request = review_request.get("request") or {}
    decision = review(request.get("object") or {}, request.get("namespace") or "", list_poddefaults)
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"message": decision.message}  # no code: the API server answers 400
    elif decision.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(decision.patch).encode()).decode()
    if decision.applied or not decision.allowed:
        pod_name = ((request.get("object") or {}).get("metadata") or {}).get("name", "")
        LOG.info("pod %s: %s", pod_name, decision.message or f"applied {decision.applied}")
    version = review_request.get("apiVersion") or "admission.k8s.io/v1"
    return {"apiVersion": version, "kind": "AdmissionReview", "response": response}


def handler_for(list_poddefaults: PodDefaultLister) -> type[http.server.BaseHTTPRequestHandler]:
    class Reviewer(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            LOG.debug(format, *args)

        def do_GET(self) -> None:
            self._send(200, b"ok", "text/plain")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.split("?")[0] != PATH:
                self._send(404, b"not found", "text/plain")
                return
            if self.headers.get("Content-Type") != "application/json":
                self._send(415, b"expected Content-Type application/json", "text/plain")
                return
            answer = admission_response(json.loads(body), list_poddefaults)
            self._send(200, json.dumps(answer).encode(), "application/json")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Reviewer


def serve(
    list_poddefaults: PodDefaultLister, cert: str, key: str, port: int, host: str = ""
) -> http.server.ThreadingHTTPServer:
    """An HTTPS server for AdmissionReviews on `port` (0: any free port); call serve_forever() on it."""
    server = http.server.ThreadingHTTPServer((host, port), handler_for(list_poddefaults))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def cluster_lister() -> PodDefaultLister:
    from kubernetes import client, config

    config.load_incluster_config()
    custom = client.CustomObjectsApi()

    def list_poddefaults(namespace: str) -> list[dict[str, Any]]:
        items = custom.list_namespaced_custom_object("kubeflow.org", "v1alpha1", namespace, "poddefaults")
        return list(items.get("items", []))

    return list_poddefaults


def main() -> None:
    # Upstream's flags, names and defaults (kubeflow/kubeflow components/admission-webhook/main.go, func main,
    # its first three statements after the declarations: flag.StringVar tlsCertFile, tlsKeyFile, flag.IntVar
    # webhookPort 4443); kubeflow/manifests passes --tlsCertFile/--tlsKeyFile
    # (manifests/overlays/cert-manager/deployment.yaml, lines 10-12) and leaves the port at 4443.
    parser = argparse.ArgumentParser()
    parser.add_argument("--tlsCertFile", dest="cert", default="/etc/webhook/certs/cert.pem")
    parser.add_argument("--tlsKeyFile", dest="key", default="/etc/webhook/certs/key.pem")
    parser.add_argument("--webhookPort", dest="port", type=int, default=4443)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = serve(cluster_lister(), args.cert, args.key, args.port)
    LOG.info("serving %s on :%d", PATH, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
