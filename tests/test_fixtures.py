"""Filling a fixture never changes a value's type or the document's structure (issue: one run in 43 had
an all-digit run id, which YAML read as an integer label, and every namespace of that run was refused)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from kfcheck.core import manifests, namespaces
from kfcheck.core.config import ConfigError
from kfcheck.core.manifests import FixtureError, all_fixtures

HOSTILE = [
    "12345678", "00000000", "0x1F", "0o17", "017", "1e3", "1_000", ".inf", "-.Inf", ".nan", "12:30:00", "2026-11-25",
    "on", "off", "no", "yes", "y", "n", "True", "false", "null", "Null", "~", "",
    "a: b", "PyTorchJob: 2 workers", "x #y", " #c", "# hash", "'single'", '"double"', "it's", "multi\nline",
    "trailing\n", "*alias", "&anchor", "!tag", "!!str", "%directive", "@at", "`back", "ünïcødé ✓ 日本",
    "{flow: map}", "[1, 2]", "- dash", "? q", "|", ">", "---", "...", "$dollar", "${name}", "$$", " leading space",
    "tab\tchar", "\\backslash",
]  # fmt: skip
STRUCTURED = {
    "args": list,
    "labels": dict,
    "annotations": dict,
}  # placeholders whose value is structure; every other one is text
ALL_FIXTURES = sorted(all_fixtures())


def marker(name: str) -> str:
    return f"MARKER{name}MARKER"


def value_for(name: str, text: str) -> Any:
    kind = STRUCTURED.get(name)
    if kind is list:
        return [text, "--flag"]
    if kind is dict:
        return {text: text, "app": "x"}
    return text


def replaced(node: Any, old: str, new: str) -> Any:
    """node with every string equal to or containing `old` rewritten (what a correct fill must give)."""
    if isinstance(node, dict):
        return {replaced(key, old, new): replaced(item, old, new) for key, item in node.items()}
    if isinstance(node, list):
        return [replaced(item, old, new) for item in node]
    if isinstance(node, str):
        return new if node == old else node.replace(old, new)
    return node


def test_every_fixture_has_placeholders_the_tests_know() -> None:
    assert ALL_FIXTURES, "no fixtures found"
    for fixture in ALL_FIXTURES:
        assert manifests.placeholders(fixture), f"{fixture} has no placeholders"


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_hostile_values_are_read_back_equal_and_as_strings(fixture: str) -> None:
    names = sorted(manifests.placeholders(fixture))
    markers = {name: value_for(name, marker(name)) for name in names}
    reference = manifests.render(fixture, **markers)
    for name in names:
        for hostile in HOSTILE:
            rendered = manifests.render(fixture, **{**markers, name: value_for(name, hostile)})
            expected = replaced(reference, marker(name), hostile)
            assert rendered == expected, f"{fixture}: ${{{name}}} = {hostile!r} changed the document"
            assert json.loads(json.dumps(rendered)) == expected  # what the client sends is what we meant


def test_a_whole_value_placeholder_keeps_the_type_it_is_given() -> None:
    (job,) = manifests.render("tfjob-wiring", name="wiring", image="busybox", workers=2, deadline=60)
    assert job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 2
    (job,) = manifests.render("tfjob-wiring", name="wiring", image="busybox", workers="2", deadline=60)
    assert job["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == "2"


def test_random_run_ids_always_give_a_string_label() -> None:
    generator = random.Random(20261125)  # noqa: S311 - reproducible test data, not secrets
    run_ids = [f"{generator.getrandbits(32):08x}" for _ in range(1000)]
    run_ids += [f"{generator.randrange(10**8):08d}" for _ in range(1000)]  # the 2.3% case, every time
    run_ids += ["1e345678", "0e000000", "00000000", "12345678"]
    for run_id in run_ids:
        namespace = namespaces.namespace_object("kfcheck", "Scenario: 2 workers # not a comment", run=run_id)
        assert namespace["metadata"]["labels"]["kfcheck/run-id"] == run_id
        assert namespace["metadata"]["annotations"]["kfcheck/scenario"] == "Scenario: 2 workers # not a comment"


def test_a_placeholder_left_unfilled_is_named() -> None:
    with pytest.raises(FixtureError, match=r"fixture run-image.yaml needs a value for \$\{image\}"):
        manifests.render("run-image", name="x")


def test_a_value_the_fixture_does_not_use_is_refused() -> None:
    with pytest.raises(FixtureError, match=r"run-image\.yaml has no placeholder for imag"):
        manifests.render("run-image", name="x", image="i", imag="typo")


def test_structure_inside_text_is_refused() -> None:
    with pytest.raises(FixtureError, match="stands inside the text"):
        manifests.render("build-context", claim=["a"], base_image="b", image="i", greeting="g")


def test_a_bad_run_id_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    namespaces.run_id.cache_clear()
    monkeypatch.setenv("KFCHECK_RUN_ID", "not a label!")
    try:
        with pytest.raises(ConfigError, match="KFCHECK_RUN_ID='not a label!' is not a Kubernetes label"):
            namespaces.run_id()
        monkeypatch.setenv("KFCHECK_RUN_ID", "12345678")
        namespaces.run_id.cache_clear()
        assert namespaces.run_id() == "12345678"
    finally:
        namespaces.run_id.cache_clear()


@pytest.mark.parametrize("fixture", ["pytorchjob", "pytorchjob-wiring", "tfjob", "tfjob-wiring"])
def test_training_pods_opt_out_of_the_istio_sidecar(fixture: str) -> None:
    values = {name: value_for(name, "x") for name in manifests.placeholders(fixture)}
    (job,) = manifests.render(fixture, **values)
    specs = job["spec"].get("pytorchReplicaSpecs") or job["spec"]["tfReplicaSpecs"]
    for replica, spec in specs.items():
        assert spec["template"]["metadata"]["annotations"]["sidecar.istio.io/inject"] == "false", replica
