"""Objects come from fixtures/*.yaml templates: `${name}` placeholders filled, then parsed and created."""

from __future__ import annotations

import json
from pathlib import Path
from string import Template
from typing import Any

import yaml

from kfcheck.kube import Kube

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class FixtureError(ValueError):
    pass


def render(fixture: str, **values: Any) -> list[dict[str, Any]]:
    """The objects of fixtures/<fixture>.yaml with its placeholders filled.

    Lists and dicts are filled in as JSON (valid YAML flow style); a missing value is an error.
    """
    path = FIXTURES / f"{fixture}.yaml"
    text = path.read_text()
    filled = {key: json.dumps(value) if isinstance(value, list | dict) else str(value) for key, value in values.items()}
    try:
        rendered = Template(text).substitute(filled)
    except KeyError as error:
        raise FixtureError(f"fixture {path.name} needs a value for ${{{error.args[0]}}}") from None
    return [document for document in yaml.safe_load_all(rendered) if document]


def create(kube: Kube, objects: list[dict[str, Any]], namespace: str | None) -> list[dict[str, Any]]:
    """Creates each object (in the namespace, for namespaced kinds) with the dynamic client."""
    created = []
    for obj in objects:
        resource = kube.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        result = resource.create(body=obj, namespace=namespace if resource.namespaced else None)
        created.append(result.to_dict())
    return created


def apply_fixture(kube: Kube, fixture: str, namespace: str | None, **values: Any) -> list[dict[str, Any]]:
    return create(kube, render(fixture, **values), namespace)
