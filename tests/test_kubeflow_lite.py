"""Logic of kfcheck's own PodDefault webhook and notebook controller (components/kubeflow_lite)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite.notebook_controller import service, stateful_set
from kubeflow_lite.poddefault_webhook import Conflict, apply_poddefaults, patch_between, selector_matches

POD: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"add": "true"}},
    "spec": {"containers": [{"name": "c", "image": "i"}]},
}


def poddefault(name: str, **spec: object) -> dict:
    return {
        "metadata": {"name": name, "resourceVersion": "7"},
        "spec": {"selector": {"matchLabels": {"add": "true"}}, **spec},
    }


def test_selectors() -> None:
    assert selector_matches({"matchLabels": {"add": "true"}}, {"add": "true", "x": "y"})
    assert not selector_matches({"matchLabels": {"add": "true"}}, {"add": "false"})
    assert not selector_matches({}, {"add": "true"})  # an empty selector selects nothing
    expression = {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}
    assert selector_matches(expression, {"tier": "b"})
    assert not selector_matches(expression, {"tier": "c"})


def test_matching_poddefault_is_merged_and_annotated() -> None:
    default = poddefault(
        "pd",
        env=[{"name": "A", "value": "1"}],
        volumes=[{"name": "v", "emptyDir": {}}],
        volumeMounts=[{"name": "v", "mountPath": "/v"}],
        labels={"team": "qa"},
    )
    mutated = apply_poddefaults(POD, [default])
    container = mutated["spec"]["containers"][0]
    assert container["env"] == [{"name": "A", "value": "1"}]
    assert container["volumeMounts"] == [{"name": "v", "mountPath": "/v"}]
    assert mutated["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert mutated["metadata"]["labels"]["team"] == "qa"
    assert mutated["metadata"]["annotations"]["poddefault.admission.kubeflow.org/poddefault-pd"] == "7"
    assert POD["spec"]["containers"][0] == {"name": "c", "image": "i"}  # input untouched
    paths = {operation["path"] for operation in patch_between(POD, mutated)}
    assert paths == {"/metadata/labels", "/metadata/annotations", "/spec/containers", "/spec/volumes"}


def test_unselected_pod_gets_no_patch() -> None:
    other = {**POD, "metadata": {"name": "p", "labels": {"add": "no"}}}
    assert patch_between(other, apply_poddefaults(other, [poddefault("pd", env=[{"name": "A", "value": "1"}])])) == []


def test_conflicting_env_is_refused() -> None:
    pod = {"metadata": POD["metadata"], "spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "0"}]}]}}
    with pytest.raises(Conflict, match="env var 'A' from PodDefault pd conflicts"):
        apply_poddefaults(pod, [poddefault("pd", env=[{"name": "A", "value": "1"}])])


def test_notebook_objects() -> None:
    notebook = {
        "metadata": {"name": "nb", "namespace": "ns", "uid": "u1"},
        "spec": {"template": {"metadata": {"labels": {"add": "true"}}, "spec": {"containers": [{"name": "nb"}]}}},
    }
    sts = stateful_set(notebook)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["env"][0] == {"name": "NB_PREFIX", "value": "/notebook/ns/nb"}
    assert container["ports"][0]["containerPort"] == 8888
    assert sts["spec"]["template"]["metadata"]["labels"] == {"add": "true", "statefulset": "nb", "notebook-name": "nb"}
    assert sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 100
    assert sts["metadata"]["ownerReferences"][0]["uid"] == "u1"
    svc = service(notebook)
    assert svc["spec"]["ports"][0] == {"name": "http-nb", "port": 80, "targetPort": 8888, "protocol": "TCP"}
