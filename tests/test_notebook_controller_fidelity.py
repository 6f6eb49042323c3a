"""Fidelity of kfcheck's notebook controller (components/kubeflow_lite) to Kubeflow's at kubeflow/kubeflow
v1.10.0: the Istio VirtualService and events issued again on the Notebook. Metrics, probes, flags, work
queue and the installs: tests/test_notebook_controller_operations.py; culling:
tests/test_notebook_controller_culling.py.

Each test cites the upstream file:line at v1.10.0 it pins (nc.go = components/notebook-controller/
controllers/notebook_controller.go; util.go = components/common/reconcilehelper/util.go; client-go v0.23.0
tools/record for the event recorder upstream's manager gives the controller).
"""

from __future__ import annotations

import copy
import datetime
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import notebook_controller as nc
from kubeflow_lite import notebook_events as ev
from kubeflow_lite import notebook_istio as istio
from kubeflow_lite import notebook_manager as manager

from tests.notebook_controller_fakes import NAMESPACE, FakeApi, controller_on, notebook

OWNER = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Notebook", "name": "nb", "uid": "u1", "controller": True,
         "blockOwnerDeletion": True}  # fmt: skip


def expected_virtual_service(host: str = "*", gateway: str = "kubeflow/kubeflow-gateway", domain: str = "cluster.local",
                             rewrite: str = "/notebook/team/nb/", headers: dict | None = None) -> dict:  # fmt: skip
    return {
        "apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
        "metadata": {"name": "notebook-team-nb", "namespace": NAMESPACE, "ownerReferences": [OWNER]},
        "spec": {"hosts": [host], "gateways": [gateway], "http": [{
            "headers": {"request": {"set": headers or {}}},
            "match": [{"uri": {"prefix": "/notebook/team/nb/"}}],
            "rewrite": {"uri": rewrite},
            "route": [{"destination": {"host": f"nb.team.svc.{domain}", "port": {"number": 80}}}],
        }]},
    }  # fmt: skip


# --- Istio VirtualService ---------------------------------------------------------------------------------


def test_owner_references_name_the_notebook_as_v1beta1() -> None:
    """nc.go:29,124,140,173,580: SetControllerReference of the v1beta1.Notebook the reconciler reads."""
    assert nc.owner_reference(notebook()) == OWNER
    assert nc.stateful_set(notebook())["metadata"]["ownerReferences"] == [OWNER]


def test_virtual_service_as_upstream_generates_it_with_the_defaults() -> None:
    """nc.go:467-571 (name 467-469, defaults 474/500-503/509-512, the http route 533-562, apiVersion 495)."""
    assert istio.virtual_service(notebook(), OWNER, {}) == expected_virtual_service()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ISTIO_HOST": "nb.example.com", "ISTIO_GATEWAY": "gw/x", "CLUSTER_DOMAIN": "corp.local"},
         {"host": "nb.example.com", "gateway": "gw/x", "domain": "corp.local"}),
        ({"ISTIO_HOST": "", "ISTIO_GATEWAY": ""}, {}),  # nc.go:500-512: empty takes the default
        ({"CLUSTER_DOMAIN": ""}, {"domain": ""}),  # nc.go:489-491: LookupEnv, so a set but empty value is used
    ],
)  # fmt: skip
def test_virtual_service_settings_come_from_the_environment(env: dict, expected: dict) -> None:
    assert istio.virtual_service(notebook(), OWNER, env) == expected_virtual_service(**expected)


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({istio.ANNOTATION_REWRITE_URI: "/"}, {"rewrite": "/"}),  # nc.go:483-487
        ({istio.ANNOTATION_REWRITE_URI: ""}, {}),  # empty: the prefix
        ({istio.ANNOTATION_HEADERS_REQUEST_SET: '{"X-RStudio-Root-Path": "/notebook/team/nb/"}'},
         {"headers": {"X-RStudio-Root-Path": "/notebook/team/nb/"}}),  # nc.go:518-531
        ({istio.ANNOTATION_HEADERS_REQUEST_SET: "{not json"}, {}),  # decoding error: empty set
        ({istio.ANNOTATION_HEADERS_REQUEST_SET: '{"a": 1}'}, {}),  # not map[string]string: empty set
        ({istio.ANNOTATION_HEADERS_REQUEST_SET: '["a"]'}, {}),
        ({istio.ANNOTATION_HEADERS_REQUEST_SET: "null"}, {}),
    ],
)  # fmt: skip
def test_virtual_service_rewrite_and_headers_come_from_the_notebooks_annotations(annotations: dict,
                                                                                 expected: dict) -> None:  # fmt: skip
    assert istio.virtual_service(notebook(annotations=annotations), OWNER, {}) == expected_virtual_service(**expected)


def test_virtual_service_drift_puts_the_whole_spec_back_and_leaves_metadata() -> None:
    """util.go:199-219 (CopyVirtualService): spec compared whole, replaced whole; metadata untouched."""
    desired = expected_virtual_service()
    found = copy.deepcopy(desired)
    assert not istio.copy_virtual_service(desired, found)
    found["metadata"]["labels"] = {"added": "by-hand"}
    found["spec"]["hosts"] = ["other"]
    found["spec"]["tcp"] = [{"route": []}]
    assert istio.copy_virtual_service(desired, found)
    assert found["spec"] == desired["spec"] and found["metadata"]["labels"] == {"added": "by-hand"}
    del found["spec"]
    assert istio.copy_virtual_service(desired, found) and found["spec"] == desired["spec"]


def test_reconcile_with_use_istio_creates_then_repairs_the_virtual_service() -> None:
    """nc.go:202-208 (only when USE_ISTIO is "true"), 573-612 (create, else update when the spec drifted)."""
    api = FakeApi(notebook())
    controller_on(api, {"USE_ISTIO": "false"}).reconcile(NAMESPACE, "nb")
    assert "create VirtualService" not in api.writes
    controller = controller_on(api, {"USE_ISTIO": "true"})
    controller.reconcile(NAMESPACE, "nb")
    made = api.objects[("VirtualService", NAMESPACE, "notebook-team-nb")]
    assert {key: made[key] for key in ("apiVersion", "spec")} == {
        key: expected_virtual_service()[key] for key in ("apiVersion", "spec")}  # fmt: skip
    assert made["metadata"]["ownerReferences"] == [OWNER]
    made["spec"]["gateways"] = ["elsewhere/gateway"]
    api.writes.clear()
    controller.reconcile(NAMESPACE, "nb")
    assert api.writes == ["replace VirtualService"]
    assert api.objects[("VirtualService", NAMESPACE, "notebook-team-nb")]["spec"] == expected_virtual_service()["spec"]
    api.writes.clear()
    controller.reconcile(NAMESPACE, "nb")
    assert api.writes == []


def test_without_virtual_services_served_the_reconcile_fails_and_the_start_gives_up_after_two_minutes() -> None:
    """nc.go:205-207: the error goes back to controller-runtime, which retries with backoff; at start the
    VirtualService watch (nc.go:726-731) is retried every 10 s and the controller fails after 2 minutes
    (controller-runtime v0.11.0 pkg/source/source.go:131-141, pkg/controller/controller.go:115-116)."""
    api = FakeApi(notebook())
    api.unserved.add("virtualservices")
    with pytest.raises(Exception) as failure:
        controller_on(api, {"USE_ISTIO": "true"}).reconcile(NAMESPACE, "nb")
    assert getattr(failure.value, "status", None) == 404
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    kinds = [("kubeflow.org", "v1", "notebooks"), ("networking.istio.io", "v1alpha3", "virtualservices")]
    assert not manager.wait_until_served(api, kinds, sleep=sleep, clock=lambda: now[0])
    assert slept == [10.0] * 12
    api.unserved.clear()
    assert manager.wait_until_served(api, kinds, sleep=sleep, clock=lambda: now[0])


# --- events issued again on the Notebook -------------------------------------------------------------------


def pod_event(name: str = "nb-0.1", kind: str = "Pod", involved: str = "nb-0", **fields: Any) -> dict:
    return {"kind": "Event", "metadata": {"name": name, "namespace": NAMESPACE, "uid": name},
            "involvedObject": {"kind": kind, "name": involved, "namespace": NAMESPACE},
            "type": "Warning", "reason": "Failed", "message": "Failed to pull image \"nope\"", **fields}  # fmt: skip


def notebook_pod(name: str = "nb-0", labels: dict | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE,
                                        "labels": {"notebook-name": "nb"} if labels is None else labels}}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "objects", "expected"),
    [
        (pod_event(), [notebook_pod()], "nb"),  # notebook_controller_test.go:66-70 ("pod event")
        (pod_event(kind="StatefulSet", involved="nb"), [], "nb"),  # notebook_controller_test.go:71-75
        (pod_event(), [notebook_pod(labels={})], None),  # nc.go:637-641: a pod without the label
        (pod_event(), [], None),  # nc.go:634-636: the pod is gone
        (pod_event(kind="Service", involved="nb"), [], None),
    ],
)  # fmt: skip
def test_the_notebook_of_an_event(event: dict, objects: list[dict], expected: str | None) -> None:
    """nc.go:618-642 (nbNameFromInvolvedObject)."""
    api = FakeApi(*objects)
    controller = controller_on(api)
    assert ev.notebook_name_for(event, lambda name, ns: controller._get(api.read_namespaced_pod, name, ns)) == expected


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def reemitting(*objects: dict) -> tuple[FakeApi, nc.Controller, Clock]:
    api, clock = FakeApi(notebook(), notebook_pod(), *objects), Clock()
    controller = controller_on(api)
    controller.recorder = ev.EventRecorder(nc._EventSink(api), clock)
    return api, controller, clock


def test_a_pod_event_is_issued_again_on_the_notebook() -> None:
    """nc.go:93-118 (message `Reissued from <kind>/<name>: <message>`, same type and reason, 115-116),
    main.go:104 (source component notebook-controller); client-go event.go:366-386 (the event's fields)."""
    api, controller, _clock = reemitting(pod_event())
    controller.reemit(NAMESPACE, "nb-0.1")
    (made,) = api.events_about("nb")
    assert made["involvedObject"] == {"kind": "Notebook", "namespace": NAMESPACE, "name": "nb", "uid": "u1",
                                      "apiVersion": "kubeflow.org/v1beta1", "resourceVersion": "11"}  # fmt: skip
    assert (made["type"], made["reason"], made["count"]) == ("Warning", "Failed", 1)
    assert made["message"] == 'Reissued from pod/nb-0: Failed to pull image "nope"'
    assert made["source"] == {"component": "notebook-controller"}
    assert made["firstTimestamp"] == made["lastTimestamp"] == "2026-03-01T12:00:00Z"
    assert re.fullmatch(r"nb\.[0-9a-f]+", made["metadata"]["name"])
    api.put(pod_event(name="nb.2", kind="StatefulSet", involved="nb", type="Normal", reason="SuccessfulCreate",
                      message="create Pod nb-0 in StatefulSet nb successful"))  # fmt: skip
    controller.reemit(NAMESPACE, "nb.2")
    assert "Reissued from statefulset/nb: create Pod nb-0 in StatefulSet nb successful" in {
        e["message"] for e in api.events_about("nb")}  # fmt: skip


def test_events_of_other_objects_or_of_missing_notebooks_are_not_issued_again() -> None:
    """nc.go:614-616 (only Pod and StatefulSet), 644-650 and 108-111 (the Notebook must exist)."""
    api, controller, _ = reemitting(pod_event(name="svc.1", kind="Service", involved="nb"),
                                    pod_event(name="other.1", kind="StatefulSet", involved="other"))  # fmt: skip
    controller.reemit(NAMESPACE, "svc.1")
    controller.reemit(NAMESPACE, "other.1")
    controller.reemit(NAMESPACE, "gone.1")
    assert api.events_about("nb") == [] and api.events_about("other") == []


def test_the_same_event_again_bumps_the_count_of_the_first() -> None:
    """client-go events_cache.go:53-67 (the key), 327-371 (count+1 on the first one's name), event.go:238-253
    (PATCH; create again when the first one is gone)."""
    api, controller, clock = reemitting(pod_event())
    controller.reemit(NAMESPACE, "nb-0.1")
    clock.advance(30)
    controller.reemit(NAMESPACE, "nb-0.1")
    (made,) = api.events_about("nb")
    assert (made["count"], made["firstTimestamp"], made["lastTimestamp"]) == (2, "2026-03-01T12:00:00Z",
                                                                            "2026-03-01T12:00:30Z")  # fmt: skip
    assert api.writes == ["create Event", "patch Event"]
    del api.objects[("Event", NAMESPACE, made["metadata"]["name"])]
    controller.reemit(NAMESPACE, "nb-0.1")
    (again,) = api.events_about("nb")
    assert again["count"] == 3 and again["metadata"]["name"] == made["metadata"]["name"]


def test_ten_distinct_messages_are_combined() -> None:
    """client-go events_cache.go:41-42 (10 within 600 s), 165-187, 242-301."""
    api, controller, clock = reemitting()
    recorder = controller.recorder
    assert recorder is not None
    for index in range(11):
        recorder.event(notebook(), "Warning", "BackOff", f"message {index}")
        clock.advance(1)
    messages = [e["message"] for e in api.events_about("nb")]
    assert messages[:9] == [f"message {index}" for index in range(9)]
    combined = [e for e in api.events_about("nb") if e["message"].startswith("(combined from similar events): ")]
    assert len(combined) == 1 and combined[0]["count"] == 2  # the 10th created it, the 11th bumped it
    clock.advance(601)
    recorder.event(notebook(), "Warning", "BackOff", "message 0")
    assert api.events_about("nb")[0]["count"] == 2, "after 600 s quiet, counted as itself again"


def test_a_notebook_gets_25_events_at_once_then_one_every_five_minutes() -> None:
    """client-go events_cache.go:47-49 (burst 25, 1/300 qps), 129-157 (per source and object)."""
    api, controller, clock = reemitting()
    recorder = controller.recorder
    assert recorder is not None
    for index in range(30):
        recorder.event(notebook(), "Normal", f"Reason{index}", "m")
    assert len(api.events_about("nb")) == 25
    clock.advance(299)
    recorder.event(notebook(), "Normal", "Late", "m")
    assert len(api.events_about("nb")) == 25
    clock.advance(2)
    recorder.event(notebook(), "Normal", "Later", "m")
    assert len(api.events_about("nb")) == 26
    recorder.event(notebook(), "Bogus", "Type", "m")  # record/util.ValidateEventType: dropped
    assert len(api.events_about("nb")) == 26


def test_each_version_of_an_event_of_a_notebook_pod_is_queued_once_and_deletions_never() -> None:
    """nc.go:666-688 (predNBEvents: create and update pass, delete does not; a pod event only for a pod with
    `notebook-name`, 652-664); a watch opened again lists every event, which upstream's informer does not pass
    on as changes."""
    queue = manager.WorkQueue()
    events = manager.EventFilter(queue)
    event = pod_event()
    event["metadata"]["resourceVersion"] = "1"
    events("ADDED", event)
    assert queue.get(timeout=0) is None, "the pod watch has not seen a notebook pod nb-0"
    events.pod("ADDED", notebook_pod())
    events("ADDED", event)
    events("ADDED", event)  # the same version, listed again
    assert queue.get(timeout=0) == ("event", NAMESPACE, "nb-0.1")
    queue.done(("event", NAMESPACE, "nb-0.1"))
    events("MODIFIED", {**event, "metadata": {**event["metadata"], "resourceVersion": "2"}})
    assert queue.get(timeout=0) == ("event", NAMESPACE, "nb-0.1")
    events("DELETED", event)
    events("ADDED", pod_event(name="nb.9", kind="StatefulSet", involved="nb"))
    assert queue.get(timeout=0) == ("event", NAMESPACE, "nb.9")
    events.pod("DELETED", notebook_pod())
    events("MODIFIED", {**event, "metadata": {**event["metadata"], "resourceVersion": "3"}})
    assert queue.get(timeout=0) is None
