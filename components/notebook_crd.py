"""Writes charts/kubeflow/crds/notebooks.yaml: the Notebook CRD as Kubeflow's notebook-controller defines it.

Upstream (kubeflow/kubeflow components/notebook-controller, v1.10) generates its CRD with controller-gen from
api/{v1,v1beta1,v1alpha1}/notebook_types.go and patches it (config/crd/kustomization.yaml):
versions v1 (storage), v1alpha1 and v1beta1, all served, conversion None; subresource status;
spec.template.spec is a full core/v1 PodSpec (spec.template has no metadata, so it is pruned), its
containers need name and image and there is at least one; status has conditions, readyReplicas and
containerState. The PodSpec schema here comes from the Kubernetes OpenAPI the cluster's own Kubernetes
build ships (k8s.io/kubernetes api/openapi-spec/v3/api__v1_openapi.json), converted to a structural
schema the way controller-gen writes one, without descriptions (upstream's 1.4 MB with descriptions is
too large to apply without server-side apply).

python3 components/notebook_crd.py [path/to/api__v1_openapi.json]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "charts" / "kubeflow" / "crds" / "notebooks.yaml"
KUBERNETES_VERSION = "1.34.4"
SCHEMA_PREFIX = "#/components/schemas/"
INT_OR_STRING = {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
KEPT = ("type", "format", "required")


def default_openapi() -> Path:
    cache = Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck"))
    module = cache / "go" / "mod" / "k8s.io" / f"kubernetes@v{KUBERNETES_VERSION}"
    return module / "api" / "openapi-spec" / "v3" / "api__v1_openapi.json"


def structural(node: dict[str, Any], schemas: dict[str, Any], seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A structural CRD schema for an OpenAPI v3 schema node ($ref resolved, no descriptions or defaults)."""
    reference = node.get("$ref") or next((part["$ref"] for part in node.get("allOf") or [] if "$ref" in part), None)
    if reference:
        name = reference.removeprefix(SCHEMA_PREFIX)
        if name in seen:
            raise ValueError(f"recursive schema {name}")
        if name == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta":
            return {"type": "object"}
        return structural(schemas[name], schemas, (*seen, name))
    if node.get("format") in ("int-or-string", "quantity") or "oneOf" in node:
        return dict(INT_OR_STRING)
    result = {key: node[key] for key in KEPT if key in node}
    if "properties" in node:
        result["type"] = "object"
        result["properties"] = {k: structural(v, schemas, seen) for k, v in sorted(node["properties"].items())}
    if isinstance(node.get("additionalProperties"), dict):
        result["type"] = "object"
        result["additionalProperties"] = structural(node["additionalProperties"], schemas, seen)
    if "items" in node:
        result["items"] = structural(node["items"], schemas, seen)
    if not result.get("type"):
        result["type"] = "object"
        result["x-kubernetes-preserve-unknown-fields"] = True
    return result


def version_schema(schemas: dict[str, Any], condition_fields: dict[str, Any], condition_required: list[str]) -> dict:
    pod_spec = structural({"$ref": SCHEMA_PREFIX + "io.k8s.api.core.v1.PodSpec"}, schemas)
    containers = pod_spec["properties"]["containers"]
    containers["minItems"] = 1  # upstream config/crd/patches/validation_patches.yaml
    containers["items"]["required"] = ["name", "image"]
    container_state = structural({"$ref": SCHEMA_PREFIX + "io.k8s.api.core.v1.ContainerState"}, schemas)
    condition = {"type": "object", "properties": condition_fields, "required": condition_required}
    return {
        "openAPIV3Schema": {
            "description": "Notebook is the Schema for the notebooks API",
            "type": "object",
            "properties": {
                "apiVersion": {"type": "string"},
                "kind": {"type": "string"},
                "metadata": {"type": "object"},
                "spec": {
                    "description": "NotebookSpec defines the desired state of Notebook",
                    "type": "object",
                    "properties": {
                        "template": {
                            "description": "Template describes the notebooks that will be created.",
                            "type": "object",
                            "properties": {"spec": pod_spec},
                        }
                    },
                },
                "status": {
                    "description": "NotebookStatus defines the observed state of Notebook",
                    "type": "object",
                    "properties": {
                        "conditions": {"type": "array", "items": condition},
                        "containerState": container_state,
                        "readyReplicas": {"type": "integer", "format": "int32"},
                    },
                    "required": ["conditions", "containerState", "readyReplicas"],
                },
            },
        }
    }


def crd(schemas: dict[str, Any]) -> dict[str, Any]:
    time = {"type": "string", "format": "date-time"}
    text = {"type": "string"}
    v1alpha1_condition = {"lastProbeTime": time, "message": text, "reason": text, "type": text}
    condition = {**v1alpha1_condition, "lastTransitionTime": time, "status": text}
    versions = []
    for name, fields, required in (
        ("v1", condition, ["status", "type"]),
        ("v1alpha1", v1alpha1_condition, ["type"]),
        ("v1beta1", condition, ["status", "type"]),
    ):
        versions.append({
            "name": name,
            "schema": version_schema(schemas, fields, required),
            "served": True,
            "storage": name == "v1",
            "subresources": {"status": {}},
        })  # fmt: skip
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "notebooks.kubeflow.org"},
        "spec": {
            "conversion": {"strategy": "None"},
            "group": "kubeflow.org",
            "names": {"kind": "Notebook", "listKind": "NotebookList", "plural": "notebooks", "singular": "notebook"},
            "scope": "Namespaced",
            "versions": versions,
        },
    }


HEADER = """\
# Notebook (kubeflow.org): Kubeflow notebook-controller v1.10's CRD (config/crd: versions v1 [storage],
# v1alpha1, v1beta1, conversion None; spec.template.spec a full PodSpec, no spec.template.metadata).
# Generated by components/notebook_crd.py from Kubernetes {version}'s OpenAPI (PodSpec, ContainerState),
# without descriptions. Do not edit by hand.
"""


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else default_openapi()
    schemas = json.loads(source.read_text())["components"]["schemas"]
    text = yaml.safe_dump(crd(schemas), sort_keys=False, width=120)
    TARGET.write_text(HEADER.format(version=KUBERNETES_VERSION) + text)
    print(f"wrote {TARGET} ({len(text) // 1024} KiB)")


if __name__ == "__main__":
    main()
