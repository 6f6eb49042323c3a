"""Where kfcheck's PodDefault webhook and its CRDs follow upstream Kubeflow v1.10.0 in the details: values
compared as typed Go values, the JSONPatch as upstream's patch library makes it, the AdmissionReview versions,
and the CRD schemas upstream serves.

Upstream: kubeflow/kubeflow v1.10.0 components/admission-webhook (main.go, go.mod, manifests/base) and
components/notebook-controller/config/crd; k8s.io/api v0.28.1 core/v1/types.go (the Go types the webhook
decodes into, admission-webhook/go.mod:10); github.com/mattbaird/jsonpatch at 81af80346b1a (go.mod:6), whose
jsonpatch.go makes the patch. Every webhook case below was also run through upstream's own main.go functions
(built from the v1.10.0 tag, mutatePods' steps after the PodDefault list) when it was written: same admission,
same patch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

import crd_schema
import go_types
import poddefault_crd
from kubeflow_lite import go_values
from kubeflow_lite import poddefault_webhook as wh

from tests.test_kubeflow_lite import (
    Case,
    PatchRefused,
    Served,
    admission_round_trip,
    apply_json_patch,
    check_outcome,
    container,
    lister_of,
    marker,
    pod,
    poddefault,
    served,  # noqa: F401 (the fixture)
    with_changes,
)

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO / "charts" / "kubeflow" / "crds"
TYPES = "k8s.io/api v0.28.1 core/v1/types.go"
MOUNT = {"name": "v", "mountPath": "/shared"}
TOLERATION = {"key": "gpu", "operator": "Exists"}
SIDECAR = {"name": "kubectl", "image": "kubectl"}
X = {"configMapRef": {"name": "x"}}
Y = {"secretRef": {"name": "y"}}
NO_CONTAINERS = {key: value for key, value in pod(annotations=marker("pd")).items() if key != "spec"}
CM_REF = {"name": "cm", "key": "k"}
CM_ENV = {"name": "C", "valueFrom": {"configMapKeyRef": CM_REF}}

# --- 1. typed equality: Go's zero values and absent fields are one value, except behind a pointer ---------

TYPED_CASES = [
    Case("a volumeMount with readOnly: false is the mount without readOnly",
         f"main.go:282-294,296-306 (reflect.DeepEqual); {TYPES}:2015 (VolumeMount.ReadOnly bool)",
         pod(containers=[container(volumeMounts=[{**MOUNT, "readOnly": False}])]), [poddefault(volumeMounts=[MOUNT])],
         with_changes(pod(), annotations=marker("pd"),
                      containers=[container(volumeMounts=[{**MOUNT, "readOnly": False}])])),
    Case("an env var with value \"\" or valueFrom null is the env var without them",
         f"main.go:230-241; {TYPES}:2088 (EnvVar.Value string), EnvVar.ValueFrom a pointer (null is nil)",
         pod(containers=[container(env=[{"name": "E", "value": ""}])]),
         [poddefault(env=[{"name": "E", "valueFrom": None}])],
         with_changes(pod(), annotations=marker("pd"), containers=[container(env=[{"name": "E", "value": ""}])])),
    Case("a toleration with effect \"\" and value \"\" is the toleration without them",
         f"main.go:423-435; {TYPES}:3260,3264 (Toleration.Value, Effect: strings)",
         pod(tolerations=[{**TOLERATION, "effect": "", "value": ""}]), [poddefault(tolerations=[TOLERATION])],
         with_changes(pod(), annotations=marker("pd"), tolerations=[{**TOLERATION, "effect": "", "value": ""}])),
    Case("an init container like the pod's but for tty: false and workingDir \"\" is that one: not added",
         f"main.go:380-392 (mergeContainers); {TYPES}:2470,2614 (Container.WorkingDir string, TTY bool)",
         pod(initContainers=[SIDECAR]), [poddefault(initContainers=[{**SIDECAR, "tty": False, "workingDir": ""}])],
         with_changes(pod(initContainers=[SIDECAR]), annotations=marker("pd"))),
    Case("optional: false is not an absent optional: a pointer (*bool) keeps them apart, a conflict",
         f"main.go:239-240; {TYPES}:2144 (ConfigMapKeySelector.Optional *bool)",
         pod(containers=[container(env=[CM_ENV])]),
         [poddefault(env=[{"name": "C", "valueFrom": {"configMapKeyRef": {**CM_REF, "optional": False}}}])],
         refusal=["merging env for pd has a conflict on C"]),
    Case("tolerationSeconds: 0 is not an absent tolerationSeconds (*int64): a conflict",
         f"main.go:433-434; {TYPES}:3270 (Toleration.TolerationSeconds *int64)",
         pod(tolerations=[TOLERATION]), [poddefault(tolerations=[{**TOLERATION, "tolerationSeconds": 0}])],
         refusal=["merging tolerations for pd has a conflict on gpu"]),
    Case("command: [] is not an absent command: DeepEqual tells an empty slice from nil, a conflict",
         f"main.go:390-391; {TYPES}:2454 (Container.Command []string)",
         pod(containers=[container(), SIDECAR]), [poddefault(sidecars=[{**SIDECAR, "command": []}])],
         refusal=["merging containers for pd has a conflict on kubectl"]),
    Case("a field k8s.io/api v0.28.1 does not have (recursiveReadOnly, Kubernetes 1.30) is not compared",
         "admission-webhook/go.mod:10 (k8s.io/api v0.28.1); main.go:291 compares the decoded structs",
         pod(containers=[container(volumeMounts=[{**MOUNT, "recursiveReadOnly": "Disabled"}])]),
         [poddefault(volumeMounts=[MOUNT])],
         with_changes(pod(), annotations=marker("pd"),
                      containers=[container(volumeMounts=[{**MOUNT, "recursiveReadOnly": "Disabled"}])])),
]  # fmt: skip

# --- 2. envFrom, and 3. the patch: mattbaird/jsonpatch@81af803 compareArray (jsonpatch.go:227-257) ---------

PATCH_CASES = [
    Case("two PodDefaults adding the same envFrom to a container without envFrom: it is there twice",
         "main.go:254-262 (appended as is); jsonpatch.go:156-158 (a new key is added whole)",
         pod(), [poddefault("a", envFrom=[X]), poddefault("b", envFrom=[X])],
         with_changes(pod(), annotations=marker("a", "b"), containers=[container(envFrom=[X, X])])),
    Case("appended envFrom items equal to each other but new to the container are both added",
         "jsonpatch.go:243-254 (each new item missing from the old array is added)",
         pod(containers=[container(envFrom=[Y])]), [poddefault("a", envFrom=[X]), poddefault("b", envFrom=[X])],
         with_changes(pod(), annotations=marker("a", "b"), containers=[container(envFrom=[Y, X, X])])),
    Case("an envFrom the container has, then a new one: the patch adds past the array's end, the pod is refused",
         "jsonpatch.go:243-254 (the new item's index, 2, is kept though item 1 gets no operation)",
         pod(containers=[container(envFrom=[X])]), [poddefault(envFrom=[X, Y])],
         refusal=["the API server cannot apply the patch"]),
    Case("two containers getting env and a sidecar: removals by old indexes, the pod is refused",
         "main.go:531-550; jsonpatch.go:230-241 (remove /containers/0 then /containers/1 of a 1-item array)",
         pod(containers=[container(), container(name="d")]), [poddefault(env=[{"name": "A", "value": "1"}],
                                                                         sidecars=[SIDECAR])],
         refusal=["the API server cannot apply the patch"]),
    Case("a sidecar equal to a container that then gets env: the merge fails, the pod loses its containers "
         "(and the API server refuses it: spec.containers is required)",
         "main.go:546-550 (mergeContainers returns nil on that conflict, set as the containers), 396-400",
         pod(containers=[container(), SIDECAR]), [poddefault(env=[{"name": "A", "value": "1"}], sidecars=[SIDECAR])],
         NO_CONTAINERS),
    Case("a sidecar equal to a container, no env at all: the container's env became [] (not nil), the same",
         "main.go:223-224,275-276 (mergeEnv, mergeVolumeMounts return non-nil empty slices), 531-550",
         pod(containers=[container(), SIDECAR]), [poddefault(sidecars=[SIDECAR])], NO_CONTAINERS),
    Case("a container rewritten whole by the patch loses the fields k8s.io/api v0.28.1 does not have",
         "go.mod:10; main.go:685-693 (Go marshals the typed pod); jsonpatch.go:230-254 (container 0 replaced)",
         pod(containers=[container(volumeMounts=[{**MOUNT, "recursiveReadOnly": "Disabled"}])]),
         [poddefault(env=[{"name": "A", "value": "1"}], sidecars=[SIDECAR])],
         with_changes(pod(), annotations=marker("pd"), containers=[
             container(env=[{"name": "A", "value": "1"}], volumeMounts=[MOUNT]), SIDECAR])),
]  # fmt: skip

CASES = TYPED_CASES + PATCH_CASES


def outcome(case: Case, allowed: bool, message: str, patch: list[dict]) -> None:
    admitted: dict = {}
    try:
        admitted = apply_json_patch(case.pod, patch) if allowed else {}
    except PatchRefused as refused:
        allowed, message = False, f"the API server cannot apply the patch: {refused}"
    check_outcome(case, allowed, message, admitted)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_webhook_as_upstream(case: Case) -> None:
    decision = wh.review(case.pod, case.request_namespace, lister_of(case.poddefaults))
    outcome(case, decision.allowed, decision.message, decision.patch)


def test_equality_is_by_go_type() -> None:
    """The Go shapes behind the cases: scalars and struct values have no absent, pointers, slices, maps do."""
    assert go_values.same("VolumeMount", {**MOUNT, "readOnly": False, "subPath": None}, MOUNT)
    assert not go_values.same("VolumeMount", {**MOUNT, "mountPropagation": "None"}, MOUNT)
    assert go_values.same("Volume", {"name": "v", "emptyDir": {"medium": ""}}, {"name": "v", "emptyDir": {}})
    assert not go_values.same("Volume", {"name": "v", "emptyDir": {}}, {"name": "v"})
    assert not go_values.same("EnvVar", {"name": "A", "valueFrom": {}}, {"name": "A"})
    assert not go_values.same("Container", {"name": "c", "env": []}, {"name": "c"})
    assert go_values.marshalled("Container", {"name": "c", "env": [], "tty": False}) == {"name": "c"}
    # a resource.Quantity decodes a JSON number as its text: 1 and "1" are one Quantity, "1" and "1000m" two
    assert go_values.same(
        "Volume", {"name": "v", "emptyDir": {"sizeLimit": 1}}, {"name": "v", "emptyDir": {"sizeLimit": "1"}}
    )
    assert not go_values.same("EmptyDirVolumeSource", {"sizeLimit": "1"}, {"sizeLimit": "1000m"})


# --- 5. AdmissionReview versions ----------------------------------------------------------------------


def test_a_v1beta1_review_is_answered_in_v1beta1(served: Served) -> None:  # noqa: F811
    """Upstream registers [v1beta1, v1] (manifests/base/mutating-webhook-configuration.yaml:6-8), so the API
    server asks in v1beta1; the answer must be an AdmissionReview the API server reads as that version."""
    served.poddefaults[:] = [poddefault(env=[{"name": "A", "value": "1"}])]
    response = admission_round_trip(served, pod(), "team", "admission.k8s.io/v1beta1")
    patch = json.loads(base64.b64decode(response["patch"]))
    assert response["allowed"] and response["patchType"] == "JSONPatch"
    assert apply_json_patch(pod(), patch)["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]


def test_the_chart_and_the_manifests_register_v1beta1_and_v1() -> None:
    template = (REPO / "charts" / "kubeflow" / "templates" / "poddefault-webhook.yaml").read_text()
    manifests = REPO / "cluster" / "kubeflow-manifests" / "admission-webhook" / "mutating-webhook-configuration.yaml"
    assert "admissionReviewVersions: [v1beta1, v1]" in template
    assert yaml.safe_load(manifests.read_text())["webhooks"][0]["admissionReviewVersions"] == ["v1beta1", "v1"]


# --- 3. and 4. the CRDs: upstream's served schemas --------------------------------------------------------

# sha256 of the CRD's `spec` (canonical JSON: sorted keys, no spaces) as upstream serves it at v1.10.0:
# admission-webhook/manifests/base/crd.yaml; notebook-controller/config/crd/bases/kubeflow.org_notebooks.yaml
# with kustomization.yaml's patches (trivial_conversion_patch.yaml: conversion None, preserveUnknownFields
# false; validation_patches.yaml: containers need name and image, minItems 1).
UPSTREAM_SPEC_SHA256 = {
    "poddefaults.yaml": "5a514850431d0bdf18b485cab5f0df266114e15a860783495aa0efac802823c2",
    "notebooks.yaml": "c5171c77d9bd4cd65aac3570fe40958eb48e250d720e58bc88c10dad5a25c2ed",
}


def crd(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((CRDS / name).read_text()))


@pytest.mark.parametrize("name", sorted(UPSTREAM_SPEC_SHA256))
def test_the_crd_is_upstreams(name: str) -> None:
    spec = json.dumps(crd(name)["spec"], sort_keys=True, separators=(",", ":")).encode()
    assert hashlib.sha256(spec).hexdigest() == UPSTREAM_SPEC_SHA256[name]


def test_no_schema_keeps_unknown_fields() -> None:
    """Upstream's CRDs are fully structural: no x-kubernetes-preserve-unknown-fields anywhere."""
    for name in UPSTREAM_SPEC_SHA256:
        assert "preserve-unknown-fields" not in (CRDS / name).read_text(), name


def test_the_crds_are_generated_from_the_current_kubernetes() -> None:
    source = crd_schema.default_openapi()
    if not source.exists():
        pytest.skip(f"{source} is not there (cluster/build-binaries.sh fetches it)")
    schemas = json.loads(source.read_text())["components"]["schemas"]
    assert crd("poddefaults.yaml") == poddefault_crd.crd(schemas), "stale: run components/poddefault_crd.py"


def test_the_go_types_table_is_current() -> None:
    cache = Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck")) / "go" / "mod"
    if not (cache / "k8s.io" / f"api@{go_types.K8S_API_VERSION}").exists():
        pytest.skip(f"k8s.io/api@{go_types.K8S_API_VERSION} is not in {cache} (see components/go_types.py)")
    assert go_values.types() == go_types.table(cache), "stale: run components/go_types.py"


class Refused(Exception):
    pass


def admit(schema: dict[str, Any], value: Any, path: str = "") -> Any:
    """What the API server stores of `value` under a structural schema: unknown fields pruned, a value of
    the wrong type refused (apiextensions-apiserver's pruning and type validation, in short)."""
    if value is None:
        return None
    if schema.get("x-kubernetes-int-or-string"):
        if not isinstance(value, int | str) or isinstance(value, bool):
            raise Refused(f"{path}: {value!r} is neither an integer nor a string")
        return value
    expected = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}[schema["type"]]
    typed = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not typed:
        raise Refused(f"{path}: {value!r} is not of type {schema['type']}")
    if schema["type"] == "array":
        return [admit(schema["items"], item, f"{path}[{i}]") for i, item in enumerate(value)]
    if "additionalProperties" in schema:
        return {key: admit(schema["additionalProperties"], item, f"{path}.{key}") for key, item in value.items()}
    properties = schema.get("properties")
    if schema["type"] != "object" or properties is None:
        return value
    return {key: admit(properties[key], item, f"{path}.{key}") for key, item in value.items() if key in properties}


def version_schema(name: str, version: str) -> dict[str, Any]:
    return next(v["schema"]["openAPIV3Schema"] for v in crd(name)["spec"]["versions"] if v["name"] == version)


def test_a_poddefault_loses_unknown_and_newer_fields_and_a_wrong_type_is_refused() -> None:
    """crd.yaml (v1.10.0): env items have name/value/valueFrom only; sidecars are containers of the
    Kubernetes API upstream generated from (no restartPolicy, resizePolicy); emptyDir.sizeLimit a quantity."""
    schema = version_schema("poddefaults.yaml", "v1alpha1")
    stored = admit(schema, poddefault(env=[{"name": "A", "value": "1", "bogus": "x"}],
                                      sidecars=[{"name": "s", "image": "i", "restartPolicy": "Always"}],
                                      volumeMounts=[{**MOUNT, "recursiveReadOnly": "Disabled"}]))  # fmt: skip
    assert stored["spec"]["env"] == [{"name": "A", "value": "1"}]
    assert stored["spec"]["sidecars"] == [{"name": "s", "image": "i"}]
    assert stored["spec"]["volumeMounts"] == [MOUNT]
    with pytest.raises(Refused, match="sizeLimit"):
        admit(schema, poddefault(volumes=[{"name": "v", "emptyDir": {"sizeLimit": {"not": "a quantity"}}}]))
    with pytest.raises(Refused, match="readOnly"):
        admit(schema, poddefault(volumeMounts=[{**MOUNT, "readOnly": "yes"}]))
    assert set(schema["properties"]["spec"]["properties"]) == {
        "desc", "selector", "serviceAccountName", "automountServiceAccountToken", "env", "envFrom", "volumes",
        "volumeMounts", "annotations", "labels", "tolerations", "imagePullSecrets", "command", "args",
        "initContainers", "sidecars"}  # fmt: skip


def test_a_notebook_loses_the_pod_spec_fields_upstreams_crd_does_not_have() -> None:
    """kubeflow.org_notebooks.yaml (v1.10.0) is controller-gen output of k8s.io/api v0.23.0's PodSpec: no
    hostUsers, schedulingGates, resourceClaims, container restartPolicy, resizePolicy or resources.claims."""
    newer_pod = {"hostUsers": False, "schedulingGates": [{"name": "g"}], "resourceClaims": [{"name": "r"}]}
    newer_container = {"restartPolicy": "Always", "resizePolicy": [], "resources": {"claims": [{"name": "r"}]}}
    notebook = {"spec": {"template": {"spec": {"containers": [{"name": "n", "image": "i", **newer_container}],
                                               "serviceAccountName": "sa", **newer_pod}}}}  # fmt: skip
    for version in ("v1", "v1alpha1", "v1beta1"):
        stored = admit(version_schema("notebooks.yaml", version), notebook)
        assert stored["spec"]["template"]["spec"] == {
            "containers": [{"name": "n", "image": "i", "resources": {}}], "serviceAccountName": "sa"}  # fmt: skip
