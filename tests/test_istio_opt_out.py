"""Every pod the suite makes for its own checks opts out of an Istio sidecar (`sidecar.istio.io/inject:
"false"`): in a namespace with injection (a Kubeflow Profile's, shared mode) a sidecar would keep a pod that
should complete running for ever. A fixture that makes a pod without it, or of a kind this test does not
know, fails here. tests/cluster/test_istio_like_injection.py proves it on the cluster with an injector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kfcheck.core import manifests
from kfcheck.core.capabilities import Unavailable
from kfcheck.core.config import Settings
from kfcheck.core.manifests import all_fixtures
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import poddefault

OPT_OUT = "sidecar.istio.io/inject"
ALL_FIXTURES = sorted(all_fixtures())
MAKE_NO_POD = {
    "Namespace",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "PodDefault",
    "ServiceAccount",
    "RoleBinding",
}
# A Notebook server's pod is Kubeflow's own, not a check of the suite's: on a Kubeflow with Istio it carries
# the sidecar, as every notebook there does (it serves until stopped, so the sidecar never holds it up).
KUBEFLOW_SERVES = {"Notebook"}
TRAINER_JOB = "node"  # the replicated job of the torch runtimes' trainer (kfcheck/kubeflow/trainjob.py's runtime)


def rendered(fixture: str) -> list[dict[str, Any]]:
    values: dict[str, Any] = {}
    for name in manifests.placeholders(fixture):
        values[name] = {"app": "x"} if name in ("labels", "annotations") else ["x"] if name == "args" else "x"
    return manifests.render(fixture, **values)


def pod_holders(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, the Pod or pod template) for every pod spec (a mapping with containers) inside node."""
    if isinstance(node, dict):
        if isinstance(node.get("spec"), dict) and "containers" in node["spec"]:
            yield path or "(the object)", node
        for key, value in node.items():
            yield from pod_holders(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from pod_holders(item, f"{path}[{index}]")


def trainer_annotations(trainjob: dict[str, Any]) -> dict[str, str]:
    """The annotations the TrainJob's podTemplateOverrides give the pods of its trainer job."""
    annotations: dict[str, str] = {}
    for override in trainjob["spec"].get("podTemplateOverrides") or []:
        if TRAINER_JOB in [target.get("name") for target in override.get("targetJobs") or []]:
            annotations.update((override.get("metadata") or {}).get("annotations") or {})
    return annotations


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_every_pod_a_fixture_makes_opts_out_of_the_istio_sidecar(fixture: str) -> None:
    for obj in rendered(fixture):
        kind, holders = obj["kind"], list(pod_holders(obj))
        if kind in MAKE_NO_POD or kind in KUBEFLOW_SERVES:
            assert kind in KUBEFLOW_SERVES or not holders, f"{fixture}: a {kind} with a pod spec at {holders[0][0]}"
            continue
        if kind == "TrainJob":  # Trainer makes the pods from its runtime: the opt-out goes in an override
            assert trainer_annotations(obj).get(OPT_OUT) == "false", f"{fixture}: the TrainJob's {TRAINER_JOB} pods"
            continue
        assert holders, f"{fixture}: a {kind} makes pods, but this test finds no pod spec in it: teach it where"
        for where, holder in holders:
            annotations = (holder.get("metadata") or {}).get("annotations") or {}
            assert annotations.get(OPT_OUT) == "false", f"{fixture}: the pod at {where} lacks {OPT_OUT}: 'false'"


def test_the_test_sees_every_kind_of_pod_the_suite_makes() -> None:
    kinds = {obj["kind"] for fixture in ALL_FIXTURES for obj in rendered(fixture)}
    assert {"Pod", "PyTorchJob", "TFJob", "TrainJob"} <= kinds
    assert sum(1 for fixture in ALL_FIXTURES for obj in rendered(fixture) if obj["kind"] == "Pod") >= 5


def scenario(shared: bool, **settings: str) -> Scenario:
    made = Scenario(None, Settings.from_user_data({"kubeconfig": "/nonexistent", **settings}), "t", {})  # type: ignore[arg-type]
    made.namespace, made.shared_namespace, made.suffix = "team-a", shared, "abc123"
    return made


@pytest.mark.parametrize("excluded", [False, True])
def test_the_poddefault_pods_keep_the_opt_out_beside_what_they_test(excluded: bool) -> None:
    (pod,) = poddefault.labelled_pod(scenario(shared=True), "plain", selected=True, excluded=excluded)
    annotations = pod["metadata"]["annotations"]
    assert annotations[OPT_OUT] == "false"
    assert (poddefault.EXCLUDE_ANNOTATION in annotations) is excluded
    assert pod["metadata"]["labels"] == {"app": "plain", "add-poddefault-abc123": "true"}


def record_creates(made: Scenario) -> list[str]:
    fixtures: list[str] = []

    def create(fixture: str, **_values: Any) -> list[dict[str, Any]]:
        fixtures.append(fixture)
        return []

    made.create = create  # type: ignore[method-assign]
    return fixtures


def test_an_empty_selector_poddefault_is_skipped_in_a_shared_namespace_with_the_reason() -> None:
    shared = scenario(shared=True)
    fixtures = record_creates(shared)
    with pytest.raises(Unavailable, match=r"would inject into every pod of the user's namespace team-a .*"
                       r"-u allow_namespace_wide=true"):  # fmt: skip
        poddefault.create_for_every_pod(shared, "everyone")
    assert fixtures == [], "the PodDefault was created although the scenario is skipped"


@pytest.mark.parametrize(("shared", "allowed"), [(False, "false"), (True, "true")])
def test_an_empty_selector_poddefault_runs_in_its_own_namespace_or_when_allowed(shared: bool, allowed: str) -> None:
    made = scenario(shared=shared, allow_namespace_wide=allowed)
    fixtures = record_creates(made)
    assert poddefault.namespace_wide_refusal(made) is None
    poddefault.create_for_every_pod(made, "everyone")
    assert fixtures == ["poddefault-everyone"]
