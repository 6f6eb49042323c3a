"""A wait's streams read side by side: one thread per stream puts what it sees into one queue, which the wait
reads in the order things happened."""

from __future__ import annotations

import queue
import threading
from typing import Protocol

from kfcheck.core.waiting.stream import Change, Stream

JOIN_SECONDS = 2.0


class Feed(Protocol):
    def next(self, timeout: float) -> Change | None:
        """The next change, or None when none came within `timeout` seconds (or every stream has ended)."""
        ...

    def close(self) -> None: ...


class ThreadFeed:
    """The changes of streams, each read by a thread of its own; an error a stream raises is raised by next()."""

    def __init__(self, streams: list[Stream]) -> None:
        self.streams = streams
        self._queue: queue.Queue[Change | BaseException] = queue.Queue()
        self._threads = [threading.Thread(target=self._pump, args=(stream,), daemon=True,
                                          name=f"kfcheck-wait-{stream.source}") for stream in streams]  # fmt: skip
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: Stream) -> None:
        try:
            for change in stream.changes():
                self._queue.put(change)
        except BaseException as error:  # given to the wait, which raises it
            self._queue.put(error)

    def next(self, timeout: float) -> Change | None:
        try:
            item = self._queue.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stops every stream and waits (briefly) for their threads: no watch stays open after the wait."""
        for stream in self.streams:
            stream.stop()
        for thread in self._threads:
            thread.join(JOIN_SECONDS)
