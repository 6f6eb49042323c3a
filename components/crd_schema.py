"""Structural CRD schemas of Kubernetes types, shaped as Kubeflow's CRDs have them (kubeflow/kubeflow v1.10.0).

Upstream's Notebook and PodDefault CRDs (components/notebook-controller/config/crd/bases/kubeflow.org_notebooks.yaml,
components/admission-webhook/manifests/base/crd.yaml) are controller-gen v0.8.0 output (their
`controller-gen.kubebuilder.io/version` annotation) of Kubernetes types as k8s.io/api v0.23.0 had them
(notebook-controller/go.mod): fully structural, no descriptions, no x-kubernetes-preserve-unknown-fields.
The schema here is made from the OpenAPI the Kubernetes this project builds ships (api__v1_openapi.json of
k8s.io/kubernetes, in the Go module cache), written the way controller-gen writes one, and cut back to the
fields and markers upstream's files have:

- NEWER_FIELDS: fields Kubernetes added after that API (read from upstream's files at v1.10.0: each one is
  absent there), so the API server prunes them from a Notebook or PodDefault, as on a Kubeflow cluster;
- NOT_REQUIRED: a field required since then;
- MARKERS: the list-map, map-type and default markers upstream's files carry (and no others: the newer
  OpenAPI has many more);
- quantities as controller-gen writes resource.Quantity (int or string, with its pattern), IntOrString as
  int or string; ObjectMeta inside a type as a bare object; `required` sorted.

tests/test_poddefault_fidelity.py checks the result against digests of upstream's files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "1.34.4"
SCHEMA_PREFIX = "#/components/schemas/"
CORE = "io.k8s.api.core.v1."
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
KEPT = ("type", "format", "required")

NEWER_FIELDS: dict[str, set[str]] = {
    "Container": {"resizePolicy", "restartPolicy", "restartPolicyRules"},
    "EphemeralContainer": {"resizePolicy", "restartPolicy", "restartPolicyRules"},
    "EnvVarSource": {"fileKeyRef"},
    "Lifecycle": {"stopSignal"},
    "LifecycleHandler": {"sleep"},
    "PersistentVolumeClaimSpec": {"volumeAttributesClassName"},
    "PodAffinityTerm": {"matchLabelKeys", "mismatchLabelKeys"},
    "PodSecurityContext": {"appArmorProfile", "seLinuxChangePolicy", "supplementalGroupsPolicy"},
    "PodSpec": {"hostUsers", "hostnameOverride", "resourceClaims", "resources", "schedulingGates"},
    "ResourceRequirements": {"claims"},
    "SecurityContext": {"appArmorProfile"},
    "TopologySpreadConstraint": {"matchLabelKeys", "minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"},
    "TypedObjectReference": {"namespace"},
    "Volume": {"image"},
    "VolumeMount": {"recursiveReadOnly"},
    "VolumeProjection": {"clusterTrustBundle", "podCertificate"},
}
NOT_REQUIRED: dict[str, set[str]] = {"HostAlias": {"ip"}}
_PORTS = {"x-kubernetes-list-map-keys": ["containerPort", "protocol"], "x-kubernetes-list-type": "map"}
MARKERS: dict[tuple[str, str], dict[str, Any]] = {
    ("Container", "ports"): _PORTS,
    ("EphemeralContainer", "ports"): _PORTS,
    ("ContainerPort", "protocol"): {"default": "TCP"},
    ("PodSpec", "nodeSelector"): {"x-kubernetes-map-type": "atomic"},
    ("PodSpec", "topologySpreadConstraints"): {
        "x-kubernetes-list-map-keys": ["topologyKey", "whenUnsatisfiable"],
        "x-kubernetes-list-type": "map",
    },
}


def default_openapi() -> Path:
    cache = Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck"))
    module = cache / "go" / "mod" / "k8s.io" / f"kubernetes@v{KUBERNETES_VERSION}"
    return module / "api" / "openapi-spec" / "v3" / "api__v1_openapi.json"


def _reference(node: dict[str, Any]) -> str | None:
    reference = node.get("$ref") or next((part["$ref"] for part in node.get("allOf") or [] if "$ref" in part), None)
    return str(reference).removeprefix(SCHEMA_PREFIX) if reference else None


def structural(node: dict[str, Any], schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The structural schema controller-gen writes for an OpenAPI v3 schema node ($ref resolved)."""
    name = _reference(node)
    if name:
        if name in seen:
            raise ValueError(f"recursive schema {name}")
        if name == OBJECT_META:
            return {"type": "object"}
        if name == QUANTITY:
            return {**int_or_string(), "pattern": QUANTITY_PATTERN}
        if name == INT_OR_STRING:
            return int_or_string()
        return _type(name, schemas, (*seen, name))
    result = {key: node[key] for key in KEPT if key in node}
    if isinstance(node.get("additionalProperties"), dict):
        result["type"] = "object"
        result["additionalProperties"] = structural(node["additionalProperties"], schemas, seen)
    if "items" in node:
        result["items"] = structural(node["items"], schemas, seen)
    if not result.get("type"):
        raise ValueError(f"no type in {node} (under {seen})")
    return result


def _type(name: str, schemas: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    node = schemas[name]
    if "properties" not in node:
        return structural({key: value for key, value in node.items() if key != "description"}, schemas, seen)
    short = name.removeprefix(CORE)
    properties = {}
    for field, schema in sorted(node["properties"].items()):
        if field not in NEWER_FIELDS.get(short, set()):
            properties[field] = {**structural(schema, schemas, seen), **MARKERS.get((short, field), {})}
    result: dict[str, Any] = {"type": "object", "properties": properties}
    required = sorted(set(node.get("required") or []) - NOT_REQUIRED.get(short, set()))
    if required:
        result["required"] = required
    return result


def int_or_string() -> dict[str, Any]:
    return {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}


def of(type_name: str, schemas: dict[str, Any]) -> dict[str, Any]:
    """The structural schema of one core/v1 type (e.g. "PodSpec") or of a full schema name."""
    full = type_name if "." in type_name else CORE + type_name
    return structural({"$ref": SCHEMA_PREFIX + full}, schemas)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every schema written out in full, as controller-gen does


def dump(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=120)


def generate(target: Path, header: str, build: Callable[[dict[str, Any]], dict[str, Any]], argv: list[str]) -> None:
    """Writes the CRD `build` makes from Kubernetes' OpenAPI schemas (the file argv[1], else the pinned version's)
    to target, under the header (its {version} filled)."""
    source = Path(argv[1]) if len(argv) > 1 else default_openapi()
    schemas = json.loads(source.read_text())["components"]["schemas"]
    text = dump(build(schemas))
    target.write_text(header.format(version=KUBERNETES_VERSION) + text)
    print(f"wrote {target} ({len(text) // 1024} KiB)")
