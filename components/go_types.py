"""Writes components/kubeflow_lite/go_types.json: the Go types a Pod decodes into, as Kubeflow's webhook sees them.

Kubeflow's admission webhook (kubeflow/kubeflow v1.10.0 components/admission-webhook) decodes the pod and the
PodDefaults into typed Go structs of k8s.io/api v0.28.1 (its go.mod:10) and compares them with
reflect.DeepEqual (main.go:195, 239, 291, 303, 343, 390, 433); its JSONPatch is computed between the two
pods as Go marshals them (main.go:685-693). Which of a field's values count as "the same" depends on its Go
type: a `bool`/`string`/`int32` field holds no "absent", so absent, null and the zero value are one value; a
pointer (`*bool`, `*int64`, `*struct`), a slice or a map tells nil (absent, null) from a zero or empty value;
a field the Go type does not have is dropped when decoding. This table records, for every struct reachable
from core/v1 Pod, each JSON field's Go shape, read from the Go source of k8s.io/api and k8s.io/apimachinery
(no code is copied: only field names and shapes).

Shapes: `string`, `int`, `float`, `bool`, `bytes` (scalars), `quantity`, `intorstring`, `time`, `raw` (types
with their own JSON encoding, kept as they are), a struct's name, or one of those after `*` (pointer), `[]`
(slice) or `{}` (map with string keys). Each field is `[shape, omitempty]`.

    go mod download k8s.io/api@v0.28.1 k8s.io/apimachinery@v0.28.1
    python3 components/go_types.py [GOMODCACHE]     # default: $KFCHECK_CACHE/go/mod
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "components" / "kubeflow_lite" / "go_types.json"
K8S_API_VERSION = "v0.28.1"  # kubeflow/kubeflow v1.10.0 components/admission-webhook/go.mod:10
ROOT = "Pod"
SCALARS = {"string": "string", "bool": "bool", "byte": "int", "float32": "float", "float64": "float"}
SCALARS |= {f"{sign}int{bits}": "int" for sign in ("", "u") for bits in ("", "8", "16", "32", "64")}
OPAQUE = {
    "resource.Quantity": "quantity",
    "intstr.IntOrString": "intorstring",
    "meta.Time": "time",
    "meta.MicroTime": "time",
    "meta.FieldsV1": "raw",
    "types.UID": "string",
}
_STRUCT = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.M | re.S)
_NAMED = re.compile(r"^type (\w+) =? ?([^\s{]+)$", re.M)
_FIELD = re.compile(r'^\t(?:(\w+)\s+)?([\w.*\[\]]+)\s+`json:"([^"]*)"', re.M)
_TYPE = re.compile(r"^((?:\*|\[\]|map\[\w+\])*)([\w.]+)$")

Field = tuple[str, str, bool, bool]  # JSON name, qualified Go type, omitempty, inline


def qualify(go_type: str, package: str) -> str:
    """`*[]Foo` of package `core` is `*[]core.Foo`; `metav1.Bar` is `meta.Bar`; builtins stay."""
    match = _TYPE.match(go_type)
    if not match:
        raise ValueError(f"unexpected Go type {go_type!r}")
    prefix, name = match.groups()
    if name.startswith("metav1."):
        name = "meta." + name.removeprefix("metav1.")
    elif "." not in name and name not in SCALARS:
        name = f"{package}.{name}"
    return prefix + name


def read_go(source: str, package: str) -> tuple[dict[str, list[Field]], dict[str, str]]:
    """The structs of one Go file (their JSON fields in order) and its named non-struct types."""
    structs: dict[str, list[Field]] = {}
    for name, body in _STRUCT.findall(source):
        fields: list[Field] = []
        for field_name, go_type, tag in _FIELD.findall(body):
            json_name, *options = tag.split(",")
            if json_name != "-":
                inline = "inline" in options or not (field_name or json_name)
                fields.append((json_name, qualify(go_type, package), "omitempty" in options, inline))
        structs[f"{package}.{name}"] = fields
    named = {f"{package}.{name}": qualify(go_type, package) for name, go_type in _NAMED.findall(source)}
    return structs, named


class Table:
    """Shapes of the structs reachable from one, by their short names."""

    def __init__(self, structs: dict[str, list[Field]], named: dict[str, str]) -> None:
        self.structs, self.named = structs, named
        self.types: dict[str, dict[str, list[object]]] = {}

    def shape(self, go_type: str) -> str:
        if go_type == "[]byte":
            return "bytes"
        for prefix, marker in (("*", "*"), ("[]", "[]")):
            if go_type.startswith(prefix):
                return marker + self.shape(go_type[len(prefix) :])
        if go_type.startswith("map["):
            return "{}" + self.shape(go_type[go_type.index("]") + 1 :])
        if go_type in OPAQUE:
            return OPAQUE[go_type]
        if go_type in SCALARS:
            return SCALARS[go_type]
        if go_type in self.named:
            return self.shape(self.named[go_type])
        if go_type in self.structs:
            self.add(go_type)
            return short(go_type)
        raise ValueError(f"no definition for Go type {go_type}")

    def fields(self, go_type: str) -> dict[str, list[object]]:
        result: dict[str, list[object]] = {}
        for json_name, field_type, omitempty, inline in self.structs[go_type]:
            if inline:
                result |= self.fields(field_type)  # Go's encoding/json lifts an embedded struct's fields
            else:
                result[json_name] = [self.shape(field_type), omitempty]
        return result

    def add(self, go_type: str) -> None:
        if short(go_type) not in self.types:
            self.types[short(go_type)] = {}  # marks it, for recursive types
            self.types[short(go_type)] = self.fields(go_type)


def short(go_type: str) -> str:
    return go_type.split(".", 1)[1]


def table(module_cache: Path) -> dict[str, dict[str, list[object]]]:
    core = module_cache / "k8s.io" / f"api@{K8S_API_VERSION}" / "core" / "v1" / "types.go"
    meta_dir = module_cache / "k8s.io" / f"apimachinery@{K8S_API_VERSION}" / "pkg" / "apis" / "meta" / "v1"
    structs, named = read_go(core.read_text(), "core")
    for source in ("types.go", "time.go", "micro_time.go"):
        more_structs, more_named = read_go((meta_dir / source).read_text(), "meta")
        structs |= more_structs
        named |= more_named
    result = Table(structs, named)
    result.add(f"core.{ROOT}")
    names = [short(name) for name in structs]
    clashes = {name for name in result.types if names.count(name) > 1}
    if clashes:
        raise ValueError(f"struct names in both packages: {sorted(clashes)}")
    return dict(sorted(result.types.items()))


def main() -> None:
    default = Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck")) / "go" / "mod"
    module_cache = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    types = table(module_cache)
    source = f"k8s.io/api@{K8S_API_VERSION} core/v1, k8s.io/apimachinery@{K8S_API_VERSION} meta/v1"
    lines = [f"  {json.dumps(name)}: {json.dumps(fields, separators=(',', ':'))}" for name, fields in types.items()]
    head = f'{{"source": {json.dumps(source)}, "root": {json.dumps(ROOT)}, "types": {{\n'
    TARGET.write_text(head + ",\n".join(lines) + "\n}}\n")  # one type a line
    print(f"wrote {TARGET}: {len(types)} types ({TARGET.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
