"""Conformance of kfcheck's PodDefault webhook and notebook controller (components/kubeflow_lite) with
upstream Kubeflow (kubeflow/kubeflow components/admission-webhook and components/notebook-controller).

Every case names the upstream behaviour it pins (file:line at kubeflow/kubeflow v1.10.0, as listed in
components/README.md; "main_test" cases are upstream's own test cases of admission-webhook/main_test.go).
The webhook table runs twice: against the decision function, and as a real AdmissionReview round trip over
HTTPS (a throwaway certificate, the PodDefaults from a fake lister) whose JSONPatch is applied to the pod.
"""

from __future__ import annotations

import base64
import copy
import json
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

import notebook_crd as nc_crd
from kubeflow_lite import notebook_controller as nc
from kubeflow_lite import poddefault_webhook as wh

NAMESPACE = "team"


def pod(labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None, **spec: Any) -> dict:
    metadata: dict[str, Any] = {"name": "p", "namespace": NAMESPACE, "labels": labels or {"add": "true"}}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "c", "image": "i"}], **spec}}  # fmt: skip


def poddefault(name: str = "pd", selector: dict | None = None, namespace: str = NAMESPACE, **spec: Any) -> dict:
    return {
        "apiVersion": "kubeflow.org/v1alpha1",
        "kind": "PodDefault",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "7"},
        "spec": {"selector": {"matchLabels": {"add": "true"}} if selector is None else selector, **spec},
    }


def marker(*names: str) -> dict[str, str]:
    return {f"poddefault.admission.kubeflow.org/poddefault-{name}": "7" for name in names}


@dataclass
class Case:
    name: str
    upstream: str  # the upstream behaviour this case pins
    pod: dict
    poddefaults: list[dict]
    expected: dict | None = None  # the pod after admission; None: refused
    refusal: list[str] = field(default_factory=list)  # fragments the refusal message must contain
    request_namespace: str = NAMESPACE


def with_changes(base: dict, labels: dict | None = None, annotations: dict | None = None, **spec: Any) -> dict:
    result = copy.deepcopy(base)
    if labels is not None:
        result["metadata"]["labels"] = labels
    if annotations is not None:
        result["metadata"]["annotations"] = annotations
    result["spec"].update(spec)
    return result


def container(**fields: Any) -> dict:
    return {"name": "c", "image": "i", **fields}


ENV_A = {"name": "A", "value": "1"}
SECRET_ENV = {"name": "S", "valueFrom": {"secretKeyRef": {"name": "test-secret", "key": "k"}}}
VOLUME = {"name": "v", "persistentVolumeClaim": {"claimName": "workspace"}}
MOUNT = {"name": "v", "mountPath": "/shared"}
OLD_TOLERATION = {"key": "oldToleration", "operator": "Exists", "effect": "NoSchedule"}
NEW_TOLERATION = {"key": "newToleration", "operator": "Equal", "value": "foo", "effect": "NoSchedule"}
SIDECAR = {"name": "kubectl", "image": "kubectl", "command": ["sleep", "1"]}
INIT = {"name": "init-kubectl", "image": "kubectl", "command": ["echo", "pulled"]}
CONFIG_MAP_SOURCE = {"configMapRef": {"name": "cm"}}

WEBHOOK_CASES = [
    Case("main_test: Add Annotations (and service account settings)",
         "main_test.go:80,88 ('Add Annotations'); main.go:509-523,552-555",
         pod(annotations={"foo": "bar"}),
         [poddefault(annotations={"baz": "bux"}, serviceAccountName="some-service-account",
                     automountServiceAccountToken=True)],
         with_changes(pod(), annotations={"foo": "bar", "baz": "bux", **marker("pd")},
                      serviceAccountName="some-service-account", automountServiceAccountToken=True)),
    Case("main_test: Same k/v annotation is no conflict",
         "main_test.go:118 ('Same k/v'), 30 (TestMergeMapGood); main.go:454-475",
         pod(annotations={"foo": "bar"}), [poddefault(annotations={"foo": "bar"})],
         with_changes(pod(), annotations={"foo": "bar", **marker("pd")})),
    Case("main_test: Add tolerations (appended after the pod's)",
         "main_test.go:141 ('Add tolerations'); main.go:411-450,493-497",
         pod(tolerations=[OLD_TOLERATION]), [poddefault(tolerations=[NEW_TOLERATION])],
         with_changes(pod(), annotations=marker("pd"), tolerations=[OLD_TOLERATION, NEW_TOLERATION])),
    Case("main_test: Conflicting annotation refuses the pod",
         "main_test.go:12 (TestMergeMapBad); main.go:134-136,454-475,670-679",
         pod(annotations={"foo": "bar"}), [poddefault(annotations={"foo": "buz"})],
         refusal=["conflict occurred while applying poddefaults: pd on pod: p err: merging has conflict on foo"]),
    Case("a label the pod has with another value refuses the pod",
         "main.go:137-139 (labels through mergeMap), 670-679",
         pod(labels={"add": "true", "team": "a"}), [poddefault(labels={"team": "b"})],
         refusal=["poddefaults: pd on pod: p", "merging has conflict on team"]),
    Case("env, secret env, volume and mount are injected",
         "main.go:487-491 (mergeVolumes), 531-534,561-578 (applyPodDefaultsOnContainer)",
         pod(), [poddefault(env=[ENV_A, SECRET_ENV], volumes=[VOLUME], volumeMounts=[MOUNT])],
         with_changes(pod(), annotations=marker("pd"), volumes=[VOLUME],
                      containers=[container(env=[ENV_A, SECRET_ENV], volumeMounts=[MOUNT])])),
    Case("an env var the pod defines differently refuses the pod, naming PodDefault and variable",
         "main.go:120-124,217-252 (mergeEnv), 675-678 (message)",
         pod(containers=[container(env=[{"name": "A", "value": "0"}])]), [poddefault(env=[ENV_A])],
         refusal=["conflict occurred while applying poddefaults: pd on pod: p err: merging env for pd has a conflict on A"]),  # noqa: E501
    Case("an identical env var is no conflict and is not duplicated",
         "main.go:230-241 (mergeEnv: reflect.DeepEqual)",
         pod(containers=[container(env=[ENV_A])]), [poddefault(env=[ENV_A])],
         with_changes(pod(containers=[container(env=[ENV_A])]), annotations=marker("pd"))),
    Case("a volume of the same name defined differently refuses the pod",
         "main.go:321-360 (mergeVolumes)",
         pod(volumes=[{"name": "v", "emptyDir": {}}]), [poddefault(volumes=[VOLUME])],
         refusal=["merging volumes for pd has a conflict on v"]),
    Case("a volume mount on the same path under another name refuses the pod",
         "main.go:296-306 (mergeVolumeMounts by mountPath)",
         pod(containers=[container(volumeMounts=[{"name": "other", "mountPath": "/shared"}])]),
         [poddefault(volumeMounts=[MOUNT])],
         refusal=["merging volume mounts for pd has a conflict on mount path /shared"]),
    Case("a volume mount of the same name on another path refuses the pod",
         "main.go:282-294 (mergeVolumeMounts by name)",
         pod(containers=[container(volumeMounts=[{"name": "v", "mountPath": "/elsewhere"}])]),
         [poddefault(volumeMounts=[MOUNT])],
         refusal=["merging volume mounts for pd has a conflict on v"]),
    Case("a toleration of the same key defined differently refuses the pod",
         "main.go:411-450 (mergeTolerations, keyed by key)",
         pod(tolerations=[{"key": "newToleration", "operator": "Exists"}]), [poddefault(tolerations=[NEW_TOLERATION])],
         refusal=["merging tolerations for pd has a conflict on newToleration"]),
    Case("imagePullSecrets are appended; the same name with the same content is no conflict",
         "main.go:170-213 (mergeImagePullSecrets)",
         pod(imagePullSecrets=[{"name": "a"}]), [poddefault(imagePullSecrets=[{"name": "a"}, {"name": "b"}])],
         with_changes(pod(), annotations=marker("pd"), imagePullSecrets=[{"name": "a"}, {"name": "b"}])),
    Case("initContainers and sidecars are appended; sidecars get no env",
         "main_test.go:191 ('Add init containers'); main.go:364-407 (mergeContainers), 531-550 (env first)",
         pod(), [poddefault(env=[ENV_A], initContainers=[INIT], sidecars=[SIDECAR])],
         with_changes(pod(), annotations=marker("pd"), initContainers=[INIT],
                      containers=[container(env=[ENV_A]), SIDECAR])),
    Case("a sidecar named like a pod container but different refuses the pod",
         "main.go:145-147,381-392 (mergeContainers conflict)",
         pod(containers=[container(), {"name": "kubectl", "image": "other"}]), [poddefault(sidecars=[SIDECAR])],
         refusal=["merging containers for pd has a conflict on kubectl"]),
    Case("command and args only where unset; the first PodDefault wins; istio-proxy untouched",
         "main_test.go:254 (TestSetCommandAndArgs); main.go:577,582-597 (setCommandAndArgs)",
         pod(containers=[container(), container(name="d", args=["own"]), {"name": "istio-proxy", "image": "proxy"}]),
         [poddefault("a", command=["run"], args=["--a"]), poddefault("b", command=["other"], args=["--b"])],
         with_changes(pod(), annotations=marker("a", "b"), containers=[
             container(command=["run"], args=["--a"]), container(name="d", command=["run"], args=["own"]),
             {"name": "istio-proxy", "image": "proxy"}])),
    Case("an envFrom the container already has is not there twice: appended, then left out by the patch",
         "main.go:254-262 (mergeEnvFrom appends), 685-697; mattbaird/jsonpatch@81af803 jsonpatch.go:227-257",
         pod(containers=[container(envFrom=[CONFIG_MAP_SOURCE])]), [poddefault(envFrom=[CONFIG_MAP_SOURCE])],
         with_changes(pod(), annotations=marker("pd"), containers=[container(envFrom=[CONFIG_MAP_SOURCE])])),
    Case("an empty selector {} applies to every pod",
         "main.go:76-85 (LabelSelectorAsSelector of {} selects everything)",
         pod(labels={"app": "anything"}), [poddefault(selector={}, env=[ENV_A])],
         with_changes(pod(labels={"app": "anything"}), annotations=marker("pd"), containers=[container(env=[ENV_A])])),
    Case("an invalid selector refuses every pod of the namespace, also pods it would not select",
         "main.go:76-79 (selector conversion error), 652-656 (refused)",
         pod(labels={"app": "x"}),
         [poddefault("broken", selector={"matchExpressions": [{"key": "a", "operator": "Bogus"}]}), poddefault()],
         refusal=["label selector conversion failed"]),
    Case("matchExpressions select as Kubernetes selectors do",
         "main.go:76-85 (labels.Selector)",
         pod(labels={"tier": "b", "x": "1"}),
         [poddefault("in", selector={"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                                           {"key": "x", "operator": "Exists"}]}, env=[ENV_A]),
          poddefault("notin", selector={"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["b"]}]},
                     env=[{"name": "N", "value": "n"}]),
          poddefault("absent", selector={"matchExpressions": [{"key": "y", "operator": "DoesNotExist"}]},
                     env=[{"name": "D", "value": "d"}])],
         with_changes(pod(labels={"tier": "b", "x": "1"}), annotations=marker("in", "absent"),
                      containers=[container(env=[ENV_A, {"name": "D", "value": "d"}])])),
    Case("a pod annotated poddefault.admission.kubeflow.org/exclude: 'true' is left alone",
         "main.go:625-629 (exclude annotation)",
         pod(annotations={"poddefault.admission.kubeflow.org/exclude": "true"},
             containers=[container(env=[{"name": "A", "value": "0"}])]),
         [poddefault(env=[ENV_A])],
         pod(annotations={"poddefault.admission.kubeflow.org/exclude": "true"},
             containers=[container(env=[{"name": "A", "value": "0"}])])),
    Case("a mirror pod is left alone", "main.go:630-632 (mirror pod)",
         pod(annotations={"kubernetes.io/config.mirror": "x"}), [poddefault(env=[ENV_A])],
         pod(annotations={"kubernetes.io/config.mirror": "x"})),
    Case("a pod no PodDefault selects gets nothing", "main.go:647-650,658-661 (nothing matches: admitted unchanged)",
         pod(labels={"add": "false"}), [poddefault(env=[ENV_A])], pod(labels={"add": "false"})),
    Case("two PodDefaults stack; the last serviceAccountName wins",
         "main.go:509-518 (the last serviceAccountName wins), 552-555",
         pod(), [poddefault("a", env=[ENV_A], serviceAccountName="sa-a"),
                 poddefault("b", env=[{"name": "B", "value": "2"}], labels={"team": "qa"}, serviceAccountName="sa-b")],
         with_changes(pod(), labels={"add": "true", "team": "qa"}, annotations=marker("a", "b"),
                      serviceAccountName="sa-b", containers=[container(env=[ENV_A, {"name": "B", "value": "2"}])])),
    Case("a PodDefault of another namespace does not apply",
         "main.go:86-90 (PodDefault of another namespace skipped)",
         pod(), [poddefault(namespace="elsewhere", env=[ENV_A])], pod()),
    Case("a pod without metadata.namespace is in the request's namespace",
         "main.go:616-619 (namespace from the AdmissionReview)",
         {"metadata": {"name": "p", "labels": {"add": "true"}}, "spec": {"containers": [container()]}},
         [poddefault(env=[ENV_A])],
         {"metadata": {"name": "p", "labels": {"add": "true"}, "annotations": marker("pd")},
          "spec": {"containers": [container(env=[ENV_A])]}}),
]  # fmt: skip


class PatchRefused(Exception):
    """The API server could not apply the webhook's patch (it answers 500 Internal error)."""


def apply_json_patch(document: dict, operations: list[dict]) -> dict:
    """RFC 6902 add/replace/remove as the API server applies the webhook's patch (gopkg.in/evanphx/json-patch.v4,
    patch.go:430-523 at v4.12.0): an array index past the end is refused, not appended or ignored."""
    result = copy.deepcopy(document)
    for operation in operations:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].split("/")[1:]]
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if index > len(target) or (operation["op"] != "add" and index == len(target)):
                raise PatchRefused(f"Unable to access invalid index: {index} ({operation})")
            if operation["op"] != "add":
                del target[index]
            if operation["op"] != "remove":
                target.insert(index, operation["value"])
        elif operation["op"] == "remove":
            del target[last]
        else:
            target[last] = operation["value"]
    return result


def lister_of(poddefaults: list[dict]) -> wh.PodDefaultLister:
    def list_poddefaults(namespace: str) -> list[dict]:
        return [copy.deepcopy(p) for p in poddefaults if p["metadata"]["namespace"] == namespace]

    return list_poddefaults


def check_outcome(case: Case, allowed: bool, message: str, admitted: dict) -> None:
    if case.expected is None:
        assert not allowed, f"{case.name}: admitted, expected a refusal ({case.upstream})"
        for fragment in case.refusal:
            assert fragment in message, f"{case.name}: {fragment!r} not in {message!r}"
    else:
        assert allowed, f"{case.name}: refused with {message!r} ({case.upstream})"
        assert admitted == case.expected, f"{case.name} ({case.upstream})"


@pytest.mark.parametrize("case", WEBHOOK_CASES, ids=lambda case: case.name)
def test_webhook_decision(case: Case) -> None:
    decision = wh.review(case.pod, case.request_namespace, lister_of(case.poddefaults))
    check_outcome(case, decision.allowed, decision.message, apply_json_patch(case.pod, decision.patch))


# --- the same table over HTTPS --------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    context: ssl.SSLContext
    poddefaults: list[dict]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    state = Served("", ssl.create_default_context(cafile=str(cert)), [])
    server = wh.serve(lambda namespace: lister_of(state.poddefaults)(namespace), str(cert), str(key), 0, "127.0.0.1")
    state.url = f"https://localhost:{server.server_address[1]}{wh.PATH}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def admission_round_trip(
    served: Served, pod_object: dict, namespace: str, version: str = "admission.k8s.io/v1"
) -> dict:
    review = {
        "apiVersion": version,
        "kind": "AdmissionReview",
        "request": {"uid": "0b3c", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": namespace,
                    "operation": "CREATE", "object": pod_object},
    }  # fmt: skip
    assert served.url.startswith("https://")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(served.url, json.dumps(review).encode(), headers)  # noqa: S310 (https)
    with urllib.request.urlopen(request, context=served.context, timeout=10) as answer:  # noqa: S310 (https)
        assert answer.status == 200
        body = json.loads(answer.read())
    assert body["apiVersion"] == version and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == "0b3c"
    return dict(body["response"])


@pytest.mark.parametrize("case", WEBHOOK_CASES, ids=lambda case: case.name)
def test_webhook_over_https(served: Served, case: Case) -> None:
    served.poddefaults[:] = case.poddefaults
    response = admission_round_trip(served, case.pod, case.request_namespace)
    patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    if patch:
        assert response["patchType"] == "JSONPatch"
    if not response["allowed"]:
        assert "code" not in response.get("status", {}), "upstream sends no code: the API server answers 400"
    check_outcome(case, response["allowed"], response.get("status", {}).get("message", ""),
                  apply_json_patch(case.pod, patch))  # fmt: skip


def test_webhook_refuses_when_poddefaults_cannot_be_listed(served: Served) -> None:
    """main.go:635-644: an error listing PodDefaults (e.g. the CRD is missing) refuses the pod."""

    def failing(namespace: str) -> list[dict]:
        raise RuntimeError("the server could not find the requested resource")

    decision = wh.review(pod(), NAMESPACE, failing)
    assert not decision.allowed and "could not find the requested resource" in decision.message


# --- notebook controller --------------------------------------------------------------------------------


def notebook(labels: dict | None = None, annotations: dict | None = None, **first_container: Any) -> dict:
    metadata: dict[str, Any] = {"name": "nb", "namespace": NAMESPACE, "uid": "u1"}
    if labels is not None:
        metadata["labels"] = labels
    if annotations is not None:
        metadata["annotations"] = annotations
    containers = [{"name": "nb", "image": "jupyter", **first_container}]
    return {"apiVersion": "kubeflow.org/v1", "kind": "Notebook", "metadata": metadata,
            "spec": {"template": {"spec": {"containers": containers}}}}  # fmt: skip


def pod_template(sts: dict) -> dict:
    return dict(sts["spec"]["template"])


def test_pod_labels_are_the_notebooks_metadata_labels() -> None:
    """notebook_controller.go:378-395: statefulset, notebook-name and every label of the Notebook's metadata."""
    sts = nc.stateful_set(notebook(labels={"add-poddefault": "true", "app": "x"}))
    assert pod_template(sts)["metadata"]["labels"] == {
        "statefulset": "nb", "notebook-name": "nb", "add-poddefault": "true", "app": "x"}  # fmt: skip
    assert sts["spec"]["selector"] == {"matchLabels": {"statefulset": "nb"}}
    assert sts["metadata"]["ownerReferences"][0]["uid"] == "u1"


def test_a_template_metadata_is_not_where_labels_come_from() -> None:
    """The Notebook CRD has no spec.template.metadata: labels there never reach the pod (generateStatefulSet)."""
    nb = notebook()
    nb["spec"]["template"]["metadata"] = {"labels": {"add-poddefault": "true"}}
    assert "add-poddefault" not in pod_template(nc.stateful_set(nb))["metadata"]["labels"]


def test_pod_annotations_skip_kubectl_and_notebook_keys() -> None:
    """notebook_controller.go:397-403."""
    annotations = {"kubectl.kubernetes.io/last-applied-configuration": "{}", "notebooks.kubeflow.org/server-type":
                   "jupyter", "team": "qa", "kubeflow-resource-stopped": "2024"}  # fmt: skip
    sts = nc.stateful_set(notebook(annotations=annotations))
    assert pod_template(sts)["metadata"]["annotations"] == {"team": "qa", "kubeflow-resource-stopped": "2024"}


def test_stop_annotation_scales_to_zero() -> None:
    """notebook_controller.go:361-364."""
    assert nc.stateful_set(notebook())["spec"]["replicas"] == 1
    assert nc.stateful_set(notebook(annotations={"kubeflow-resource-stopped": "now"}))["spec"]["replicas"] == 0


@pytest.mark.parametrize(
    ("add_fsgroup", "security_context", "expected"),
    [
        (None, None, {"fsGroup": 100}),
        ("true", None, {"fsGroup": 100}),
        ("false", None, None),
        (None, {"runAsUser": 1000}, {"runAsUser": 1000}),
        (None, {}, {}),
    ],
)
def test_fsgroup_only_without_a_security_context(add_fsgroup: str | None, security_context: dict | None,
                                                 expected: dict | None) -> None:  # fmt: skip
    """notebook_controller.go:426-433 (ADD_FSGROUP unset or "true", and no securityContext)."""
    nb = notebook()
    if security_context is not None:
        nb["spec"]["template"]["spec"]["securityContext"] = security_context
    assert pod_template(nc.stateful_set(nb, add_fsgroup))["spec"].get("securityContext") == expected


def test_first_container_defaults_and_nb_prefix_appended() -> None:
    """notebook_controller.go:344-357,405-420: workingDir, port 8888, NB_PREFIX appended last."""
    first = pod_template(nc.stateful_set(notebook(env=[{"name": "X", "value": "1"}])))["spec"]["containers"][0]
    assert first["workingDir"] == "/home/jovyan"
    assert first["ports"] == [{"containerPort": 8888, "name": "notebook-port", "protocol": "TCP"}]
    assert first["env"] == [{"name": "X", "value": "1"}, {"name": "NB_PREFIX", "value": "/notebook/team/nb"}]


def test_a_user_set_nb_prefix_survives() -> None:
    """notebook_controller.go:344-357: setPrefixEnvVar changes a copy, so the user's value stays, once."""
    env = [{"name": "NB_PREFIX", "value": "/mine"}]
    first = pod_template(nc.stateful_set(notebook(env=env)))["spec"]["containers"][0]
    assert first["env"] == env


def test_service_targets_the_first_container_port() -> None:
    """notebook_controller.go:437-465."""
    svc = nc.service(notebook(ports=[{"containerPort": 8080, "name": "web"}, {"containerPort": 9000}]))
    assert svc["spec"]["ports"] == [{"name": "http-nb", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert svc["spec"]["selector"] == {"statefulset": "nb"} and svc["spec"]["type"] == "ClusterIP"
    assert nc.service(notebook())["spec"]["ports"][0]["targetPort"] == 8888
    assert pod_template(nc.stateful_set(notebook(ports=[{"containerPort": 8080}])))["spec"]["containers"][0][
        "ports"] == [{"containerPort": 8080}]  # fmt: skip


def test_status_from_the_container_named_like_the_notebook() -> None:
    """notebook_controller.go:242-300 (createNotebookStatus), 303-341 (PodCondToNotebookCond)."""
    running = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    pod_object = {"status": {
        "containerStatuses": [{"name": "istio-proxy", "state": {"waiting": {"reason": "X"}}},
                              {"name": "nb", "state": running}],
        "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None,
                        "lastTransitionTime": "2026-01-01T00:00:01Z"}]}}  # fmt: skip
    status = nc.notebook_status(notebook(), {"status": {"readyReplicas": 1}}, pod_object, "NOW")
    assert status == {
        "readyReplicas": 1,
        "containerState": running,
        "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": "NOW",
                        "lastTransitionTime": "2026-01-01T00:00:01Z"}],
    }  # fmt: skip


def test_status_without_a_pod_or_without_the_notebook_container() -> None:
    """notebook_controller.go:249-258 (no pod status: empty conditions), 285-289 (no container of that name)."""
    assert nc.notebook_status(notebook(), {}, None, "NOW") == {
        "conditions": [],
        "readyReplicas": 0,
        "containerState": {},
    }
    other = {"status": {"containerStatuses": [{"name": "other", "state": {"running": {}}}], "conditions": []}}
    assert nc.notebook_status(notebook(), {}, other, "NOW")["containerState"] == {}


def test_stateful_set_drift_is_put_back() -> None:
    """notebook_controller.go:160-168 with reconcilehelper CopyStatefulSetFields."""
    desired = nc.stateful_set(notebook(annotations={"kubeflow-resource-stopped": "now"}))
    found = copy.deepcopy(nc.stateful_set(notebook()))
    found["metadata"]["labels"] = {"edited": "yes"}
    found["spec"]["template"]["spec"]["containers"][0]["image"] = "edited"
    found["spec"]["template"]["metadata"]["labels"]["kept"] = "yes"  # the template's metadata is not reconciled
    assert nc.copy_stateful_set_fields(desired, found)
    assert found["spec"]["replicas"] == 0 and "labels" not in found["metadata"]
    assert found["spec"]["template"]["spec"] == desired["spec"]["template"]["spec"]
    assert found["spec"]["template"]["metadata"]["labels"]["kept"] == "yes"
    assert not nc.copy_stateful_set_fields(desired, found)


def test_service_drift_is_put_back_keeping_the_cluster_ip() -> None:
    """notebook_controller.go:191-199 with reconcilehelper CopyServiceFields."""
    desired = nc.service(notebook())
    found = copy.deepcopy(desired)
    found["spec"]["clusterIP"] = "10.96.0.9"
    found["spec"]["ports"][0]["targetPort"] = 1234
    assert nc.copy_service_fields(desired, found)
    assert found["spec"]["ports"] == desired["spec"]["ports"] and found["spec"]["clusterIP"] == "10.96.0.9"
    assert not nc.copy_service_fields(desired, found)


# --- CRDs -----------------------------------------------------------------------------------------------

CRDS = Path(__file__).resolve().parents[1] / "charts" / "kubeflow" / "crds"


def test_notebook_crd_has_upstreams_shape() -> None:
    """config/crd: v1 storage, v1alpha1/v1beta1 served, conversion None; no spec.template.metadata;
    containers need name and image (validation_patches.yaml); status fields required (api/v1)."""
    import yaml

    crd = yaml.safe_load((CRDS / "notebooks.yaml").read_text())
    versions = {v["name"]: v for v in crd["spec"]["versions"]}
    assert sorted(versions) == ["v1", "v1alpha1", "v1beta1"]
    assert [name for name, v in versions.items() if v["storage"]] == ["v1"]
    assert all(v["served"] and v["subresources"] == {"status": {}} for v in versions.values())
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    for version in versions.values():
        schema = version["schema"]["openAPIV3Schema"]["properties"]
        template = schema["spec"]["properties"]["template"]["properties"]
        assert list(template) == ["spec"], "the Notebook CRD has no spec.template.metadata"
        containers = template["spec"]["properties"]["containers"]
        assert containers["minItems"] == 1 and containers["items"]["required"] == ["name", "image"]
        assert schema["status"]["required"] == ["conditions", "containerState", "readyReplicas"]


def test_notebook_crd_is_generated_from_the_current_kubernetes() -> None:
    source = nc_crd.default_openapi()
    if not source.exists():
        pytest.skip(f"{source} is not there (cluster/build-binaries.sh fetches it)")
    import yaml

    schemas = json.loads(source.read_text())["components"]["schemas"]
    assert yaml.safe_load((CRDS / "notebooks.yaml").read_text()) == nc_crd.crd(schemas), (
        "charts/kubeflow/crds/notebooks.yaml is stale: run components/notebook_crd.py"
    )


def test_poddefault_crd_holds_every_poddefault_field() -> None:
    import yaml

    crd = yaml.safe_load((CRDS / "poddefaults.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert version["name"] == "v1alpha1" and spec["required"] == ["selector"]
    assert set(spec["properties"]) == {
        "desc", "selector", "serviceAccountName", "automountServiceAccountToken", "env", "envFrom", "volumes",
        "volumeMounts", "annotations", "labels", "tolerations", "imagePullSecrets", "command", "args",
        "initContainers", "sidecars",
    }  # fmt: skip


# --- the reconcile loop against a fake API (what it reads and writes) ------------------------------------


class FakeResponse:
    def __init__(self, obj: dict) -> None:
        self.data = json.dumps(obj).encode()


class FakeCluster:
    """Objects by (kind, namespace, name); the controller's API calls read and write them."""

    def __init__(self, notebook_object: dict) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {("Notebook", NAMESPACE, "nb"): notebook_object}
        self.writes: list[str] = []

    def _read(self, kind: str, name: str, namespace: str, **_: Any) -> FakeResponse:
        from kubernetes.client.exceptions import ApiException

        if (kind, namespace, name) not in self.objects:
            raise ApiException(status=404)
        return FakeResponse(self.objects[(kind, namespace, name)])

    def _write(self, verb: str, kind: str, namespace: str, body: dict) -> FakeResponse:
        self.writes.append(f"{verb} {kind}")
        stored = {**copy.deepcopy(body), "status": body.get("status", {})}
        self.objects[(kind, namespace, body["metadata"]["name"])] = stored
        return FakeResponse(stored)

    # CustomObjectsApi
    def get_namespaced_custom_object(self, group: str, version: str, namespace: str, plural: str, name: str,
                                     **kwargs: Any) -> FakeResponse:  # fmt: skip
        return self._read("Notebook", name, namespace)

    def replace_namespaced_custom_object_status(self, group: str, version: str, namespace: str, plural: str,
                                                name: str, body: dict) -> None:  # fmt: skip
        self._write("status", "Notebook", namespace, body)

    # AppsV1Api
    def read_namespaced_stateful_set(self, name: str, namespace: str, **kwargs: Any) -> FakeResponse:
        return self._read("StatefulSet", name, namespace)

    def create_namespaced_stateful_set(self, namespace: str, body: dict, **kwargs: Any) -> FakeResponse:
        return self._write("create", "StatefulSet", namespace, body)

    def replace_namespaced_stateful_set(self, name: str, namespace: str, body: dict, **kwargs: Any) -> FakeResponse:
        return self._write("replace", "StatefulSet", namespace, body)

    # CoreV1Api
    def read_namespaced_service(self, name: str, namespace: str, **kwargs: Any) -> FakeResponse:
        return self._read("Service", name, namespace)

    def create_namespaced_service(self, namespace: str, body: dict) -> None:
        self._write("create", "Service", namespace, body)

    def replace_namespaced_service(self, name: str, namespace: str, body: dict) -> None:
        self._write("replace", "Service", namespace, body)

    def read_namespaced_pod(self, name: str, namespace: str, **kwargs: Any) -> FakeResponse:
        return self._read("Pod", name, namespace)


def controller_on(cluster: FakeCluster) -> nc.Controller:
    controller = nc.Controller.__new__(nc.Controller)
    controller.custom = controller.apps = controller.core = cluster
    controller.add_fsgroup = None
    return controller


def test_reconcile_creates_updates_and_reports() -> None:
    """notebook_controller.go:137-221: create, then put drift back, then the status from the pod."""
    cluster = FakeCluster(notebook(labels={"add-poddefault": "true"}))
    controller = controller_on(cluster)
    controller.reconcile(NAMESPACE, "nb")
    assert cluster.writes == ["create StatefulSet", "create Service", "status Notebook"]
    assert cluster.objects[("Notebook", NAMESPACE, "nb")]["status"] == {
        "conditions": [], "readyReplicas": 0, "containerState": {}}  # fmt: skip
    cluster.writes.clear()
    cluster.objects[("Pod", NAMESPACE, "nb-0")] = {"status": {"containerStatuses": [
        {"name": "nb", "state": {"running": {}}}], "conditions": [{"type": "Ready", "status": "True"}]}}  # fmt: skip
    cluster.objects[("StatefulSet", NAMESPACE, "nb")]["status"] = {"readyReplicas": 1}
    cluster.objects[("Notebook", NAMESPACE, "nb")]["metadata"]["annotations"] = {"kubeflow-resource-stopped": "x"}
    controller.reconcile(NAMESPACE, "nb")
    assert cluster.writes == ["replace StatefulSet", "status Notebook"]
    assert cluster.objects[("StatefulSet", NAMESPACE, "nb")]["spec"]["replicas"] == 0
    status = cluster.objects[("Notebook", NAMESPACE, "nb")]["status"]
    assert status["readyReplicas"] == 1 and status["containerState"] == {"running": {}}
    cluster.writes.clear()
    controller.reconcile(NAMESPACE, "nb")
    assert cluster.writes == [], "nothing changed: no write (not even the status' probe times)"


def test_reconcile_leaves_a_notebook_being_deleted_alone() -> None:
    """notebook_controller.go:130-135."""
    nb = notebook()
    nb["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    cluster = FakeCluster(nb)
    controller_on(cluster).reconcile(NAMESPACE, "nb")
    assert cluster.writes == []


@pytest.mark.parametrize("version", ["admission.k8s.io/v1beta1", "admission.k8s.io/v1"])
def test_the_webhook_answers_in_the_version_the_api_server_asked_in(version: str) -> None:
    """kubeflow/manifests registers [v1beta1, v1]: the API server asks in v1beta1 and refuses a v1 answer."""
    review = {"apiVersion": version, "kind": "AdmissionReview",
              "request": {"uid": "u1", "namespace": NAMESPACE, "object": pod()}}  # fmt: skip
    answer = wh.admission_response(review, lister_of([]))
    assert (answer["apiVersion"], answer["kind"]) == (version, "AdmissionReview")
    assert answer["response"]["uid"] == "u1" and answer["response"]["allowed"] is True
