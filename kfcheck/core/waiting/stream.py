"""One real watch: the objects a selector finds are listed once, then watched from the list's resourceVersion
with bookmarks (the server moves the resourceVersion on while nothing changes). A dropped connection resumes
from the last resourceVersion seen; only 410 Gone (that resourceVersion expired) lists again. An API server
that does not answer is an outage (`outages.ApiAway`): backoff, a notice when it is back."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from kfcheck.core.waiting.clock import SYSTEM, Clock
from kfcheck.core.waiting.outages import ApiAway

LISTED = "LISTED"
WATCH_SECONDS = 1800  # the longest one watch request lasts (a longer wait resumes it from its resourceVersion)
READ_SECONDS = 300  # a connection silent this long (no event, no bookmark) is resumed: it may be half-open
CONNECT_SECONDS, LIST_SECONDS = 10, 60
SHORTEST_WATCH = 1.0  # a watch cut off sooner, before a word, is a failure (backoff), not a dropped connection


@dataclass(frozen=True)
class Change:
    """What a stream saw: LISTED (everything a list found, which replaces what was known), or a watch event
    (ADDED, MODIFIED, DELETED) of one object. `source` names the stream."""

    source: str
    type: str
    objects: tuple[dict[str, Any], ...]


class Stream:
    """The list and watch of one kind in one namespace under one selector, until stop() or the deadline."""

    def __init__(self, source: str, list_function: Callable[..., Any], namespace: str, selectors: dict[str, str],
                 away: ApiAway, deadline: float, clock: Clock = SYSTEM) -> None:  # fmt: skip
        self.source, self.list_function, self.namespace, self.selectors = source, list_function, namespace, selectors
        self.away, self.deadline, self.clock = away, deadline, clock
        self.version = ""  # where the watch resumes: the list's resourceVersion, then the last event's or bookmark's
        self._lock = threading.Lock()
        self._response: Any = None
        self._stopped = False

    def changes(self) -> Iterator[Change]:
        while not self._stopped and self.clock.monotonic() < self.deadline:
            try:
                if not self.version:
                    listed = self._list()
                    if listed is not None:
                        yield listed
                yield from self._watch()
            except ApiException as error:
                if error.status == 410:  # 410 Gone: the resourceVersion expired; list again
                    self.version = ""
                else:
                    self.clock.sleep(self.away.backoff(error, self.deadline, self.source))
            except (urllib3.exceptions.HTTPError, OSError) as error:
                if not self._stopped:
                    self.clock.sleep(self.away.backoff(error, self.deadline, self.source))

    def stop(self) -> None:
        """Ends changes() from another thread: a watch blocked reading is cut off at once."""
        with self._lock:
            self._stopped, response = True, self._response
        if response is not None:
            _interrupt(response)

    def _list(self) -> Change | None:
        response = self._request(_request_timeout=(CONNECT_SECONDS, LIST_SECONDS))
        if response is None:
            return None
        try:
            listing = json.loads(response.data)
        finally:
            self._release(response)
        self.away.answered(self.source)
        self.version = str(listing["metadata"]["resourceVersion"])
        return Change(self.source, LISTED, tuple(listing.get("items") or []))

    def _watch(self) -> Iterator[Change]:
        seconds = int(min(WATCH_SECONDS, max(1.0, self.deadline - self.clock.monotonic()))) + 1
        response = self._request(watch=True, resource_version=self.version, allow_watch_bookmarks=True,
                                 timeout_seconds=seconds, _request_timeout=(CONNECT_SECONDS, READ_SECONDS))  # fmt: skip
        if response is None:
            return
        self.away.answered(self.source)
        opened, heard = self.clock.monotonic(), False
        try:
            for line in iter_resp_lines(response):
                change, heard = self._event(line), True
                if change is not None:
                    yield change
        except urllib3.exceptions.ReadTimeoutError:
            pass  # silent for READ_SECONDS: resumed from the last resourceVersion
        except (urllib3.exceptions.HTTPError, OSError):
            if not self._stopped and not heard and self.clock.monotonic() - opened < SHORTEST_WATCH:
                raise  # cut off as soon as made: the server may be going away (backoff, not a busy loop)
            # a dropped connection: resumed from the last resourceVersion at once (if the server has gone away,
            # that fails, and the failure is an outage)
        finally:
            self._release(response)

    def _event(self, line: str) -> Change | None:
        try:
            event = json.loads(line)
        except ValueError:
            return None
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise ApiException(status=obj.get("code"), reason=f"{obj.get('reason')}: {obj.get('message')}")
        version = (obj.get("metadata") or {}).get("resourceVersion")
        if version:
            self.version = str(version)
        return None if kind == "BOOKMARK" else Change(self.source, str(kind), (obj,))

    def _request(self, **kwargs: Any) -> Any:
        """One request of the list function (the raw response), or None once stopped."""
        with self._lock:
            if self._stopped:
                return None
        response = self.list_function(self.namespace, _preload_content=False, **self.selectors, **kwargs)
        with self._lock:
            self._response, stopped = response, self._stopped
        if stopped:
            self._release(response)
            return None
        return response

    def _release(self, response: Any) -> None:
        with self._lock:
            self._response = None
        with contextlib.suppress(Exception):
            response.close()
            response.release_conn()


def _interrupt(response: Any) -> None:
    """Shuts the socket a response is read from, so that a read blocked on it in another thread returns."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
