"""The API server going away (connection refused or reset, 5xx, 429) is not a cause: waits, cleanups and
sweeps retry with backoff until their own deadline, and say how long the API was away (printed, and kept
in `outages` for the report). A create an admission webhook left without answer is tried again."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import TypeVar

import urllib3
from kubernetes.client.exceptions import ApiException

from kfcheck.core.kube import Kube
from kfcheck.core.waiting.clock import SYSTEM, Clock

T = TypeVar("T")
TRANSIENT_STATUSES = {429, 500, 502, 503, 504}
outages: list[str] = []  # what each outage was, for the step that saw it (taken by the radish hooks)
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 5.0


def is_transient(error: BaseException) -> bool:
    """An error that says the API server is away or busy, not that the request was wrong."""
    if isinstance(error, ApiException):
        return error.status in TRANSIENT_STATUSES
    return isinstance(error, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


class ApiAway:
    """Tracks one outage of the API server during a wait: backoff while away, a notice when it is back.

    Several streams of one wait may see the same outage (each names itself as `source`): it starts with the
    first failure and ends when every source that failed has had an answer again; each backs off on its own."""

    def __init__(self, what: str, kube: Kube | None = None, clock: Clock = SYSTEM) -> None:
        self.what, self.kube, self.clock = what, kube, clock
        self.since: float | None = None
        self.cause = ""
        self._pauses: dict[str, float] = {}  # the next pause of each source that failed and has not answered since
        self._lock = threading.Lock()

    def backoff(self, error: BaseException, deadline: float, source: str = "") -> float:
        """How long to pause (never past the deadline) after a transient error; re-raises any other error. A
        refusal (401/403) while the API server is not ready is transient too: a restarting server answers
        before its authorizer has read the RBAC objects."""
        if not is_transient(error) and not (self.kube is not None and _refused_while_starting(self.kube, error)):
            raise error
        with self._lock:
            if self.since is None:
                self.since, self.cause = self.clock.monotonic(), f"{error.__class__.__name__}: {str(error)[:160]}"
                print(f"kfcheck: the API server is not answering while {self.what} ({self.cause}); retrying",
                      flush=True)  # fmt: skip
            pause = self._pauses.get(source, FIRST_PAUSE)
            self._pauses[source] = min(pause * 2, LONGEST_PAUSE)
        return max(0.0, min(pause, deadline - self.clock.monotonic()))

    def failed(self, error: BaseException, deadline: float, source: str = "") -> None:
        """backoff(), then that pause slept."""
        self.clock.sleep(self.backoff(error, deadline, source))

    def answered(self, source: str = "") -> None:
        with self._lock:
            self._pauses.pop(source, None)
            if self.since is None or self._pauses:
                return
            notice = f"the API server was away for {self.clock.monotonic() - self.since:.1f}s while {self.what} " \
                     f"({self.cause})"  # fmt: skip
            self.since = None
        print(f"kfcheck: {notice}; went on", flush=True)
        outages.append(notice)

    def away_for(self) -> str:
        since = self.since
        if since is None:
            return ""
        return f"; the API server has not answered for {self.clock.monotonic() - since:.0f}s ({self.cause})"


def _refused_while_starting(kube: Kube, error: BaseException) -> bool:
    if not isinstance(error, ApiException) or error.status not in (401, 403):
        return False
    try:
        kube.api.call_api("/readyz", "GET", auth_settings=["BearerToken"], _request_timeout=5)
    except Exception:  # a server that is not ready answers /readyz with 500 (or not at all)
        return True
    return False


def retrying(what: str, call: Callable[[], T], timeout: float, kube: Kube | None = None, clock: Clock = SYSTEM) -> T:
    """call() retried through API server outages until the timeout; other errors are raised at once."""
    deadline, away = clock.monotonic() + timeout, ApiAway(what, kube, clock)
    while True:
        try:
            result = call()
        except Exception as error:
            if clock.monotonic() >= deadline:
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


def admitted(what: str, call: Callable[[], T], seconds: float = WEBHOOK_RETRY_SECONDS, clock: Clock = SYSTEM) -> T:
    """call() (a create) tried again while an admission webhook gives the API server no answer, for up to
    `seconds`: after a webhook's pods are replaced (an upgrade) the API server may still send to a connection
    of the old pod until its 10 s webhook timeout (kubernetes/kubernetes#127335). Nothing was stored then, so
    creating again is safe. A webhook's answer (a refusal) and every other error are raised at once; the
    time without an answer becomes a notice of the step (`outages`), so the report shows it."""
    deadline, silent_since, cause = clock.monotonic() + seconds, None, ""
    while True:
        attempt = clock.monotonic()
        try:
            result = call()
        except ApiException as error:
            silent = _WEBHOOK_NO_ANSWER.search(status_message(error)) if error.status == 500 else None
            if silent is None or clock.monotonic() >= deadline:
                raise
            silent_since = attempt if silent_since is None else silent_since
            cause = f"admission webhook {silent.group(1)} gave no answer ({silent.group(2)})"
            print(f"kfcheck: {cause} while {what}; trying again", flush=True)
            continue
        if silent_since is not None:
            notice = f"{cause} for {clock.monotonic() - silent_since:.1f}s while {what}; it answered when tried again"
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
