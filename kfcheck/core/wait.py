"""The one place that waits (`from kfcheck.core import wait`); the parts live in kfcheck/core/waiting/.

    wait.until(kube, wait.Wait("PyTorchJob ns/x to succeed", wait.Target(lister, "ns", "x"), done=..., timeout=...,
                               failed=..., pods=wait.Pods.labelled("training.kubeflow.org/job-name=x", scenario.owns)))

A wait lists its object once and then watches it from that list's resourceVersion (resumed after a dropped
connection, listed again only on 410 Gone); its pods (by their labels) and the namespace's Warning events are
watched the same way, so a cause that will not go away by itself (an image that cannot be pulled, a crash loop,
a bad container config, a pod that cannot be scheduled, a controller that keeps failing to create its pods)
ends the wait at once. A timeout reports what was last seen of the object and of its pods. The API server going
away is not a cause: it is ridden out until the deadline and reported (`take_outages`).
"""

from kfcheck.core.waiting.causes import (
    FAILED_CREATE_REPEATS,
    FATAL_WAITING_REASONS,
    REPEATED_FAILURES,
    describe,
    event_problem,
    has_condition,
    pod_failure,
    pod_problems,
    pod_succeeded,
)
from kfcheck.core.waiting.clock import SYSTEM, Clock, SystemClock
from kfcheck.core.waiting.description import Pods, Target, Wait, everything, never_failed
from kfcheck.core.waiting.outages import (
    TRANSIENT_STATUSES,
    WEBHOOK_RETRY_SECONDS,
    ApiAway,
    admitted,
    is_transient,
    outages,
    retrying,
    status_message,
    take_outages,
)
from kfcheck.core.waiting.progress import Progress, pod_summary
from kfcheck.core.waiting.run import until, wait_for, wait_until_gone
from kfcheck.core.waiting.watching import WaitFailed

__all__ = [
    "FAILED_CREATE_REPEATS", "FATAL_WAITING_REASONS", "REPEATED_FAILURES", "SYSTEM", "TRANSIENT_STATUSES",
    "WEBHOOK_RETRY_SECONDS", "ApiAway", "Clock", "Pods", "Progress", "SystemClock", "Target", "Wait", "WaitFailed",
    "admitted", "describe", "event_problem", "everything", "has_condition", "is_transient", "never_failed", "outages",
    "pod_failure", "pod_problems", "pod_succeeded", "pod_summary", "retrying", "status_message", "take_outages",
    "until", "wait_for", "wait_until_gone",
]  # fmt: skip
