"""What Kubeflow's PodDefault webhook does to one pod: which PodDefaults select it, whether they conflict with
it, the pod with them applied, and the JSONPatch the API server is answered with.

Upstream: kubeflow/kubeflow v1.10.0 components/admission-webhook/main.go (cited below as main.go:<line>);
behaviour re-implemented in our own words, no code copied. Items are compared as the Go values upstream
decodes them into (go_values.same: reflect.DeepEqual of k8s.io/api v0.28.1 structs).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from kubeflow_lite import go_values

ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org"
ISTIO_PROXY = "istio-proxy"


class InvalidSelector(ValueError):
    pass


# --- label selectors (metav1.LabelSelectorAsSelector, main.go:76-85) -----------------------------------

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


# --- merging (main.go:168-475) -----------------------------------------------------------------------


def show(value: Any) -> str:
    """How a refusal prints an object (upstream: Go's %#v; here JSON)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Conflict(str):
    """One merge error's message. Upstream prints the two objects with %#v, which shows a non-nil pointer as
    its address: two errors about such objects read the same only when they are about the same objects.
    `identity` tells them apart where that is so."""

    identity: tuple[int, ...]

    def __new__(cls, message: str, identity: tuple[int, ...] = ()) -> Conflict:
        conflict = super().__new__(cls, message)
        conflict.identity = identity
        return conflict


def _conflict(what: str, poddefault: str, on: str, injected: Any, existing: Any, shape: str) -> Conflict:
    shown = f"{show(go_values.typed(shape, injected))}\ndoes not match\n{show(go_values.typed(shape, existing))}"
    identity = tuple(id(item) if go_values.has_pointer(shape, item) else 0 for item in (injected, existing))
    return Conflict(f"merging {what} for {poddefault} has a conflict on {on}: \n{shown}\n in container", identity)


def aggregate(errors: list[str]) -> str:
    """One message for several, as apimachinery's error aggregate prints them (util/errors/errors.go:69-124
    at v0.28.1): nested aggregates flattened, a message already printed left out."""
    unique = {(str(error), getattr(error, "identity", None)): str(error) for error in errors}
    messages = list(unique.values())
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def _name(poddefault: dict[str, Any]) -> str:
    return str((poddefault.get("metadata") or {}).get("name", ""))


def _items(poddefault: dict[str, Any], field_name: str) -> list[Any]:
    return list((poddefault.get("spec") or {}).get(field_name) or [])


Merged = tuple[list[dict[str, Any]] | None, list[str]]

# Each merged field: the PodDefault field, the key items are matched by, the word of the refusal message,
# and the Go type the items are compared as.
VOLUMES = ("volumes", "name", "volumes", "Volume")  # mergeVolumes, main.go:321-360
TOLERATIONS = ("tolerations", "key", "tolerations", "Toleration")  # mergeTolerations, main.go:411-450
PULL_SECRETS = ("imagePullSecrets", "name", "imagePullSecret", "LocalObjectReference")  # main.go:170-213
ENV = ("env", "name", "env", "EnvVar")  # mergeEnv, main.go:217-252
INIT_CONTAINERS = ("initContainers", "name", "containers", "Container")  # mergeContainers, main.go:364-407
SIDECARS = ("sidecars", "name", "containers", "Container")


def merge_keyed(existing: list[dict[str, Any]], poddefaults: list[dict[str, Any]], kind: tuple[str, ...]) -> Merged:
    """The items, then each PodDefault item whose key is new; an item of a key already there must be the
    same Go value (reflect.DeepEqual) or it is a conflict. With a conflict the merged list is None, as
    upstream's merge functions return nil with their error."""
    field_name, key, what, shape = kind
    seen = {item.get(key) or "": item for item in existing}
    merged = list(existing)
    errors: list[str] = []
    for poddefault in poddefaults:
        for item in _items(poddefault, field_name):
            found = seen.get(item.get(key) or "")
            if found is None:
                seen[item.get(key) or ""] = item
                merged.append(item)
            elif not go_values.same(shape, found, item):
                errors.append(_conflict(what, _name(poddefault), str(item.get(key) or ""), item, found, shape))
    return (None if errors else merged), errors


def merge_volume_mounts(mounts: list[dict[str, Any]], poddefaults: list[dict[str, Any]]) -> Merged:
    """mergeVolumeMounts (main.go:266-317): checked twice, by name and by mountPath."""
    by_name = {mount.get("name") or "": mount for mount in mounts}
    by_path = {mount.get("mountPath") or "": mount for mount in mounts}
    merged = list(mounts)
    errors: list[str] = []
    for poddefault in poddefaults:
        for mount in _items(poddefault, "volumeMounts"):
            name, path = mount.get("name") or "", mount.get("mountPath") or ""
            found = by_name.get(name)
            if found is None:
                by_name[name] = mount
                merged.append(mount)
            elif not go_values.same("VolumeMount", found, mount):
                errors.append(_conflict("volume mounts", _name(poddefault), name, mount, found, "VolumeMount"))
            found = by_path.get(path)
            if found is None:
                by_path[path] = mount
            elif not go_values.same("VolumeMount", found, mount):
                on = f"mount path {path}"
                errors.append(_conflict("volume mounts", _name(poddefault), on, mount, found, "VolumeMount"))
    return (None if errors else merged), errors


def merge_map(existing: dict[str, str], poddefaults: list[dict[str, Any]], field_name: str) -> tuple[dict, list]:
    """mergeMap (main.go:454-475): keys added; a key already there with another value is a conflict (the
    pod's value is kept)."""
    merged = dict(existing)
    errors: list[str] = []
    for poddefault in poddefaults:
        for key, value in ((poddefault.get("spec") or {}).get(field_name) or {}).items():
            if key not in merged:
                merged[key] = value
            elif merged[key] != value:
                errors.append(
                    f"merging has conflict on {key}: \n{show(value)}\ndoes not match\n{show(merged[key])}\n in pod"
                )
    return merged, errors


def conflicts(pod: dict[str, Any], poddefaults: list[dict[str, Any]]) -> list[str]:
    """safeToApplyPodDefaultsOnPod (main.go:101-150, 154-166): every conflict, in upstream's order."""
    spec, metadata = pod.get("spec") or {}, pod.get("metadata") or {}
    errors: list[str] = []
    for kind in (VOLUMES, TOLERATIONS, PULL_SECRETS):
        errors += merge_keyed(spec.get(kind[0]) or [], poddefaults, kind)[1]
    for container in spec.get("containers") or []:
        errors += merge_keyed(container.get("env") or [], poddefaults, ENV)[1]
        errors += merge_volume_mounts(container.get("volumeMounts") or [], poddefaults)[1]
    errors += merge_map(metadata.get("annotations") or {}, poddefaults, "annotations")[1]
    errors += merge_map(metadata.get("labels") or {}, poddefaults, "labels")[1]
    errors += merge_keyed(spec.get("initContainers") or [], poddefaults, INIT_CONTAINERS)[1]
    errors += merge_keyed(spec.get("containers") or [], poddefaults, SIDECARS)[1]
    return errors


def _set(obj: dict[str, Any], key: str, value: Any) -> None:
    """A merge result replaces the field; nil or empty leaves it out (Go's omitempty)."""
    if value:
        obj[key] = value
    else:
        obj.pop(key, None)


def _apply_on_container(container: dict[str, Any], poddefaults: list[dict[str, Any]]) -> None:
    """applyPodDefaultsOnContainer (main.go:561-578) and setCommandAndArgs (582-597). env and volumeMounts
    become lists even when empty (mergeEnv and mergeVolumeMounts make a non-nil slice, 223-224, 275-276),
    which matters when a sidecar is compared with the container afterwards; envFrom is appended as is
    (mergeEnvFrom, 254-262), and a copy of one the container has is dropped later, by the patch
    (go_values.json_patch)."""
    container["env"] = merge_keyed(container.get("env") or [], poddefaults, ENV)[0]
    container["volumeMounts"] = merge_volume_mounts(container.get("volumeMounts") or [], poddefaults)[0]
    env_from = list(container.get("envFrom") or [])
    for poddefault in poddefaults:
        env_from += _items(poddefault, "envFrom")
    _set(container, "envFrom", env_from)
    if container.get("name") == ISTIO_PROXY:
        return
    for poddefault in poddefaults:
        pd_spec = poddefault.get("spec") or {}
        if container.get("command") is None and pd_spec.get("command") is not None:
            container["command"] = pd_spec["command"]
        if container.get("args") is None and pd_spec.get("args") is not None:
            container["args"] = pd_spec["args"]


def apply_poddefaults(pod: dict[str, Any], poddefaults: list[dict[str, Any]]) -> dict[str, Any]:
    """applyPodDefaultsOnPod (main.go:480-556): the pod with the PodDefaults applied, in their order; the
    input is untouched. Sidecars are merged into the containers after those got env, mounts and envFrom
    (546-550): a sidecar named like a container that was the same before is no longer, and the pod is left
    without containers (upstream's merge returns nil on that conflict)."""
    result = copy.deepcopy(pod)
    metadata, spec = result.setdefault("metadata", {}), result.setdefault("spec", {})
    if not poddefaults:
        return result
    for kind in (VOLUMES, TOLERATIONS, PULL_SECRETS):
        _set(spec, kind[0], merge_keyed(spec.get(kind[0]) or [], poddefaults, kind)[0])
    for poddefault in poddefaults:
        pd_spec = poddefault.get("spec") or {}
        if pd_spec.get("automountServiceAccountToken") is not None:
            spec["automountServiceAccountToken"] = pd_spec["automountServiceAccountToken"]
        if pd_spec.get("serviceAccountName"):
            spec["serviceAccountName"] = pd_spec["serviceAccountName"]
    _set(metadata, "annotations", merge_map(metadata.get("annotations") or {}, poddefaults, "annotations")[0])
    _set(metadata, "labels", merge_map(metadata.get("labels") or {}, poddefaults, "labels")[0])
    for container in spec.get("containers") or []:
        _apply_on_container(container, poddefaults)
    _set(spec, "initContainers", merge_keyed(spec.get("initContainers") or [], poddefaults, INIT_CONTAINERS)[0])
    _set(spec, "containers", merge_keyed(spec.get("containers") or [], poddefaults, SIDECARS)[0])
    annotations = metadata.setdefault("annotations", {})
    for poddefault in poddefaults:
        resource_version = (poddefault.get("metadata") or {}).get("resourceVersion", "")
        annotations[f"{ANNOTATION_PREFIX}/poddefault-{_name(poddefault)}"] = resource_version
    return result


def patch_between(original: dict[str, Any], mutated: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSONPatch upstream answers with (main.go:685-697): between the two pods as Go marshals them."""
    return go_values.json_patch(go_values.marshalled("Pod", original) or {}, go_values.marshalled("Pod", mutated) or {})
