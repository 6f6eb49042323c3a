"""The one place that waits: a watch on the object with a deadline, re-opened when the watch expires.

Between watch events (at most every `probe_seconds`) the pods of the namespace are checked for
causes that will not go away by themselves: an image that cannot be pulled, a crash loop, a bad
container config. Those end the wait at once with the cause, instead of at the deadline. A timeout
reports what was last seen of the object and of its pods.

The API server going away (connection refused or reset, 5xx, 429) is not a cause: waits, cleanups and
sweeps retry with backoff until their own deadline, and say how long the API was away (printed, and kept
in `outages` for the report).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import urllib3
from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from kfcheck.core.kube import Kube

T = TypeVar("T")
TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
outages: list[str] = []  # what each outage was, for the step that saw it (taken by the radish hooks)


def is_transient(error: BaseException) -> bool:
    """An error that says the API server is away or busy, not that the request was wrong."""
    if isinstance(error, ApiException):
        return error.status in TRANSIENT_STATUSES
    return isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


class ApiAway:
    """Tracks one outage of the API server during a wait: backoff while away, a notice when it is back."""

    def __init__(self, what: str, kube: Kube | None = None) -> None:
        self.what, self.since, self.cause, self.pause, self.kube = what, 0.0, "", 0.5, kube

    def failed(self, error: BaseException, deadline: float) -> None:
        """Sleeps a backoff (never past the deadline) after a transient error; re-raises any other error. A
        refusal (401/403) while the API server is not ready is transient too: a restarting server answers
        before its authorizer has read the RBAC objects."""
        if not is_transient(error) and not (self.kube is not None and _refused_while_starting(self.kube, error)):
            raise error
        if not self.since:
            self.since, self.cause = time.monotonic(), f"{error.__class__.__name__}: {str(error)[:160]}"
            print(f"kfcheck: the API server is not answering while {self.what} ({self.cause}); retrying", flush=True)
        time.sleep(max(0.0, min(self.pause, deadline - time.monotonic())))
        self.pause = min(self.pause * 2, 5.0)

    def answered(self) -> None:
        if self.since:
            notice = (
                f"the API server was away for {time.monotonic() - self.since:.1f}s while {self.what} ({self.cause})"
            )
            print(f"kfcheck: {notice}; went on", flush=True)
            outages.append(notice)
            self.since, self.pause = 0.0, 0.5

    def away_for(self) -> str:
        return (
            f"; the API server has not answered for {time.monotonic() - self.since:.0f}s ({self.cause})"
            if self.since
            else ""
        )


def _refused_while_starting(kube: Kube, error: BaseException) -> bool:
    if not isinstance(error, ApiException) or error.status not in (401, 403):
        return False
    try:
        kube.api.call_api("/readyz", "GET", auth_settings=["BearerToken"], _request_timeout=5)
    except Exception:  # a server that is not ready answers /readyz with 500 (or not at all)
        return True
    return False


def retrying(what: str, call: Callable[[], T], timeout: float, kube: Kube | None = None) -> T:
    """call() retried through API server outages until the timeout; other errors are raised at once."""
    deadline, away = time.monotonic() + timeout, ApiAway(what, kube)
    while True:
        try:
            result = call()
        except Exception as error:
            if time.monotonic() >= deadline:
                raise
            away.failed(error, deadline)
            continue
        away.answered()
        return result


# The API server's 500 when an admission webhook gave no answer (it answers a refusal with a 4xx instead).
# "no endpoints available" is not among them: no pod serves the webhook, a cause that is there to see.
_WEBHOOK_NO_ANSWER = re.compile(
    r'failed calling webhook "([^"]+)": failed to call webhook: .*(context deadline exceeded|connection refused|'
    r"connection reset|i/o timeout|no route to host|EOF)"
)
WEBHOOK_RETRY_SECONDS = 60.0


def admitted(what: str, call: Callable[[], T], seconds: float = WEBHOOK_RETRY_SECONDS) -> T:
    """call() (a create) tried again while an admission webhook gives the API server no answer, for up to
    `seconds`: after a webhook's pods are replaced (an upgrade) the API server may still send to a connection
    of the old pod until its 10 s webhook timeout (kubernetes/kubernetes#127335). Nothing was stored then, so
    creating again is safe. A webhook's answer (a refusal) and every other error are raised at once; the
    time without an answer becomes a notice of the step (`outages`), so the report shows it."""
    deadline, silent_since, cause = time.monotonic() + seconds, 0.0, ""
    while True:
        attempt = time.monotonic()
        try:
            result = call()
        except ApiException as error:
            silent = _WEBHOOK_NO_ANSWER.search(status_message(error)) if error.status == 500 else None
            if silent is None or time.monotonic() >= deadline:
                raise
            silent_since = silent_since or attempt
            cause = f"admission webhook {silent.group(1)} gave no answer ({silent.group(2)})"
            print(f"kfcheck: {cause} while {what}; trying again", flush=True)
            continue
        if silent_since:
            notice = f"{cause} for {time.monotonic() - silent_since:.1f}s while {what}; it answered when tried again"
            print(f"kfcheck: {notice}", flush=True)
            outages.append(notice)
        return result


def status_message(error: ApiException) -> str:
    """The message of the API server's Status in an error's body (bytes or text), or the body as it is."""
    body = error.body.decode(errors="replace") if isinstance(error.body, bytes) else str(error.body or "")
    try:
        return str(json.loads(body).get("message", body))
    except (ValueError, AttributeError):
        return body


def take_outages() -> list[str]:
    taken = list(outages)
    outages.clear()
    return taken


FATAL_WAITING_REASONS = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CrashLoopBackOff": "a container keeps crashing",
    "CreateContainerConfigError": "a container's configuration is invalid (missing Secret/ConfigMap key?)",
    "CreateContainerError": "a container cannot be created",
}


class WaitFailed(AssertionError):
    """A wait ended without its condition: a visible cause, or the deadline with the last state seen."""


FAILED_CREATE_REPEATS = 3  # a controller that failed this often will not succeed by itself
REPEATED_FAILURES = {
    "FailedCreate": "cannot create its pods",  # Kubernetes' own controllers (the Jobs of Trainer's JobSets)
    "FailedCreatePod": "cannot create its pods",  # the training operator, for PyTorchJob and TFJob replicas
    "ProvisioningFailed": "cannot get a volume",
}


def pod_problems(kube: Kube, namespace: str, owned: Callable[[str], bool] = lambda _name: True) -> list[str]:
    """Problems of the (owned) pods in the namespace that will not resolve by themselves, and of controllers
    that keep failing to create their pods (a webhook that refuses or does not answer, a quota) or a claim's
    volume (no StorageClass offers its access mode)."""
    problems = []
    for event in kube.core.list_namespaced_event(namespace, field_selector="type=Warning").items:
        repeated = (event.count or 1) >= FAILED_CREATE_REPEATS and owned(event.involved_object.name)
        if repeated and event.reason in REPEATED_FAILURES and not _passing_failure(event.message or ""):
            subject = f"{event.involved_object.kind} {event.involved_object.name}"
            problems.append(f"{subject} {REPEATED_FAILURES[event.reason]} ({event.count} times): {event.message}")
    for pod in kube.core.list_namespaced_pod(namespace).items:
        if not owned(pod.metadata.name):
            continue
        statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
        for status in statuses:
            waiting = status.state.waiting if status.state else None
            if waiting and waiting.reason in FATAL_WAITING_REASONS:
                problems.append(
                    f"pod {pod.metadata.name} container {status.name}: {waiting.reason}: "
                    f"{FATAL_WAITING_REASONS[waiting.reason]} ({(waiting.message or '').strip()[:300]})"
                )
        for condition in pod.status.conditions or []:
            unschedulable = condition.type == "PodScheduled" and condition.reason == "Unschedulable"
            if unschedulable and condition.status == "False" and not _waits_for_volume(condition.message or ""):
                if "untolerated taint" in (condition.message or "") and _nodes_only_not_ready(kube):
                    continue
                problems.append(f"pod {pod.metadata.name} cannot be scheduled: {condition.message}")
    return problems


# A Go client's error for a request that got no answer at all: `Post "https://10.96.0.1:443/...": dial tcp ...`.
_NO_ANSWER = re.compile(r'^(?:Error creating: )?(?:Get|Post|Put|Patch|Delete) "https?://[^"]+": ')


# API server answers that a controller's retry gets past: its cache lagging behind the server (after an
# outage it re-creates what exists), a conflict, the server overloaded or still starting.
_PASSING_ANSWERS = (
    "already exists",
    "the object has been modified",
    "please try again",
    "etcdserver: ",
    "the server is currently unable to handle the request",
    "unable to return a response in the time allotted",
    "too many requests",
    "request did not complete within requested timeout",
)


def _passing_failure(message: str) -> bool:
    """A failure to create that says nothing about what is created and ends by itself: the controller could
    not reach the API server (it was away: restarted, an outage), or the server's answer is one a retry gets
    past. A refusal (a webhook that denies or does not answer, a quota, an invalid object) stays a cause."""
    return bool(_NO_ANSWER.match(message)) or any(answer in message.lower() for answer in _PASSING_ANSWERS)


NODE_CONDITION_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _waits_for_volume(message: str) -> bool:
    """A pod unschedulable only until its claim exists in the scheduler's cache or is bound: not a cause."""
    return "persistentvolumeclaim" in message.lower() or "unbound" in message.lower()


def _nodes_only_not_ready(kube: Kube) -> bool:
    """Every tainted node carries only the taints the node controller sets while a kubelet has not reported
    (after an API server outage, say): they lift by themselves, so a pod they keep off is not stuck."""
    try:
        nodes = kube.core.list_node().items
    except ApiException:  # a Profile user may not read nodes: the taint then counts as the cause, as before
        return False
    tainted = [node.spec.taints for node in nodes if node.spec.taints]
    return bool(tainted) and all(taint.key in NODE_CONDITION_TAINTS for taints in tainted for taint in taints)


def pod_succeeded(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def pod_failure(pod: dict[str, Any]) -> str | None:
    """The one "this pod failed" detector: phase Failed, with each container's reason and exit code."""
    status = pod.get("status") or {}
    if status.get("phase") != "Failed":
        return None
    reasons = [
        f"{c.get('name')}: {c.get('state', {}).get('terminated', {}).get('reason')} "
        f"(exit {c.get('state', {}).get('terminated', {}).get('exitCode')})"
        for c in status.get("containerStatuses") or []
    ]
    return f"pod {(pod.get('metadata') or {}).get('name')} failed: " + "; ".join(reasons or [str(status.get("reason"))])


class Progress:
    """What a long wait prints at a steady pace: elapsed time, the object's state, its pods' states and the
    last line one of them logged, so a 30-minute training wait is never silent."""

    def __init__(self, pod_selector: str, every: float = 30.0) -> None:
        self.pod_selector, self.every, self.started = pod_selector, every, time.monotonic()
        self.last = self.started

    def tick(self, kube: Kube, namespace: str, what: str, last_seen: dict[str, Any] | None) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        try:
            pods = pod_summary(kube, namespace, self.pod_selector)
            line = self._last_log_line(kube, namespace)
        except Exception as error:
            if not is_transient(error):
                raise
            pods, line = "(the API server does not answer)", ""
        print(f"kfcheck: {now - self.started:.0f}s waiting for {what}: {describe(last_seen)}; pods: {pods}"
              + (f"; last log line: {line}" if line else ""), flush=True)  # fmt: skip

    def _last_log_line(self, kube: Kube, namespace: str) -> str:
        for pod in kube.core.list_namespaced_pod(namespace, label_selector=self.pod_selector).items:
            if pod.status.phase == "Running":
                text = kube.core.read_namespaced_pod_log(pod.metadata.name, namespace, tail_lines=1)
                return f"{pod.metadata.name}: {text.strip()[:200]}"
        return ""


def pod_summary(kube: Kube, namespace: str, label_selector: str = "") -> str:
    lines = []
    for pod in kube.core.list_namespaced_pod(namespace, label_selector=label_selector).items:
        states = []
        for status in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
            state = status.state
            if state.waiting:
                states.append(f"{status.name}=waiting:{state.waiting.reason}")
            elif state.terminated:
                states.append(f"{status.name}=terminated:{state.terminated.reason}({state.terminated.exit_code})")
            elif state.running:
                states.append(f"{status.name}=running")
        lines.append(f"{pod.metadata.name} {pod.status.phase} {' '.join(states)}")
    return "; ".join(lines) or "(no pods)"


def wait_for(
    kube: Kube,
    what: str,
    list_function: Callable[..., Any],
    namespace: str,
    name: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float,
    failed: Callable[[dict[str, Any]], str | None] = lambda _obj: None,
    probe_seconds: int = 3,
    watch_pods: bool = True,
    exists: bool = False,
    progress: Progress | None = None,
    owned: Callable[[str], bool] = lambda _name: True,
) -> dict[str, Any]:
    """Watches one object until done(obj) holds; returns it (as a dict).

    list_function(namespace, **kwargs) lists the object's kind in a namespace (the watch's source).

    failed(obj) returning a message ends the wait with it (e.g. a job condition Failed). With exists=True
    the object is known to exist already, so finding it gone ends the wait at once. `progress` prints how
    the wait goes at a steady pace. `owned` tells the scenario's pods from others' in a shared namespace.
    """
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any] | None] = [None]  # the last state of the object the watches saw
    away = ApiAway(f"waiting for {what}", kube)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pods = _pods_if_answering(kube, namespace) if watch_pods else ""
            raise WaitFailed(
                f"timed out after {timeout:.0f}s waiting for {what}; last seen: {describe(seen[0])}"
                + (f"; pods: {pods}" if pods else "")
                + away.away_for()
            )
        try:
            seconds = max(1, min(probe_seconds, int(remaining)))
            target = _Target(what, list_function, namespace, name, done, failed)
            found = _watch_once(kube, target, seconds, away, seen)
            if found is not None:
                return found
            problems = pod_problems(kube, namespace, owned) if watch_pods else []
            if problems:
                raise WaitFailed(f"{what} cannot succeed: " + "; ".join(problems))
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the watch's resourceVersion expired; re-list
                away.failed(error, deadline)
            continue
        except (urllib3.exceptions.HTTPError, OSError) as error:
            away.failed(error, deadline)
            continue
        away.answered()
        if exists and seen[0] is None:  # a watch starts with the object itself when it exists
            raise WaitFailed(f"{what}: the object is gone (deleted before it got there)")
        if progress is not None:
            progress.tick(kube, namespace, what, seen[0])


@dataclass(frozen=True)
class _Target:
    what: str
    list_function: Callable[..., Any]
    namespace: str
    name: str
    done: Callable[[dict[str, Any]], bool]
    failed: Callable[[dict[str, Any]], str | None]


def _watch_once(
    kube: Kube, target: _Target, seconds: int, away: ApiAway, seen: list[dict[str, Any] | None]
) -> dict[str, Any] | None:
    """One watch of the object for up to `seconds`: the object once done(obj) holds, else None. The last
    state seen is kept in seen[0]; a failure the object shows, or its deletion, ends the wait."""
    what, done, failed = target.what, target.done, target.failed
    stream = watch.Watch()
    for event in stream.stream(
        target.list_function,
        target.namespace,
        field_selector=f"metadata.name={target.name}",
        timeout_seconds=seconds,
        _request_timeout=seconds + 30,  # a server that stopped answering mid-watch is an outage
    ):
        away.answered()
        obj = event["object"]
        seen[0] = current = obj if isinstance(obj, dict) else kube.api.sanitize_for_serialization(obj)
        if event["type"] == "DELETED":
            raise WaitFailed(f"{what}: the object was deleted while waiting")
        if done(current):
            stream.stop()
            return current
        message = failed(current)
        if message:
            stream.stop()
            raise WaitFailed(f"{what}: {message}")
    return None


def _pods_if_answering(kube: Kube, namespace: str) -> str:
    try:
        return pod_summary(kube, namespace)
    except Exception as error:
        if not is_transient(error):
            raise
        return "(not known: the API server does not answer)"


def describe(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return "nothing (the object never appeared)"
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    if conditions:
        return ", ".join(f"{c.get('type')}={c.get('status')}({c.get('reason', '')})" for c in conditions)
    return str({key: status[key] for key in list(status)[:6]}) if status else "no status yet"


def has_condition(obj: dict[str, Any], condition_type: str, status: str = "True") -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == status
        for c in (obj.get("status") or {}).get("conditions") or []
    )


def wait_until_gone(
    kube: Kube, what: str, list_function: Callable[..., Any], namespace: str, name: str, timeout: float
) -> None:
    """Watches one object until it does not exist (already absent: returns at once)."""
    deadline = time.monotonic() + timeout
    field_selector = f"metadata.name={name}"
    last_seen: dict[str, Any] | None = None
    while True:
        listing = list_function(namespace, field_selector=field_selector)
        items = listing["items"] if isinstance(listing, dict) else listing.items
        if not items:
            return
        if last_seen is None:
            last_seen = items[0] if isinstance(items[0], dict) else kube.api.sanitize_for_serialization(items[0])
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitFailed(
                f"timed out after {timeout:.0f}s waiting for {what}; it is still there: {describe(last_seen)}"
            )
        version = (
            listing["metadata"]["resourceVersion"] if isinstance(listing, dict) else listing.metadata.resource_version
        )
        stream = watch.Watch()
        try:
            window = max(1, min(10, int(remaining)))
            for event in stream.stream(list_function, namespace, field_selector=field_selector,
                                       resource_version=version, timeout_seconds=window):  # fmt: skip
                obj = event["object"]
                last_seen = obj if isinstance(obj, dict) else kube.api.sanitize_for_serialization(obj)
                if event["type"] == "DELETED":
                    stream.stop()
                    return
        except ApiException as error:
            if error.status != 410:  # 410 Gone: the watch's resourceVersion expired; list again
                raise
