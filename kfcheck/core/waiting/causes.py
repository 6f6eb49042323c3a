"""What a wait's pods and Warning events show that will not resolve by itself (an image that cannot be
pulled, a crash loop, a bad container config, a pod that cannot be scheduled, a controller that keeps failing
to create its pods or a claim's volume), and the conditions waits share. Objects are dicts as the API server
sends them (camelCase), as a watch delivers them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core.kube import Kube

Obj = dict[str, Any]

FATAL_WAITING_REASONS = {
    "ErrImagePull": "the image cannot be pulled",
    "ImagePullBackOff": "the image cannot be pulled",
    "InvalidImageName": "the image name is invalid",
    "CrashLoopBackOff": "a container keeps crashing",
    "CreateContainerConfigError": "a container's configuration is invalid (missing Secret/ConfigMap key?)",
    "CreateContainerError": "a container cannot be created",
}
FAILED_CREATE_REPEATS = 3  # a controller that failed this often will not succeed by itself
REPEATED_FAILURES = {
    "FailedCreate": "cannot create its pods",  # Kubernetes' own controllers (the Jobs of Trainer's JobSets)
    "FailedCreatePod": "cannot create its pods",  # the training operator, for PyTorchJob and TFJob replicas
    "ProvisioningFailed": "cannot get a volume",
}


def event_problem(event: Obj, owned: Callable[[str], bool] = lambda _name: True) -> str | None:
    """A Warning event of a controller that keeps failing to create the (owned) object's pods (a webhook that
    refuses or does not answer, a quota) or a claim's volume (no StorageClass offers its access mode)."""
    involved = event.get("involvedObject") or {}
    count, reason, message = event.get("count") or 1, event.get("reason"), event.get("message") or ""
    if count < FAILED_CREATE_REPEATS or reason not in REPEATED_FAILURES or not owned(str(involved.get("name"))):
        return None
    if _passing_failure(message):
        return None
    return f"{involved.get('kind')} {involved.get('name')} {REPEATED_FAILURES[str(reason)]} ({count} times): {message}"


def pod_problems(pod: Obj, kube: Kube | None = None) -> list[str]:
    """Problems of one pod that will not resolve by themselves. With `kube`, a pod kept off nodes only by the
    taints of nodes that have not reported yet is not stuck (they lift by themselves)."""
    name, status = (pod.get("metadata") or {}).get("name"), pod.get("status") or {}
    problems = []
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in FATAL_WAITING_REASONS:
            problems.append(
                f"pod {name} container {container.get('name')}: {waiting['reason']}: "
                f"{FATAL_WAITING_REASONS[waiting['reason']]} ({(waiting.get('message') or '').strip()[:300]})"
            )
    for condition in status.get("conditions") or []:
        message = condition.get("message") or ""
        unschedulable = condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable"
        if unschedulable and condition.get("status") == "False" and not _waits_for_volume(message):
            if "untolerated taint" in message and kube is not None and _nodes_only_not_ready(kube):
                continue
            problems.append(f"pod {name} cannot be scheduled: {message}")
    return problems


def excused_by_nodes(pod: Obj) -> bool:
    """Whether the pod is unschedulable for a taint: whether that is a cause depends on the nodes, which change
    without the pod changing, so such a pod is looked at again now and then."""
    return any(
        c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" and c.get("status") == "False"
        and "untolerated taint" in (c.get("message") or "")
        for c in (pod.get("status") or {}).get("conditions") or []
    )  # fmt: skip


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


def pod_succeeded(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def pod_failure(pod: Obj) -> str | None:
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


def describe(obj: Obj | None) -> str:
    if obj is None:
        return "nothing (the object never appeared)"
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    if conditions:
        return ", ".join(f"{c.get('type')}={c.get('status')}({c.get('reason', '')})" for c in conditions)
    return str({key: status[key] for key in list(status)[:6]}) if status else "no status yet"


def has_condition(obj: Obj, condition_type: str, status: str = "True") -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == status
        for c in (obj.get("status") or {}).get("conditions") or []
    )
