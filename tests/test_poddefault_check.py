"""The check behind 'the pod "<pod>" carries what PodDefault "<name>" injects' (kfcheck.kubeflow.poddefault), on
object dicts as the API server gives them: a PodDefault and a pod. It passes on the pod upstream's webhook makes
(our stand-in, pinned to upstream by tests/test_kubeflow_lite.py) and fails naming each thing that is missing."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kfcheck.core import manifests
from kfcheck.core.config import Settings
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import poddefault as pd
from tests.test_kubeflow_lite import WEBHOOK_CASES, Case

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import poddefault_webhook as wh

LABEL = "add-poddefault"


def served(objects: list[dict[str, Any]], resource_version: str = "41") -> dict[str, Any]:
    """A rendered fixture's PodDefault as the cluster gives it back."""
    poddefault = copy.deepcopy(objects[0])
    poddefault["metadata"].update(namespace="team", resourceVersion=resource_version)
    return poddefault


ADD_SECRET = served(manifests.render(
    "poddefault", name="add-secret", description="add-secret for kfcheck", label=LABEL, env_name=pd.ENV_NAME,
    env_value=pd.ENV_VALUE, claim="workspace", secret=pd.SECRET, mount_path=pd.MOUNT_PATH,
))  # fmt: skip
TEAM_METADATA = served(manifests.render("poddefault-annotations", name="team-metadata", label=LABEL))
EVERYONE = served(manifests.render("poddefault-everyone", name="everyone", env_name="FOR_EVERY_POD", env_value="yes"))
SLEEPER = {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}


def poddefault_with(name: str, **spec: Any) -> dict[str, Any]:
    """A PodDefault selecting every pod, with this spec besides."""
    return served([{"apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault", "metadata": {"name": name},
                    "spec": {"selector": {}, **spec}}])  # fmt: skip


def labelled_pod(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "both", "namespace": "team", "labels": {"app": "both", LABEL: "true"},
                     "annotations": {"sidecar.istio.io/inject": "false"}},
        "spec": {"containers": list(containers) or [copy.deepcopy(SLEEPER)]},
    }  # fmt: skip


def admitted(pod: dict[str, Any], *poddefaults: dict[str, Any]) -> dict[str, Any]:
    """The pod as upstream's webhook (our stand-in) admits it with these PodDefaults."""
    decision = wh.review(pod, "team", lambda _namespace: [copy.deepcopy(p) for p in poddefaults])
    assert decision.allowed, decision.message
    applied = [copy.deepcopy(p) for p in poddefaults if pd.selects(p, pod["metadata"]["labels"])]
    return wh.apply_poddefaults(pod, applied)  # (its items are the PodDefaults' own: copies, changed by tests)


BOTH = admitted(labelled_pod(), ADD_SECRET, TEAM_METADATA)


@pytest.mark.parametrize("poddefault", [ADD_SECRET, TEAM_METADATA], ids=["add-secret", "team-metadata"])
def test_a_pod_the_webhook_gave_two_poddefaults_carries_each(poddefault: dict[str, Any]) -> None:
    assert pd.missing_from(BOTH, poddefault) == []


def test_a_pod_carries_what_an_empty_selector_injects() -> None:
    anyone = admitted(labelled_pod(), EVERYONE)
    assert pd.missing_from(anyone, EVERYONE) == []
    assert pd.missing_from(labelled_pod(), EVERYONE) == [
        "the annotation poddefault.admission.kubeflow.org/poddefault-everyone: the pod has nothing",
        'env of container main: {"name":"FOR_EVERY_POD","value":"yes"}: the pod has nothing',
    ]


def without(pod: dict[str, Any], *path: str | int) -> dict[str, Any]:
    changed = copy.deepcopy(pod)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return changed


def env_index(pod: dict[str, Any], name: str) -> int:
    return next(i for i, env in enumerate(pod["spec"]["containers"][0]["env"]) if env["name"] == name)


MAIN = ("spec", "containers", 0)


@pytest.mark.parametrize(("path", "poddefault", "named"), [
    ((*MAIN, "env", env_index(BOTH, "POD_DEFAULT")), ADD_SECRET, 'env of container main: {"name":"POD_DEFAULT"'),
    ((*MAIN, "env", env_index(BOTH, "POD_DEFAULT_SECRET")), ADD_SECRET, '"name":"POD_DEFAULT_SECRET"'),
    (("spec", "volumes", 0), ADD_SECRET, 'volumes of the pod: {"name":"workspace"'),
    ((*MAIN, "volumeMounts", 0), ADD_SECRET, 'volumeMounts of container main: {"mountPath":"/shared"'),
    (("metadata", "annotations", "poddefault.admission.kubeflow.org/poddefault-add-secret"), ADD_SECRET,
     "the annotation poddefault.admission.kubeflow.org/poddefault-add-secret"),
    ((*MAIN, "env", env_index(BOTH, "TEAM")), TEAM_METADATA, '{"name":"TEAM","value":"qa"}'),
    (("metadata", "labels", "team"), TEAM_METADATA, "label team=qa: the pod has nothing"),
    (("metadata", "annotations", "kfcheck/injected-by"), TEAM_METADATA, "annotation kfcheck/injected-by=team-metadata"),
])  # fmt: skip
def test_it_fails_naming_what_the_poddefault_injects_and_the_pod_lacks(
    path: tuple[str | int, ...], poddefault: dict[str, Any], named: str
) -> None:
    missing = pd.missing_from(without(BOTH, *path), poddefault)
    assert len(missing) == 1 and named in missing[0], missing


def test_a_value_other_than_the_injected_one_is_missing_and_shown() -> None:
    changed = copy.deepcopy(BOTH)
    changed["spec"]["containers"][0]["env"][env_index(BOTH, "POD_DEFAULT_SECRET")]["valueFrom"]["secretKeyRef"][
        "name"] = "another-secret"  # fmt: skip
    [missing] = pd.missing_from(changed, ADD_SECRET)
    assert '"name":"test-secret"' in missing and "the pod has" in missing and '"name":"another-secret"' in missing


def test_what_the_api_server_adds_and_zero_values_are_no_difference() -> None:
    poddefault = poddefault_with(
        "x", volumes=[{"name": "s", "secret": {"secretName": "s"}}],
        volumeMounts=[{"name": "s", "mountPath": "/s", "readOnly": False}],
        env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        sidecars=[{"name": "side", "image": "i", "resources": {"limits": {"cpu": "0.5"}}}],
    )  # fmt: skip
    pod = admitted(labelled_pod(), poddefault)
    pod["spec"]["volumes"][0]["secret"]["defaultMode"] = 420
    del pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"]
    pod["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] = "v1"
    side = pod["spec"]["containers"][1]
    side.update(terminationMessagePath="/dev/termination-log", imagePullPolicy="Always",
                resources={"limits": {"cpu": "500m"}})  # fmt: skip
    assert pd.missing_from(pod, poddefault) == []
    side["resources"]["limits"]["cpu"] = "1"
    assert [m for m in pd.missing_from(pod, poddefault) if "sidecars" in m]


def test_every_field_the_webhook_injects_is_checked() -> None:
    poddefault = poddefault_with(
        "all", envFrom=[{"configMapRef": {"name": "cm"}}], tolerations=[{"key": "k", "operator": "Exists"}],
        imagePullSecrets=[{"name": "pull"}], initContainers=[{"name": "i", "image": "i"}],
        sidecars=[{"name": "s", "image": "s"}], serviceAccountName="sa", automountServiceAccountToken=False,
        command=["run"], args=["--x"],
    )  # fmt: skip
    bare = labelled_pod({"name": "main", "image": "busybox"})
    pod = admitted(bare, poddefault)
    assert pd.missing_from(pod, poddefault) == []
    lacking = pd.missing_from({**bare, "metadata": pod["metadata"]}, poddefault)
    for what in ("envFrom", "tolerations", "imagePullSecrets", "initContainers", "sidecars", "serviceAccountName",
                 "automountServiceAccountToken", "command", "args"):  # fmt: skip
        assert any(what in missing for missing in lacking), (what, lacking)


def test_istio_proxy_and_the_poddefaults_own_sidecars_need_no_env() -> None:
    pod = copy.deepcopy(BOTH)
    pod["spec"]["containers"].append({"name": "istio-proxy", "image": "proxy"})  # added by Istio, after the webhook
    assert pd.missing_from(pod, ADD_SECRET) == []


def test_an_untouched_pod_carries_nothing_and_a_selected_one_does() -> None:
    assert pd.carried_from(labelled_pod(), ADD_SECRET) == []
    assert pd.carried_from(labelled_pod(), TEAM_METADATA) == []
    assert len(pd.carried_from(BOTH, ADD_SECRET)) == 5  # the mark, two env vars, the volume and its mount


def test_own_command_and_service_account_do_not_count_as_carried() -> None:
    poddefault = poddefault_with("c", command=["sleep", "3600"], serviceAccountName="default")
    pod = labelled_pod()
    pod["spec"]["serviceAccountName"] = "default"
    assert pd.carried_from(pod, poddefault) == []


@pytest.mark.parametrize(("selector", "selected"), [
    ({}, True), ({"matchLabels": {LABEL: "true"}}, True), ({"matchLabels": {LABEL: "false"}}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["both", "x"]}]}, True),
    ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["both"]}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
])  # fmt: skip
def test_selects_as_a_label_selector(selector: dict[str, Any], selected: bool) -> None:
    poddefault = {"metadata": {"name": "s"}, "spec": {"selector": selector}}
    assert pd.selects(poddefault, labelled_pod()["metadata"]["labels"]) is selected
    assert wh.selector_matches(selector, labelled_pod()["metadata"]["labels"]) is selected


ADMITTED = [case for case in WEBHOOK_CASES if case.expected is not None]


@pytest.mark.parametrize("case", ADMITTED, ids=lambda case: case.name)
def test_upstreams_cases_each_applied_poddefault_is_carried_and_no_other(case: Case) -> None:
    """Every admitted case of the webhook's conformance table: the pod after admission carries what each
    PodDefault applied to it injects, and nothing of the others."""
    assert case.expected is not None
    marks = case.expected["metadata"].get("annotations") or {}
    for poddefault in case.poddefaults:
        name = poddefault["metadata"]["name"]
        if pd.ANNOTATION_PREFIX + name not in marks:
            assert pd.carried_from(case.expected, poddefault) == [], name
        elif name == "a" and "serviceAccountName" in poddefault["spec"] and "last serviceAccountName" in case.name:
            # two set it, the last one's wins: the pod does not carry the first one's
            assert pd.missing_from(case.expected, poddefault) == ['serviceAccountName sa-a: the pod has "sa-b"']
        else:
            assert pd.missing_from(case.expected, poddefault) == [], name


# --- the steps' functions, on a scenario whose cluster is a dict of PodDefaults --------------------------------


class PodDefaults:
    """The custom objects API of a cluster holding these PodDefaults."""

    def __init__(self, *poddefaults: dict[str, Any]) -> None:
        self.by_name = {poddefault["metadata"]["name"]: poddefault for poddefault in poddefaults}

    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str) -> Any:
        assert (group, version, plural) == ("kubeflow.org", "v1alpha1", "poddefaults")
        if name not in self.by_name:
            raise ApiException(status=404, reason="Not Found")
        return copy.deepcopy(self.by_name[name])

    def list_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str) -> Any:
        return {"items": copy.deepcopy(list(self.by_name.values()))}


def scenario_with(*poddefaults: dict[str, Any], shared: bool = True) -> Scenario:
    settings = Settings.from_user_data({"kubeconfig": "/nonexistent"})
    made = Scenario(SimpleNamespace(custom=PodDefaults(*poddefaults)), settings, "t", {})  # type: ignore[arg-type]
    made.namespace, made.shared_namespace, made.suffix = "team", shared, "abc123"
    return made


def renamed(poddefault: dict[str, Any], name: str) -> dict[str, Any]:
    changed = copy.deepcopy(poddefault)
    changed["metadata"]["name"] = name
    return changed


def test_the_step_reads_the_poddefault_by_the_scenarios_name_for_it() -> None:
    own = renamed(ADD_SECRET, "add-secret-abc123")  # a shared namespace: the scenario's unique name
    made = scenario_with(own, renamed(ADD_SECRET, "add-secret"))
    pod = admitted(labelled_pod(), own)
    pd.check_carries(made, pod, "add-secret")
    with pytest.raises(AssertionError, match="lacks what PodDefault add-secret-abc123 injects"):
        pd.check_carries(made, admitted(labelled_pod(), renamed(ADD_SECRET, "add-secret")), "add-secret")


def test_a_poddefault_the_cluster_does_not_hold_fails_the_step_naming_it() -> None:
    with pytest.raises(AssertionError, match="there is no PodDefault team-metadata-abc123 in namespace team"):
        pd.check_carries(scenario_with(ADD_SECRET), BOTH, "team-metadata")


REFUSAL = ("conflict occurred while applying poddefaults: add-secret on pod: conflicting err: merging env for "
           "add-secret has a conflict on POD_DEFAULT: ...")  # fmt: skip


@pytest.mark.parametrize(("message", "poddefaults", "fails"), [
    (REFUSAL, [ADD_SECRET, TEAM_METADATA], None),
    (REFUSAL.replace("add-secret", "another"), [ADD_SECRET], r"does not name \['add-secret'\]"),
    (REFUSAL, [TEAM_METADATA], "no PodDefault of namespace team selects the pod and injects POD_DEFAULT"),
])  # fmt: skip
def test_a_refusal_names_the_env_var_and_each_poddefault_that_injects_it(
    message: str, poddefaults: list[dict[str, Any]], fails: str | None
) -> None:
    made = scenario_with(*poddefaults, shared=False)
    labels = {"app": "conflicting", LABEL: "true"}
    made.outcomes["refusal"] = {"status": 400, "message": message, "env_name": "POD_DEFAULT", "labels": labels}
    if fails is None:
        pd.check_refused(made)
    else:
        with pytest.raises(AssertionError, match=fails):
            pd.check_refused(made)
