"""Decoded API objects seen as Kubeflow's webhook sees them: as typed Go values, and as Go marshals them.

Kubeflow's admission webhook (kubeflow/kubeflow v1.10.0 components/admission-webhook) decodes the pod and the
PodDefaults into the Go structs of k8s.io/api v0.28.1 (go.mod:10) and

- compares them with reflect.DeepEqual (main.go:195, 239, 291, 303, 343, 390, 433): `typed()` gives the one
  value that every JSON spelling of the same Go value has;
- answers with the JSONPatch between the pod before and after, both marshalled by Go's encoding/json
  (main.go:685-697), made by github.com/mattbaird/jsonpatch at 81af80346b1a (go.mod:6): `json_patch()`
  follows that library's CreatePatch (jsonpatch.go:58-70, 151-257 at that commit), over `marshalled()`
  documents.

What a Go type does with a JSON value (the field shapes are in go_types.json, made by components/go_types.py):
a field the Go type does not have is dropped; absent and null are the zero value; a `string`, `bool` or
number field, and a struct value, cannot tell the zero value from absent; a pointer (`*bool`, `*int64`, a
pointer to a struct) keeps a zero or empty value apart from absent; so do a slice and a map for DeepEqual
(`[]` is not nil), while Go's marshalling leaves an empty slice or map out when the field is `omitempty`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

Mode = Literal["typed", "marshalled"]
ABSENT: Any = object()  # what a field holding its Go zero value is, where zero and absent are one
ZERO = {"string": "", "int": 0, "float": 0, "bool": False, "intorstring": 0}


@cache
def types() -> dict[str, dict[str, list[Any]]]:
    document = json.loads((Path(__file__).with_name("go_types.json")).read_text())
    return dict(document["types"])


def _is_zero(shape: str, value: Any) -> bool:
    if shape == "bool":
        return value is False
    if shape in ("int", "float", "intorstring"):
        return isinstance(value, int | float) and not isinstance(value, bool) and value == 0
    return shape == "string" and value == ""


def _element(shape: str, value: Any, mode: Mode) -> Any:
    """A slice item or map value: never absent, its zero value spelled out."""
    result = _value(shape, value, mode)
    if result is ABSENT:
        return {} if shape in types() else ZERO.get(shape)
    return result


def _value(shape: str, value: Any, mode: Mode) -> Any:
    if value is None:
        return ABSENT
    if shape.startswith("*"):
        return _element(shape[1:], value, mode)
    if shape.startswith("[]"):
        return [_element(shape[2:], item, mode) for item in value] if isinstance(value, list) else value
    if shape.startswith("{}"):
        if not isinstance(value, dict):
            return value
        return {key: _element(shape[2:], item, mode) for key, item in value.items()}
    if shape in types():
        return _struct(shape, value, mode) if isinstance(value, dict) else value
    if shape == "quantity" and isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)  # a Quantity parses a JSON number's text as it parses the string
    return ABSENT if _is_zero(shape, value) else value


def _struct(name: str, value: dict[str, Any], mode: Mode) -> Any:
    result = {}
    for key, (shape, omitempty) in types()[name].items():
        if key not in value:
            continue
        field = _value(shape, value[key], mode)
        if field is ABSENT or (mode == "marshalled" and omitempty and field in ([], {})):
            continue
        result[key] = field
    return result or ABSENT


def typed(shape: str, value: Any) -> Any:
    """The value as its Go type holds it: equal results are reflect.DeepEqual Go values."""
    result = _value(shape, value, "typed")
    return None if result is ABSENT else result


def marshalled(shape: str, value: Any) -> Any:
    """The value as Go's encoding/json writes it back, zero values left out (they are the same on both sides
    of a comparison, written or not)."""
    result = _value(shape, value, "marshalled")
    return None if result is ABSENT else result


def has_pointer(shape: str, value: Any) -> bool:
    """Whether the Go value holds a non-nil pointer (Go's %#v prints it as an address)."""
    if value is None:
        return False
    if shape.startswith("*"):
        return True
    if shape.startswith("[]") and isinstance(value, list):
        return any(has_pointer(shape[2:], item) for item in value)
    if shape.startswith("{}") and isinstance(value, dict):
        return any(has_pointer(shape[2:], item) for item in value.values())
    if shape in types() and isinstance(value, dict):
        return any(has_pointer(field[0], value.get(key)) for key, field in types()[shape].items())
    return False


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def same(shape: str, left: Any, right: Any) -> bool:
    """reflect.DeepEqual of the two values decoded into the Go type `shape`."""
    return canonical(typed(shape, left)) == canonical(typed(shape, right))


# --- the JSONPatch, as github.com/mattbaird/jsonpatch@81af80346b1a makes it -----------------------------


def _kind(value: Any) -> str:
    """The Go type encoding/json decodes a JSON value into (interface{}): numbers are all float64."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    return type(value).__name__


def _pointer(path: str, part: object) -> str:
    return path + "/" + str(part).replace("~", "~0").replace("/", "~1")


def json_patch(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """CreatePatch(before, after) (jsonpatch.go:58-70): a key of `after` missing from `before` is added, one
    whose JSON type changed is replaced, a key only `before` has is removed (diff, 151-182)."""
    return _diff(before, after, "")


def _diff(before: dict[str, Any], after: dict[str, Any], path: str) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for key, new in after.items():
        pointer = _pointer(path, key)
        if key not in before:
            operations.append({"op": "add", "path": pointer, "value": new})
        elif _kind(before[key]) != _kind(new):
            operations.append({"op": "replace", "path": pointer, "value": new})
        else:
            operations += _values(before[key], new, pointer)
    operations += [{"op": "remove", "path": _pointer(path, key)} for key in before if key not in after]
    return operations


def _values(old: Any, new: Any, pointer: str) -> list[dict[str, Any]]:
    """handleValues (jsonpatch.go:184-225): objects recurse; scalars are replaced when they differ; arrays of
    the same length are compared item by item, arrays of another length by compareArray."""
    if isinstance(old, dict) and isinstance(new, dict):
        return _diff(old, new, pointer)
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return _compare_array(old, new, pointer)
        operations: list[dict[str, Any]] = []
        for index, (old_item, new_item) in enumerate(zip(old, new, strict=True)):
            if old_item is None and new_item is not None:
                operations.append({"op": "add", "path": _pointer(pointer, index), "value": new_item})
            elif _kind(old_item) != _kind(new_item) or not isinstance(old_item, dict | list):
                if canonical(old_item) != canonical(new_item):
                    operations.append({"op": "replace", "path": _pointer(pointer, index), "value": new_item})
            else:
                operations += _values(old_item, new_item, _pointer(pointer, index))
        return operations
    if (old is None and new is None) or canonical(old) == canonical(new):
        return []
    return [{"op": "replace", "path": pointer, "value": new}]


def _compare_array(old: list[Any], new: list[Any], pointer: str) -> list[dict[str, Any]]:
    """compareArray (jsonpatch.go:227-257): every old item equal to no new item is removed, by its old index,
    in order; then every new item equal to no old item is added at its new index. So an item appended
    that equals one already there gets no operation: the admitted object does not have it twice. The
    indexes are not adjusted for the operations before them; the API server refuses a patch whose index
    falls outside the array (evanphx/json-patch)."""
    old_items, new_items = {canonical(item) for item in old}, {canonical(item) for item in new}
    operations = [{"op": "remove", "path": _pointer(pointer, index)}
                  for index, item in enumerate(old) if canonical(item) not in new_items]  # fmt: skip
    operations += [{"op": "add", "path": _pointer(pointer, index), "value": item}
                   for index, item in enumerate(new) if canonical(item) not in old_items]  # fmt: skip
    return operations
