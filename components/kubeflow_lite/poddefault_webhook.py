"""PodDefault mutating admission webhook (kubeflow.org/v1alpha1), served over HTTPS.

python3 -m kubeflow_lite.poddefault_webhook --cert tls.crt --key tls.key --port 4443
"""

from __future__ import annotations

import argparse
import base64
import copy
import http.server
import json
import logging
import ssl
from typing import Any

from kubernetes import client, config

LOG = logging.getLogger("poddefault-webhook")
ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org/poddefault-"


class Conflict(ValueError):
    pass


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) against a pod's labels; an empty one matches nothing."""
    if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _merge_named(existing: list[dict[str, Any]], added: list[dict[str, Any]], what: str, source: str) -> list[dict]:
    merged = list(existing)
    by_name = {item["name"]: item for item in existing}
    for item in added:
        current = by_name.get(item["name"])
        if current is None:
            merged.append(item)
            by_name[item["name"]] = item
        elif current != item:
            raise Conflict(f"{what} '{item['name']}' from PodDefault {source} conflicts with the pod's own definition")
    return merged


def apply_poddefaults(pod: dict[str, Any], poddefaults: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod with every matching PodDefault merged in (a new dict; the input is untouched)."""
    result = copy.deepcopy(pod)
    labels = (result.get("metadata") or {}).get("labels") or {}
    metadata = result.setdefault("metadata", {})
    spec = result.setdefault("spec", {})
    for poddefault in sorted(poddefaults, key=lambda p: p["metadata"]["name"]):
        pd_spec = poddefault.get("spec") or {}
        if not selector_matches(pd_spec.get("selector"), labels):
            continue
        name = poddefault["metadata"]["name"]
        for container in spec.get("containers") or []:
            container["env"] = _merge_named(container.get("env") or [], pd_spec.get("env") or [], "env var", name)
            container["envFrom"] = (container.get("envFrom") or []) + [
                source for source in pd_spec.get("envFrom") or [] if source not in (container.get("envFrom") or [])
            ]
            mounts = pd_spec.get("volumeMounts") or []
            container["volumeMounts"] = _merge_named(container.get("volumeMounts") or [], mounts, "volume mount", name)
            for key in ("env", "envFrom", "volumeMounts"):
                if not container[key]:
                    del container[key]
        volumes = _merge_named(spec.get("volumes") or [], pd_spec.get("volumes") or [], "volume", name)
        if volumes:
            spec["volumes"] = volumes
        if pd_spec.get("tolerations"):
            spec["tolerations"] = (spec.get("tolerations") or []) + [
                t for t in pd_spec["tolerations"] if t not in (spec.get("tolerations") or [])
            ]
        if pd_spec.get("serviceAccountName"):
            spec["serviceAccountName"] = pd_spec["serviceAccountName"]
        if "automountServiceAccountToken" in pd_spec:
            spec["automountServiceAccountToken"] = pd_spec["automountServiceAccountToken"]
        metadata["labels"] = {**(metadata.get("labels") or {}), **(pd_spec.get("labels") or {})}
        annotations = {**(metadata.get("annotations") or {}), **(pd_spec.get("annotations") or {})}
        annotations[ANNOTATION_PREFIX + name] = poddefault["metadata"].get("resourceVersion", "")
        metadata["annotations"] = annotations
    return result


def patch_between(original: dict[str, Any], mutated: dict[str, Any]) -> list[dict[str, Any]]:
    """JSONPatch replacing the top-level parts of metadata and spec that changed."""
    operations = []
    for section in ("metadata", "spec"):
        before, after = original.get(section) or {}, mutated.get(section) or {}
        for key in sorted(set(before) | set(after)):
            if key not in after:
                operations.append({"op": "remove", "path": f"/{section}/{key}"})
            elif before.get(key) != after[key]:
                operations.append({"op": "add" if key not in before else "replace", "path": f"/{section}/{key}",
                                   "value": after[key]})  # fmt: skip
    return operations


class Reviewer(http.server.BaseHTTPRequestHandler):
    custom: client.CustomObjectsApi

    def log_message(self, format: str, *args: Any) -> None:
        LOG.info(format, *args)

    def do_GET(self) -> None:
        self._send(200, b"ok", "text/plain")

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        try:
            pod = request["object"]
            namespace = request.get("namespace") or pod.get("metadata", {}).get("namespace")
            items = self.custom.list_namespaced_custom_object("kubeflow.org", "v1alpha1", namespace, "poddefaults")
            mutated = apply_poddefaults(pod, items.get("items", []))
            operations = patch_between(pod, mutated)
            if operations:
                response["patchType"] = "JSONPatch"
                response["patch"] = base64.b64encode(json.dumps(operations).encode()).decode()
        except Conflict as error:
            response = {"uid": request["uid"], "allowed": False, "status": {"code": 409, "message": str(error)}}
        body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response})
        self._send(200, body.encode(), "application/json")

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--port", type=int, default=4443)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config.load_incluster_config()
    Reviewer.custom = client.CustomObjectsApi()
    server = http.server.ThreadingHTTPServer(("", args.port), Reviewer)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    LOG.info("serving /apply-poddefault on :%d", args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
