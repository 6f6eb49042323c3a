"""Objects come from kfcheck/kubeflow/fixtures/*.yaml templates (package data, installed with kfcheck): parsed first,
then their `${name}` placeholders filled.

The template is parsed as YAML before any value goes in, so a value can never change the document's
structure or another value's type:
- a scalar (or mapping key) that is exactly `${name}` becomes the value as given: a str stays a str
  whatever it looks like ("12345678", "on", "null", "a: b # c"), a list or dict becomes structure;
- `${name}` inside a longer string is text interpolation (`$$` is a literal `$`);
- every placeholder must be filled, and every value given must be used by the fixture.
Placeholders inside a YAML flow collection (`{...}`, `[...]`) must be quoted (`"${name}"`), as YAML reads
`{` there as syntax; quoting does not change the value's type.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from string import Template
from typing import Any

import yaml

from kfcheck.core import wait
from kfcheck.core.kube import Kube

# Where fixtures are found by name: the core's own (the namespace of a scenario), then the Kubeflow modules'.
FIXTURE_DIRS = (
    Path(__file__).resolve().parent / "fixtures",
    Path(__file__).resolve().parents[1] / "kubeflow" / "fixtures",
)


def all_fixtures() -> dict[str, Path]:
    """Every fixture by name."""
    return {path.stem: path for directory in FIXTURE_DIRS for path in sorted(directory.glob("*.yaml"))}


_WHOLE = re.compile(r"\$\{(?P<name>[_a-zA-Z][_a-zA-Z0-9]*)\}")


class FixtureError(ValueError):
    pass


class _Filler:
    def __init__(self, fixture: str, values: dict[str, Any]) -> None:
        self.fixture, self.values, self.used = fixture, values, set[str]()

    def value(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {self.key(key): self.value(item) for key, item in node.items()}
        if isinstance(node, list):
            return [self.value(item) for item in node]
        if isinstance(node, str):
            return self.text(node)
        return node

    def key(self, key: Any) -> Any:
        filled = self.value(key)
        if not isinstance(filled, str | int | float | bool) and filled is not None:
            raise FixtureError(f"fixture {self.fixture}: mapping key {key!r} must be filled with a plain value")
        return filled

    def text(self, text: str) -> Any:
        whole = _WHOLE.fullmatch(text)
        if whole:
            return copy.deepcopy(self.lookup(whole["name"]))
        template = Template(text)
        names = template.get_identifiers()
        for name in names:
            if isinstance(self.lookup(name), list | dict):
                raise FixtureError(
                    f"fixture {self.fixture}: ${{{name}}} is a list or mapping but stands inside the text {text!r}; "
                    "make it the whole value"
                )
        try:
            return template.substitute({name: str(self.lookup(name)) for name in names})
        except ValueError as error:  # a lone `$` not followed by a name
            raise FixtureError(f"fixture {self.fixture}: {error} in {text!r} (write $$ for a literal $)") from None

    def lookup(self, name: str) -> Any:
        if name not in self.values:
            raise FixtureError(f"fixture {self.fixture} needs a value for ${{{name}}}")
        self.used.add(name)
        return self.values[name]


def placeholders(fixture: str) -> set[str]:
    """The names of the placeholders a fixture has (for tests and error messages)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                walk(key)
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            found.update(Template(node).get_identifiers())

    for document in _parse(fixture):
        walk(document)
    return found


@functools.lru_cache(maxsize=64)
def _parse(fixture: str) -> list[Any]:
    """The fixture's documents as parsed (cached; never mutated: filling builds new containers)."""
    path = all_fixtures().get(fixture)
    if path is None:
        raise FixtureError(f"no fixture {fixture}.yaml in {' or '.join(str(d) for d in FIXTURE_DIRS)}")
    text = path.read_text()
    try:
        return [document for document in yaml.safe_load_all(text) if document]
    except yaml.YAMLError as error:
        raise FixtureError(f"fixture {path.name} is not valid YAML (quote placeholders in {{...}}): {error}") from None


def render(fixture: str, **values: Any) -> list[dict[str, Any]]:
    """The objects of kfcheck/kubeflow/fixtures/<fixture>.yaml with its placeholders filled (see the module's rules)."""
    filler = _Filler(f"{fixture}.yaml", values)
    objects = [filler.value(document) for document in _parse(fixture)]
    unused = sorted(set(values) - filler.used)
    if unused:
        raise FixtureError(f"fixture {fixture}.yaml has no placeholder for {', '.join(unused)}")
    return objects


def create(kube: Kube, objects: list[dict[str, Any]], namespace: str | None) -> list[dict[str, Any]]:
    """Creates each object (in the namespace, for namespaced kinds) with the dynamic client; a create that an
    admission webhook left without answer is tried again (wait.admitted)."""
    created = []
    for obj in objects:
        resource = kube.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        target = namespace if resource.namespaced else None
        what = f"creating {obj['kind']} {obj.get('metadata', {}).get('name', '')}"
        result = wait.admitted(what, lambda: resource.create(body=obj, namespace=target))  # noqa: B023 - called at once
        created.append(result.to_dict())
    return created


def apply_fixture(kube: Kube, fixture: str, namespace: str | None, **values: Any) -> list[dict[str, Any]]:
    return create(kube, render(fixture, **values), namespace)
