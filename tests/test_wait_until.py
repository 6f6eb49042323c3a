"""The wait itself (kfcheck.core.wait.until) on scripted changes and a clock that moves only when the wait
waits: done, failed, gone, a cause its pods or their Warning events show, the deadline, progress. No real time
passes; the last tests run the real streams and threads on fake list functions."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from kfcheck.core import wait
from kfcheck.core.waiting.run import streams
from kfcheck.core.waiting.stream import LISTED, Change

from .wait_fakes import FakeClock, FakeLister, FakeResponse, ScriptedFeed, event, listing, obj

Obj = dict[str, Any]
SELECTOR = "training.kubeflow.org/job-name=mnist"


def _kube(pods: FakeLister | None = None, events: FakeLister | None = None,
          list_node: Callable[[], Any] = lambda: SimpleNamespace(items=[])) -> Any:  # fmt: skip
    core = SimpleNamespace(
        list_namespaced_pod=pods or FakeLister(), list_namespaced_event=events or FakeLister(), list_node=list_node,
        read_namespaced_pod_log=lambda name, namespace, tail_lines: f"epoch 3 of {name}\n",
    )  # fmt: skip
    return SimpleNamespace(core=core)


def _job(version: str = "1", *conditions: str) -> Obj:
    return obj("mnist", version, conditions=[{"type": c, "status": "True", "reason": c} for c in conditions])


def _failed(job: Obj) -> str | None:
    return "the TFJob failed" if wait.has_condition(job, "Failed") else None


OURS = wait.Pods.labelled(SELECTOR)


def _wait(pods: wait.Pods | None = OURS, **options: Any) -> wait.Wait:
    target = wait.Target(FakeLister(), "ns", "mnist")
    done = options.pop("done", lambda job: wait.has_condition(job, "Succeeded"))
    return wait.Wait("TFJob ns/mnist to succeed", target, done, 60.0, _failed, pods, **options)


def _pod(name: str, phase: str = "Running", waiting: str = "") -> Obj:
    state = {"waiting": {"reason": waiting, "message": "no such image"}} if waiting else {"running": {}}
    return {"metadata": {"name": name, "namespace": "ns"}, "status": {"phase": phase,
            "containerStatuses": [{"name": "tensorflow", "state": state}]}}  # fmt: skip


def _warning(count: int, name: str = "mnist") -> Obj:
    return {"metadata": {"name": f"{name}.17", "uid": f"u-{name}"}, "type": "Warning", "reason": "FailedCreatePod",
            "count": count, "involvedObject": {"kind": "TFJob", "name": name},
            "message": 'Error creating: admission webhook "x" denied the request'}  # fmt: skip


def _run(clock: FakeClock, description: wait.Wait, *script: Change | float, kube: Any = None) -> Obj:
    feed = ScriptedFeed(clock, *script)
    try:
        return wait.until(kube or _kube(), description, clock=clock, feed=feed)
    finally:
        assert feed.closed, "the wait left its streams open"


def test_the_streams_are_the_object_by_name_its_pods_by_labels_and_the_warning_events() -> None:
    kube, clock = _kube(), FakeClock()
    away = wait.ApiAway("x", clock=clock)

    def selectors(pods: wait.Pods | None) -> list[tuple[str, dict[str, str]]]:
        return [(s.source, s.selectors) for s in streams(kube, _wait(pods), away, clock.now + 60, clock)]

    assert selectors(wait.Pods.labelled(SELECTOR)) == [
        ("object", {"field_selector": "metadata.name=mnist"}), ("pods", {"label_selector": SELECTOR}),
        ("events", {"field_selector": "type=Warning"}),
    ]  # fmt: skip
    assert selectors(wait.Pods.the_object()) == [("object", {"field_selector": "metadata.name=mnist"}),
                                                 ("events", {"field_selector": "type=Warning"})]  # fmt: skip
    assert selectors(None) == [("object", {"field_selector": "metadata.name=mnist"})]


def test_the_object_is_returned_once_done() -> None:
    clock = FakeClock()
    found = _run(clock, _wait(), Change("object", LISTED, (_job("1"),)), 20.0,
                 Change("object", "MODIFIED", (_job("2", "Succeeded"),)))  # fmt: skip
    assert found["metadata"]["resourceVersion"] == "2" and clock.now == 1020


def test_a_failure_the_object_shows_ends_the_wait_with_it() -> None:
    with pytest.raises(wait.WaitFailed, match=r"^TFJob ns/mnist to succeed: the TFJob failed$"):
        _run(FakeClock(), _wait(), Change("object", "ADDED", (_job("1", "Failed"),)))


def test_an_object_that_should_exist_and_is_not_listed_is_gone_at_once() -> None:
    with pytest.raises(wait.WaitFailed, match="the object is gone"):
        _run(FakeClock(), _wait(exists=True), Change("object", LISTED, ()))


@pytest.mark.parametrize("change", [Change("object", "DELETED", (_job("2"),)), Change("object", LISTED, ())])
def test_an_object_deleted_while_waiting_ends_the_wait(change: Change) -> None:
    """Deleted as the watch saw it, or missing from the list made after 410 Gone."""
    with pytest.raises(wait.WaitFailed, match="the object was deleted while waiting"):
        _run(FakeClock(), _wait(), Change("object", LISTED, (_job("1"),)), change)


def test_a_pod_that_cannot_pull_its_image_ends_the_wait_at_once_other_owners_pods_do_not() -> None:
    ours = wait.Pods.labelled(SELECTOR, owned=lambda name: name.startswith("mnist"))
    clock = FakeClock()
    with pytest.raises(wait.WaitFailed) as failed:
        _run(clock, _wait(ours), Change("object", LISTED, (_job(),)),
             Change("pods", LISTED, (_pod("mnist-worker-0", "Pending"), _pod("theirs-0", "Pending", "ErrImagePull"))),
             5.0, Change("pods", "MODIFIED", (_pod("mnist-worker-0", "Pending", "ImagePullBackOff"),)))  # fmt: skip
    assert str(failed.value) == ("TFJob ns/mnist to succeed cannot succeed: pod mnist-worker-0 container tensorflow: "
                                 "ImagePullBackOff: the image cannot be pulled (no such image)")  # fmt: skip
    assert clock.now == 1005


def test_a_pod_waits_own_object_is_its_pod() -> None:
    description = wait.Wait("pod ns/probe to complete", wait.Target(FakeLister(), "ns", "probe"), wait.pod_succeeded,
                            60, wait.pod_failure, wait.Pods.the_object())  # fmt: skip
    with pytest.raises(wait.WaitFailed, match="cannot succeed: pod probe container tensorflow: CrashLoopBackOff"):
        _run(FakeClock(), description, Change("object", LISTED, (_pod("probe", "Running", "CrashLoopBackOff"),)))


def test_a_controller_failing_to_create_the_pods_again_and_again_ends_the_wait() -> None:
    ours = wait.Pods.labelled(SELECTOR, owned=lambda name: name == "mnist")
    with pytest.raises(wait.WaitFailed) as failed:
        _run(FakeClock(), _wait(ours), Change("events", LISTED, (_warning(1), _warning(9, "theirs"))),
             Change("events", "MODIFIED", (_warning(2),)), Change("events", "MODIFIED", (_warning(3),)))  # fmt: skip
    assert str(failed.value) == ('TFJob ns/mnist to succeed cannot succeed: TFJob mnist cannot create its pods '
                                 '(3 times): Error creating: admission webhook "x" denied the request')  # fmt: skip


def test_the_deadline_ends_the_wait_with_what_was_seen_last_without_time_passing() -> None:
    clock = FakeClock()
    with pytest.raises(wait.WaitFailed) as failed:
        _run(clock, _wait(), Change("object", LISTED, (_job("1", "Created"),)),
             Change("pods", LISTED, (_pod("mnist-worker-0"),)))  # fmt: skip
    assert str(failed.value) == ("timed out after 60s waiting for TFJob ns/mnist to succeed; last seen: "
                                 "Created=True(Created); pods: mnist-worker-0 Running tensorflow=running")  # fmt: skip
    assert clock.now == 1060


def test_a_long_wait_prints_its_progress_every_30_seconds(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    with pytest.raises(wait.WaitFailed, match=r"^timed out"):
        _run(clock, _wait(progress=True), Change("object", LISTED, (_job("1", "Running"),)),
             Change("pods", LISTED, (_pod("mnist-worker-0"),)))  # fmt: skip
    lines = [line for line in capsys.readouterr().out.splitlines() if "waiting for" in line]
    assert lines == [
        f"kfcheck: {seconds}s waiting for TFJob ns/mnist to succeed: Running=True(Running); pods: mnist-worker-0 "
        "Running tensorflow=running; last log line: mnist-worker-0: epoch 3 of mnist-worker-0"
        for seconds in (30, 60)
    ]


def _kept_off_by_a_taint() -> Obj:
    taint = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: 1 node(s) had untolerated taint {x}."}  # fmt: skip
    return {"metadata": {"name": "mnist-worker-0"}, "status": {"phase": "Pending", "conditions": [taint]}}


@pytest.mark.parametrize("later", ["node.kubernetes.io/not-ready", "dedicated"])
def test_a_pod_kept_off_by_the_taints_of_nodes_not_ready_is_looked_at_again_as_the_nodes_change(later: str) -> None:
    """Nodes that have not reported yet are no cause; a taint that stays (from 20 s on) is, seen at the next
    look (30 s) although the pod itself does not change."""
    clock = FakeClock()

    def list_node() -> Any:
        key = "node.kubernetes.io/not-ready" if clock.now < 1020 else later
        return SimpleNamespace(items=[SimpleNamespace(spec=SimpleNamespace(taints=[SimpleNamespace(key=key)]))])

    feed = ScriptedFeed(clock, Change("pods", LISTED, (_kept_off_by_a_taint(),)))
    with pytest.raises(wait.WaitFailed) as failed:
        wait.until(_kube(list_node=list_node), _wait(), clock=clock, feed=feed)
    if later == "dedicated":
        assert str(failed.value).startswith("TFJob ns/mnist to succeed cannot succeed: pod mnist-worker-0 cannot be "
                                            "scheduled: 0/1 nodes are available")  # fmt: skip
        assert clock.now == 1030
    else:
        assert str(failed.value).startswith("timed out after 60s")


def test_the_wait_on_real_streams_and_threads_returns_the_object_and_closes_every_watch() -> None:
    pods = FakeLister(listing("5", _pod("mnist-worker-0")))
    events = FakeLister(listing("6"))
    jobs = FakeLister(listing("7", _job("7")), FakeResponse(lines=[event("MODIFIED", _job("8", "Succeeded"))]))
    target = wait.Target(jobs, "ns", "mnist")
    description = wait.Wait("TFJob ns/mnist to succeed", target, lambda job: wait.has_condition(job, "Succeeded"), 60,
                            _failed, wait.Pods.labelled(SELECTOR))  # fmt: skip
    found = wait.until(_kube(pods, events), description, clock=FakeClock())
    assert found["metadata"]["resourceVersion"] == "8"
    for lister in (pods, events):
        assert [bool(call.get("watch")) for call in lister.calls] in ([False], [False, True])
        assert all(silent.closed for silent in lister.silent), "a watch was left open"


def test_the_former_call_watches_a_pod_as_its_own_pod() -> None:
    failing = _pod("probe", "Running", "CreateContainerConfigError")
    kube = _kube(pods=FakeLister(listing("3", failing)), events=FakeLister(listing("4")))
    with pytest.raises(wait.WaitFailed, match="CreateContainerConfigError"):
        wait.wait_for(kube, "pod ns/probe to complete", kube.core.list_namespaced_pod, "ns", "probe",
                      done=wait.pod_succeeded, failed=wait.pod_failure, timeout=60)  # fmt: skip
    assert kube.core.list_namespaced_pod.calls[0]["field_selector"] == "metadata.name=probe"
    assert not any("label_selector" in call for call in kube.core.list_namespaced_pod.calls)


def test_a_wait_until_gone_returns_once_the_object_is_deleted_or_absent_and_times_out_if_it_stays() -> None:
    absent = FakeLister(listing("3"))
    wait.wait_until_gone(_kube(), "x to be gone", absent, "ns", "x", 60, clock=FakeClock())
    deleted = FakeLister(listing("3", obj("x", "2")), FakeResponse(lines=[event("DELETED", obj("x", "4"))]))
    wait.wait_until_gone(_kube(), "x to be gone", deleted, "ns", "x", 60, clock=FakeClock())
    assert [call.get("resource_version") for call in deleted.calls] == [None, "3"]
    clock = FakeClock()
    stays = FakeLister(listing("3", obj("x", "2", phase="Terminating")), FakeResponse(lasts=(clock, 61.0)))
    with pytest.raises(wait.WaitFailed) as failed:
        wait.wait_until_gone(_kube(), "x to be gone", stays, "ns", "x", 60, clock=clock)
    still = "it is still there: {'phase': 'Terminating'}"
    assert str(failed.value) == f"timed out after 60s waiting for x to be gone; {still}"
