"""The waits: `until(kube, Wait(...))` watches one object (and its pods and their Warning events) until it is
done, failed, gone, shows a cause, or its deadline passes; `wait_until_gone` until an object is gone.

Each stream is one list and then one watch from its resourceVersion (`stream`), so a 30-minute wait costs a
handful of requests, not a list of the namespace's pods and events every few seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kfcheck.core.kube import Kube
from kfcheck.core.waiting.causes import describe
from kfcheck.core.waiting.clock import SYSTEM, Clock
from kfcheck.core.waiting.description import Pods, Target, Wait, everything, never_failed
from kfcheck.core.waiting.feed import Feed, ThreadFeed
from kfcheck.core.waiting.outages import ApiAway
from kfcheck.core.waiting.progress import Progress
from kfcheck.core.waiting.stream import LISTED, Stream
from kfcheck.core.waiting.watching import EVENTS, OBJECT, PODS, WaitFailed, Watching

Obj = dict[str, Any]
RECHECK_SECONDS = 30.0  # how often pods whose cause depends on the nodes are looked at again


def streams(kube: Kube, wait: Wait, away: ApiAway, deadline: float, clock: Clock = SYSTEM) -> list[Stream]:
    """The object by its name; its pods by their labels (none if it is the pod); the namespace's Warning events
    (events carry no labels: their objects are told apart by name, `Pods.owned`)."""
    target = wait.target
    found = [Stream(OBJECT, target.list_function, target.namespace, {"field_selector": f"metadata.name={target.name}"},
                    away, deadline, clock)]  # fmt: skip
    if wait.pods is not None:
        if wait.pods.selector is not None:
            found.append(Stream(PODS, kube.core.list_namespaced_pod, target.namespace,
                                {"label_selector": wait.pods.selector}, away, deadline, clock))  # fmt: skip
        found.append(Stream(EVENTS, kube.core.list_namespaced_event, target.namespace,
                            {"field_selector": "type=Warning"}, away, deadline, clock))  # fmt: skip
    return found


def until(kube: Kube, wait: Wait, clock: Clock = SYSTEM, feed: Feed | None = None) -> Obj:
    """Watches the wait's object until wait.done(obj) holds; returns it (as a dict). A failure it shows, its
    deletion, a cause its pods show, or the deadline end the wait with WaitFailed; API server outages are
    ridden out until the deadline. `feed` replaces the watches (unit tests)."""
    deadline = clock.monotonic() + wait.timeout
    away = ApiAway(f"waiting for {wait.what}", kube, clock)
    feed = feed if feed is not None else ThreadFeed(streams(kube, wait, away, deadline, clock))
    watching, progress = Watching(wait, kube), Progress(clock) if wait.progress else None
    recheck = clock.monotonic() + RECHECK_SECONDS
    try:
        while True:
            now = clock.monotonic()
            if now >= deadline:
                raise WaitFailed(watching.timed_out() + away.away_for())
            if now >= recheck:
                watching.recheck()
                recheck = now + RECHECK_SECONDS
            pause = min(deadline, recheck if watching.excused() else deadline) - now
            change = feed.next(min(pause, progress.due_in()) if progress is not None else pause)
            found = watching.apply(change) if change is not None else None
            if found is not None:
                return found
            if progress is not None:
                progress.tick(kube, wait.what, watching.seen, list(watching.pods.values()))
    finally:
        feed.close()


def wait_until_gone(kube: Kube, what: str, list_function: Callable[..., Any], namespace: str, name: str,
                    timeout: float, clock: Clock = SYSTEM) -> None:  # fmt: skip
    """Watches one object until it does not exist (already absent: returns at once)."""
    deadline = clock.monotonic() + timeout
    away = ApiAway(f"waiting for {what}", kube, clock)
    stream = Stream(OBJECT, list_function, namespace, {"field_selector": f"metadata.name={name}"}, away, deadline,
                    clock)  # fmt: skip
    last_seen: Obj | None = None
    try:
        for change in stream.changes():
            if change.type == "DELETED" or (change.type == LISTED and not change.objects):
                return
            last_seen = change.objects[-1]
    finally:
        stream.stop()
    raise WaitFailed(f"timed out after {timeout:.0f}s waiting for {what}; it is still there: {describe(last_seen)}"
                     + away.away_for())  # fmt: skip


def wait_for(
    kube: Kube,
    what: str,
    list_function: Callable[..., Any],
    namespace: str,
    name: str,
    *,
    done: Callable[[Obj], bool],
    timeout: float,
    failed: Callable[[Obj], str | None] = never_failed,
    watch_pods: bool = True,
    exists: bool = False,
    owned: Callable[[str], bool] = everything,
) -> Obj:
    """The former call, for callers not yet moved to until(kube, Wait(...)): the pods of a pod's wait are the
    pod itself; of another object's (watch_pods), every pod of the namespace that `owned` accepts by name."""
    pods = None
    if watch_pods:
        pods = Pods.the_object(owned) if list_function == kube.core.list_namespaced_pod else Pods("", owned)
    return until(kube, Wait(what, Target(list_function, namespace, name), done, timeout, failed, pods, exists))
