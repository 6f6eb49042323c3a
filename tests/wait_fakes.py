"""Fakes for unit tests of the waits (kfcheck/core/waiting): a clock that moves only when slept on or waited on,
list/watch responses as the kubernetes client returns them with _preload_content=False, a lister that plays
them, and a feed of scripted changes. No real time passes in a test that uses them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from kfcheck.core.waiting.stream import Change

Obj = dict[str, Any]


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def listing(version: str, *items: Obj) -> FakeResponse:
    return FakeResponse(data=json.dumps({"metadata": {"resourceVersion": version}, "items": list(items)}).encode())


def event(kind: str, obj: Obj) -> str:
    return json.dumps({"type": kind, "object": obj})


def bookmark(version: str) -> str:
    return event("BOOKMARK", {"metadata": {"resourceVersion": version}})


def gone() -> str:
    return event("ERROR", {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old resource version"})


def obj(name: str, version: str, **status: Any) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": version}, "status": status}


@dataclass
class FakeResponse:
    """A list (data) or a watch (lines, then `end` raised, or silence until the socket is shut when `block`)."""

    data: bytes = b""
    lines: list[str] = field(default_factory=list)
    end: BaseException | None = None
    block: bool = False
    closed: bool = False
    shut: threading.Event = field(default_factory=threading.Event)
    reading: threading.Event = field(default_factory=threading.Event)  # set once blocked in a silent read
    lasts: tuple[FakeClock, float] | None = None  # a watch the server ends after that many seconds of the clock

    @property
    def connection(self) -> Any:
        return SimpleNamespace(sock=SimpleNamespace(shutdown=lambda _how: self.shut.set()))

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        for line in self.lines:
            yield line.encode() + b"\n"
        if self.lasts is not None:
            clock, seconds = self.lasts
            clock.now += seconds
        if self.end is not None:
            raise self.end
        if self.block:
            self.reading.set()
            self.shut.wait(30)  # a silent watch, until the wait stops it (a safety bound, never reached)

    def close(self) -> None:
        self.closed = True

    def release_conn(self) -> None:
        pass


class FakeLister:
    """A list function: records each call's arguments and answers from its script (a response, or an error to
    raise); once the script is played, a watch that stays silent until stopped."""

    def __init__(self, *script: FakeResponse | BaseException) -> None:
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.silent: list[FakeResponse] = []
        self.silent_made = threading.Event()  # set once a silent watch has been handed out

    def __call__(self, namespace: str, **kwargs: Any) -> FakeResponse:
        self.calls.append({"namespace": namespace, **kwargs})
        if not self.script:
            self.silent.append(FakeResponse(block=True))
            self.silent_made.set()
            return self.silent[-1]
        answer = self.script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class ScriptedFeed:
    """A feed playing changes in order; a number is that many seconds without a change (the clock moves on)."""

    def __init__(self, clock: FakeClock, *script: Change | float) -> None:
        self.clock, self.script, self.closed = clock, list(script), False

    def next(self, timeout: float) -> Change | None:
        item = self.script.pop(0) if self.script else float("inf")
        if isinstance(item, Change):
            return item
        if item > timeout:
            self.script.insert(0, item - timeout)
        self.clock.now += min(item, timeout)
        return None

    def close(self) -> None:
        self.closed = True
