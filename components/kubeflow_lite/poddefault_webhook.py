"""PodDefault mutating admission webhook (kubeflow.org/v1alpha1), served over HTTPS.

Behaves as Kubeflow's admission-webhook (kubeflow/kubeflow components/admission-webhook, v1.7 to v1.10;
see ../README.md for the upstream file and line each rule was checked against):

- a pod annotated `poddefault.admission.kubeflow.org/exclude: "true"`, and a mirror pod, is admitted as is;
- every PodDefault of the pod's namespace whose selector matches the pod's labels applies (an empty
  selector matches every pod); one PodDefault with an invalid selector makes every pod of the namespace
  be refused;
- a conflict (an env var, volume, volume mount by name or by mount path, init container, sidecar,
  toleration by key, image pull secret, label or annotation already on the pod with another value)
  refuses the pod: Allowed=false, message `conflict occurred while applying poddefaults: ...`;
- otherwise env, volumeMounts, envFrom (appended as is), command and args (only where unset, never on
  istio-proxy) go into every container; volumes, tolerations, imagePullSecrets, initContainers, sidecars,
  labels and annotations into the pod; serviceAccountName and automountServiceAccountToken are set;
  the pod is annotated `poddefault.admission.kubeflow.org/poddefault-<name>: <resourceVersion>`.

python3 -m kubeflow_lite.poddefault_webhook --cert tls.crt --key tls.key --port 4443
"""

from __future__ import annotations

import argparse
import base64
import copy
import http.server
import json
import logging
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("poddefault-webhook")
ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org"
EXCLUDE_ANNOTATION = f"{ANNOTATION_PREFIX}/exclude"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
ISTIO_PROXY = "istio-proxy"
PATH = "/apply-poddefault"

PodDefaultLister = Callable[[str], list[dict[str, Any]]]


class InvalidSelector(ValueError):
    pass


# --- label selectors (metav1.LabelSelectorAsSelector semantics) -------------------------------------

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_KEY = re.compile(rf"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist"}


def _check_key(key: str) -> None:
    prefix = key.split("/", 1)[0] if "/" in key else ""
    if not _KEY.match(key) or len(prefix) > 253:
        raise InvalidSelector(f"invalid label key {key!r}")


def _check_value(value: str) -> None:
    if not isinstance(value, str) or len(value) > 63 or not _VALUE.match(value):
        raise InvalidSelector(f"invalid label value {value!r}")


def selector_requirements(selector: dict[str, Any] | None) -> list[tuple[str, str, list[str]]]:
    """The selector as (key, operator, values) requirements; InvalidSelector where the API would refuse it."""
    requirements: list[tuple[str, str, list[str]]] = []
    for key, value in ((selector or {}).get("matchLabels") or {}).items():
        _check_key(key)
        _check_value(value)
        requirements.append((key, "In", [value]))
    for expression in (selector or {}).get("matchExpressions") or []:
        key, operator, values = expression.get("key", ""), expression.get("operator", ""), expression.get("values")
        _check_key(key)
        if operator not in _OPERATORS:
            raise InvalidSelector(f"{operator!r} is not a valid label selector operator")
        if operator in ("In", "NotIn") and not values:
            raise InvalidSelector(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
        if operator in ("Exists", "DoesNotExist") and values:
            raise InvalidSelector(f"values set must be empty for exists and does not exist (key {key!r})")
        for value in values or []:
            _check_value(value)
        requirements.append((key, operator, list(values or [])))
    return requirements


def selector_matches(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """An empty selector ({}) matches every pod, as a LabelSelector does; raises InvalidSelector."""
    for key, operator, values in selector_requirements(selector):
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


# --- merging -----------------------------------------------------------------------------------------


def _zero_stripped(value: Any) -> Any:
    """A decoded object without the fields a Go struct would hold as zero values (null, "")."""
    if isinstance(value, dict):
        return {k: _zero_stripped(v) for k, v in value.items() if v is not None and v != ""}
    if isinstance(value, list):
        return [_zero_stripped(item) for item in value]
    return value


def same(left: Any, right: Any) -> bool:
    """Equality as Go's reflect.DeepEqual sees two decoded API structs (absent and zero are alike)."""
    return bool(_zero_stripped(left) == _zero_stripped(right))


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _conflict(what: str, poddefault: str, on: str, injected: Any, existing: Any, where: str = "container") -> str:
    shown = f"{_show(injected)}\ndoes not match\n{_show(existing)}"
    return f"merging {what} for {poddefault} has a conflict on {on}: \n{shown}\n in {where}"


def aggregate(errors: list[str]) -> str:
    """One message for several, as apimachinery's error aggregate prints them: nested aggregates
    flattened, duplicates once."""
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _name(poddefault: dict[str, Any]) -> str:
    return str((poddefault.get("metadata") or {}).get("name", ""))


def _merge_keyed(
    existing: list[dict[str, Any]],
    poddefaults: list[dict[str, Any]],
    field_name: str,
    key: str,
    what: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Appends each PodDefault item whose key is new; the same key with another definition is a conflict."""
    seen = {item.get(key, ""): item for item in existing}
    merged = list(existing)
    errors: list[str] = []
    for poddefault in poddefaults:
        for item in (poddefault.get("spec") or {}).get(field_name) or []:
            found = seen.get(item.get(key, ""))
            if found is None:
                seen[item.get(key, "")] = item
                merged.append(item)
            elif not same(found, item):
                errors.append(_conflict(what, _name(poddefault), str(item.get(key, "")), item, found))
    return merged, errors


def _merge_volume_mounts(
    mounts: list[dict[str, Any]], poddefaults: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Mounts are checked twice: by name and by mountPath."""
    by_name = {mount.get("name", ""): mount for mount in mounts}
    by_path = {mount.get("mountPath", ""): mount for mount in mounts}
    merged = list(mounts)
    errors: list[str] = []
    for poddefault in poddefaults:
        for mount in (poddefault.get("spec") or {}).get("volumeMounts") or []:
            name, path = mount.get("name", ""), mount.get("mountPath", "")
            found = by_name.get(name)
            if found is None:
                by_name[name] = mount
                merged.append(mount)
            elif not same(found, mount):
                errors.append(_conflict("volume mounts", _name(poddefault), name, mount, found))
            found = by_path.get(path)
            if found is None:
                by_path[path] = mount
            elif not same(found, mount):
                errors.append(_conflict("volume mounts", _name(poddefault), f"mount path {path}", mount, found))
    return merged, errors


def _merge_map(
    existing: dict[str, str], poddefaults: list[dict[str, Any]], field_name: str
) -> tuple[dict[str, str], list[str]]:
    merged = dict(existing)
    errors: list[str] = []
    for poddefault in poddefaults:
        for key, value in ((poddefault.get("spec") or {}).get(field_name) or {}).items():
            if key not in merged:
                merged[key] = value
            elif merged[key] != value:
                errors.append(
                    f"merging has conflict on {key}: \n{_show(value)}\ndoes not match\n{_show(merged[key])}\n in pod"
                )
    return merged, errors


def _merge_containers(
    containers: list[dict[str, Any]], poddefaults: list[dict[str, Any]], field_name: str
) -> tuple[list[dict[str, Any]], list[str]]:
    return _merge_keyed(containers, poddefaults, field_name, "name", "containers")


def conflicts(pod: dict[str, Any], poddefaults: list[dict[str, Any]]) -> list[str]:
    """Every conflict between the pod and the PodDefaults; empty when they can be applied."""
    spec, metadata = pod.get("spec") or {}, pod.get("metadata") or {}
    errors: list[str] = []
    errors += _merge_keyed(spec.get("volumes") or [], poddefaults, "volumes", "name", "volumes")[1]
    errors += _merge_keyed(spec.get("tolerations") or [], poddefaults, "tolerations", "key", "tolerations")[1]
    secrets = spec.get("imagePullSecrets") or []
    errors += _merge_keyed(secrets, poddefaults, "imagePullSecrets", "name", "imagePullSecret")[1]
    for container in spec.get("containers") or []:
        errors += _merge_keyed(container.get("env") or [], poddefaults, "env", "name", "env")[1]
        errors += _merge_volume_mounts(container.get("volumeMounts") or [], poddefaults)[1]
    errors += _merge_map(metadata.get("annotations") or {}, poddefaults, "annotations")[1]
    errors += _merge_map(metadata.get("labels") or {}, poddefaults, "labels")[1]
    errors += _merge_containers(spec.get("initContainers") or [], poddefaults, "initContainers")[1]
    errors += _merge_containers(spec.get("containers") or [], poddefaults, "sidecars")[1]
    return errors


def _set_or_keep(obj: dict[str, Any], key: str, value: Any) -> None:
    """Go's omitempty: an empty result leaves the field as the pod had it."""
    if value:
        obj[key] = value


def apply_poddefaults(pod: dict[str, Any], poddefaults: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod with the (conflict-free) PodDefaults applied, in their order; the input is untouched."""
    result = copy.deepcopy(pod)
    metadata, spec = result.setdefault("metadata", {}), result.setdefault("spec", {})
    if not poddefaults:
        return result
    for field_name, key in (("volumes", "name"), ("tolerations", "key"), ("imagePullSecrets", "name")):
        _set_or_keep(spec, field_name, _merge_keyed(spec.get(field_name) or [], poddefaults, field_name, key, "")[0])
    for poddefault in poddefaults:
        pd_spec = poddefault.get("spec") or {}
        if pd_spec.get("automountServiceAccountToken") is not None:
            spec["automountServiceAccountToken"] = pd_spec["automountServiceAccountToken"]
        if pd_spec.get("serviceAccountName"):
            spec["serviceAccountName"] = pd_spec["serviceAccountName"]
    _set_or_keep(metadata, "annotations", _merge_map(metadata.get("annotations") or {}, poddefaults, "annotations")[0])
    _set_or_keep(metadata, "labels", _merge_map(metadata.get("labels") or {}, poddefaults, "labels")[0])
    for container in spec.get("containers") or []:
        _set_or_keep(container, "env", _merge_keyed(container.get("env") or [], poddefaults, "env", "name", "")[0])
        mounts = _merge_volume_mounts(container.get("volumeMounts") or [], poddefaults)[0]
        _set_or_keep(container, "volumeMounts", mounts)
        env_from = list(container.get("envFrom") or [])
        for poddefault in poddefaults:
            env_from += (poddefault.get("spec") or {}).get("envFrom") or []
        _set_or_keep(container, "envFrom", env_from)
        if container.get("name") != ISTIO_PROXY:
            for poddefault in poddefaults:
                pd_spec = poddefault.get("spec") or {}
                if container.get("command") is None and pd_spec.get("command") is not None:
                    container["command"] = pd_spec["command"]
                if container.get("args") is None and pd_spec.get("args") is not None:
                    container["args"] = pd_spec["args"]
    init_containers = _merge_containers(spec.get("initContainers") or [], poddefaults, "initContainers")[0]
    _set_or_keep(spec, "initContainers", init_containers)
    _set_or_keep(spec, "containers", _merge_containers(spec.get("containers") or [], poddefaults, "sidecars")[0])
    annotations = metadata.setdefault("annotations", {})
    for poddefault in poddefaults:
        annotations[f"{ANNOTATION_PREFIX}/poddefault-{_name(poddefault)}"] = (poddefault.get("metadata") or {}).get(
            "resourceVersion", ""
        )
    return result


def patch_between(original: dict[str, Any], mutated: dict[str, Any]) -> list[dict[str, Any]]:
    """JSONPatch setting the top-level parts of metadata and spec that changed."""
    operations = []
    for section in ("metadata", "spec"):
        before, after = original.get(section) or {}, mutated.get(section) or {}
        if section not in original and after:
            operations.append({"op": "add", "path": f"/{section}", "value": after})
            continue
        for key in sorted(set(before) | set(after)):
            pointer = f"/{section}/" + key.replace("~", "~0").replace("/", "~1")
            if key not in after:
                operations.append({"op": "remove", "path": pointer})
            elif before.get(key) != after[key]:
                operations.append(
                    {"op": "add" if key not in before else "replace", "path": pointer, "value": after[key]}
                )
    return operations


# --- admission ---------------------------------------------------------------------------------------


@dataclass
class Decision:
    allowed: bool
    message: str = ""
    patch: list[dict[str, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)


def review(pod: dict[str, Any], request_namespace: str, list_poddefaults: PodDefaultLister) -> Decision:
    """What the webhook answers for a pod CREATE."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or request_namespace
    annotations = metadata.get("annotations") or {}
    if annotations.get(EXCLUDE_ANNOTATION) == "true" or MIRROR_POD_ANNOTATION in annotations:
        return Decision(allowed=True)
    try:
        poddefaults = list_poddefaults(namespace)
    except Exception as error:  # the API server's answer, e.g. the CRD is not installed
        return Decision(allowed=False, message=f"error fetching poddefaults: {error}")
    labels = metadata.get("labels") or {}
    matching = []
    for poddefault in poddefaults:
        selector = (poddefault.get("spec") or {}).get("selector") or {}
        try:
            selected = selector_matches(selector, labels)
        except InvalidSelector as error:
            return Decision(
                allowed=False,
                message=f"label selector conversion failed: {_show(selector)} for selector: {error}",
            )
        if selected and (poddefault.get("metadata") or {}).get("namespace", namespace) == namespace:
            matching.append(poddefault)
    if not matching:
        return Decision(allowed=True)
    names = [_name(poddefault) for poddefault in matching]
    errors = conflicts(pod, matching)
    if errors:
        return Decision(
            allowed=False,
            message=f"conflict occurred while applying poddefaults: {','.join(names)} on pod: "
            f"{metadata.get('name', '')} err: {aggregate(errors)}",
        )
    return Decision(allowed=True, patch=patch_between(pod, apply_poddefaults(pod, matching)), applied=names)


def admission_response(review_request: dict[str, Any], list_poddefaults: PodDefaultLister) -> dict[str, Any]:
    """The AdmissionReview answering one, in the request's version. kubeflow/manifests registers the webhook
    with admissionReviewVersions [v1beta1, v1], so the API server asks in v1beta1 and fails on an answer in
    v1 ("converting (v1.AdmissionReview) to (v1beta1.AdmissionReview)"). Upstream's handler
    (kubeflow/kubeflow components/admission-webhook/main.go, func serve: `response := v1.AdmissionReview{}`
    with only Response set, no TypeMeta) answers without apiVersion/kind, which only a v1beta1 request
    accepts; the registration is components/admission-webhook/manifests/base/mutating-webhook-configuration.yaml
    (admissionReviewVersions, lines 6-8). Answering in the request's version works for both registrations."""
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
