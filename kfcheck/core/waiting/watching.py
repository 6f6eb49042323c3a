"""What a wait's streams showed so far (the object as last seen, its pods, its objects' Warning events), each
change checked at once: done, failed, deleted, or a cause that will not go away by itself."""

from __future__ import annotations

from typing import Any

from kfcheck.core.kube import Kube
from kfcheck.core.waiting.causes import describe, event_problem, excused_by_nodes, pod_problems
from kfcheck.core.waiting.description import Wait, everything
from kfcheck.core.waiting.progress import pod_summary
from kfcheck.core.waiting.stream import LISTED, Change

OBJECT, PODS, EVENTS = "object", "pods", "events"  # the streams of a wait
Obj = dict[str, Any]


class WaitFailed(AssertionError):
    """A wait ended without its condition: a visible cause, or the deadline with the last state seen."""


class Watching:
    def __init__(self, wait: Wait, kube: Kube | None = None) -> None:
        self.wait, self.kube = wait, kube
        self.seen: Obj | None = None  # the object as last seen
        self.pods: dict[str, Obj] = {}
        self.pod_causes: dict[str, list[str]] = {}
        self.event_causes: dict[str, str] = {}

    def apply(self, change: Change) -> Obj | None:
        """The object once it is done; raises WaitFailed when it failed, is gone or cannot succeed."""
        if change.source == OBJECT:
            done = self._object(change)
            if done is not None:
                return done
        elif change.source == PODS:
            self._pods(change)
        elif change.source == EVENTS:
            self._events(change)
        self.raise_causes()
        return None

    def _object(self, change: Change) -> Obj | None:
        what, before = self.wait.what, self.seen
        if change.type == "DELETED" or (change.type == LISTED and not change.objects and before is not None):
            raise WaitFailed(f"{what}: the object was deleted while waiting")
        if change.type == LISTED and not change.objects:
            if self.wait.exists:
                raise WaitFailed(f"{what}: the object is gone (deleted before it got there)")
            return None
        self.seen = change.objects[-1]
        if self.wait.pods is not None and self.wait.pods.selector is None:  # the object is itself the pod
            self._pods(Change(PODS, LISTED, (self.seen,)))
        if self.wait.done(self.seen):
            return self.seen
        message = self.wait.failed(self.seen)
        if message:
            raise WaitFailed(f"{what}: {message}")
        return None

    def _pods(self, change: Change) -> None:
        if change.type == LISTED:
            self.pods, self.pod_causes = {}, {}
        owned = self.wait.pods.owned if self.wait.pods is not None else everything
        for pod in change.objects:
            name = str((pod.get("metadata") or {}).get("name"))
            if not owned(name):
                continue
            if change.type == "DELETED":
                self.pods.pop(name, None)
                self.pod_causes.pop(name, None)
            else:
                self.pods[name] = pod
                self.pod_causes[name] = pod_problems(pod, self.kube)

    def _events(self, change: Change) -> None:
        if change.type == LISTED:
            self.event_causes = {}
        owned = self.wait.pods.owned if self.wait.pods is not None else everything
        for event in change.objects:
            metadata = event.get("metadata") or {}
            key = str(metadata.get("uid") or metadata.get("name"))
            cause = None if change.type == "DELETED" else event_problem(event, owned)
            if cause is None:
                self.event_causes.pop(key, None)
            else:
                self.event_causes[key] = cause

    def excused(self) -> list[Obj]:
        """The pods that are unschedulable for a taint: a cause or not depending on the nodes."""
        return [pod for pod in self.pods.values() if excused_by_nodes(pod)]

    def recheck(self) -> None:
        """Looks again at the pods whose cause depends on the nodes (which change without the pod changing)."""
        excused = self.excused()
        if excused:
            self._pods(Change(PODS, "MODIFIED", tuple(excused)))
            self.raise_causes()

    def raise_causes(self) -> None:
        causes = [*self.event_causes.values(), *(cause for name in sorted(self.pod_causes)
                                                 for cause in self.pod_causes[name])]  # fmt: skip
        if causes:
            raise WaitFailed(f"{self.wait.what} cannot succeed: " + "; ".join(causes))

    def timed_out(self) -> str:
        pods = f"; pods: {pod_summary(self.pods.values())}" if self.wait.pods is not None else ""
        return f"timed out after {self.wait.timeout:.0f}s waiting for {self.wait.what}; last seen: " \
               f"{describe(self.seen)}{pods}"  # fmt: skip
