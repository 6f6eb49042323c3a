"""kfcheck.core.wait against the real cluster: a wait on an object that is already gone ends at once; a pod
whose image cannot be pulled ends its wait with that cause, seen on the pod's own watch; a wait is one list and
one watch per stream; the real API server's 410 Gone lists again, and a dropped watch resumes from the last
resourceVersion seen."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kfcheck.core import wait
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube, connect
from kfcheck.core.waiting.stream import LISTED, Change, Stream, _interrupt

from .conftest import Kubectl

pytestmark = pytest.mark.cluster


@pytest.fixture
def kube(kubeconfig: str) -> Kube:
    return connect(Settings.from_user_data({"kubeconfig": kubeconfig}))


class Counted:
    """A list function that records each request's arguments."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls: list[dict[str, Any]] = []

    def __call__(self, namespace: str, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return self.function(namespace, **kwargs)

    def kinds(self) -> list[str]:
        return [f"watch@{c.get('resource_version')}" if c.get("watch") else "list" for c in self.calls]


def _pod(name: str, image: str, script: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": image, "command": ["sh", "-c", script]}]}}  # fmt: skip


def test_a_wait_for_a_pod_that_is_gone_ends_at_once(kubectl: Kubectl, kube: Kube) -> None:
    target = wait.Target(kube.core.list_namespaced_pod, kubectl.namespace, "no-such-pod")
    with pytest.raises(wait.WaitFailed, match="the object is gone"):
        wait.until(kube, wait.Wait("a deleted pod to complete", target, lambda _pod: True, 120, exists=True))


def test_a_pod_whose_image_cannot_be_pulled_ends_its_wait_with_the_cause(kubectl: Kubectl, kube: Kube) -> None:
    kube.core.create_namespaced_pod(kubectl.namespace, _pod("unpullable", "127.0.0.1:5000/no-such-image:1", "true"))
    target = wait.Target(kube.core.list_namespaced_pod, kubectl.namespace, "unpullable")
    description = wait.Wait("pod unpullable to complete", target, wait.pod_succeeded, 240, wait.pod_failure,
                            wait.Pods.the_object())  # fmt: skip
    with pytest.raises(wait.WaitFailed) as failed:
        wait.until(kube, description)
    assert "cannot succeed: pod unpullable container main: " in str(failed.value), failed.value
    assert "the image cannot be pulled" in str(failed.value), failed.value


def test_a_wait_is_one_list_and_one_watch_of_each_stream(kubectl: Kubectl, kube: Kube, settings: Settings) -> None:
    """A pod that runs 20 s, waited on as a job is (its pods by label): each stream lists once and watches once."""
    kube.core.create_namespaced_pod(kubectl.namespace, _pod("sleeper", settings.busybox_image, "sleep 20"))
    pods, events = Counted(kube.core.list_namespaced_pod), Counted(kube.core.list_namespaced_event)
    watched = Kube(kube.api, type(kube.core)(kube.api), kube.apps, kube.custom, kube.dynamic)
    watched.core.list_namespaced_pod, watched.core.list_namespaced_event = pods, events
    target = wait.Target(Counted(kube.core.list_namespaced_pod), kubectl.namespace, "sleeper")
    description = wait.Wait("pod sleeper to complete", target, wait.pod_succeeded, 240, wait.pod_failure,
                            wait.Pods.labelled("app=sleeper"), progress=True)  # fmt: skip
    found = wait.until(watched, description)
    assert found["status"]["phase"] == "Succeeded"
    for counted in (target.list_function, pods, events):
        assert isinstance(counted, Counted)
        kinds = counted.kinds()
        assert kinds[0] == "list" and len(kinds) == 2 and kinds[1].startswith("watch@"), kinds
        assert counted.calls[1]["allow_watch_bookmarks"] is True


def _changes(stream: Stream) -> Iterator[Change]:
    """The stream's changes, read by a thread of their own as a wait reads them."""
    found: list[Change] = []
    ready = threading.Condition()

    def read() -> None:
        for change in stream.changes():
            with ready:
                found.append(change)
                ready.notify()

    threading.Thread(target=read, daemon=True).start()
    for index in itertools.count():
        with ready:
            assert ready.wait_for(lambda: len(found) > index, timeout=120), f"no change after {found}"  # noqa: B023
            yield found[index]


def test_410_gone_from_the_real_api_server_lists_again(kubectl: Kubectl, kube: Kube) -> None:
    pods = Counted(kube.core.list_namespaced_pod)
    away = wait.ApiAway("watching pods", kube)
    stream = Stream("pods", pods, kubectl.namespace, {"label_selector": "app=x"}, away, 1e12)
    stream.version = "1"  # long compacted: the server answers 410 Gone
    try:
        changes = _changes(stream)
        assert next(changes).type == LISTED
    finally:
        stream.stop()
    assert pods.kinds()[:2] == ["watch@1", "list"], pods.kinds()


def test_a_dropped_watch_resumes_from_the_last_resource_version_seen(kubectl: Kubectl, kube: Kube) -> None:
    """ConfigMaps, which do not change once made: the watch is cut after the first one's ADDED and resumes from
    its resourceVersion (or a later bookmark's), without listing again; the second one's ADDED comes through."""
    configmaps = Counted(kube.core.list_namespaced_config_map)
    stream = Stream("configmaps", configmaps, kubectl.namespace, {"label_selector": "app=dropped"},
                    wait.ApiAway("watching configmaps", kube), 1e12)  # fmt: skip

    def make(name: str) -> None:
        body = {"metadata": {"name": name, "labels": {"app": "dropped"}}, "data": {"k": "v"}}
        kube.core.create_namespaced_config_map(kubectl.namespace, body)

    try:
        changes = _changes(stream)
        assert next(changes).type == LISTED
        make("first")
        first = next(changes)
        assert first.type == "ADDED"
        _interrupt(stream._response)  # the connection drops, as a restarted load balancer drops it
        make("second")
        second = next(changes)
    finally:
        stream.stop()
    assert (second.type, second.objects[0]["metadata"]["name"]) == ("ADDED", "second")
    kinds = configmaps.kinds()
    assert kinds[0] == "list" and "list" not in kinds[1:] and len(kinds) >= 3, kinds
    resumed = int(configmaps.calls[2]["resource_version"])
    assert resumed >= int(first.objects[0]["metadata"]["resourceVersion"]), kinds
