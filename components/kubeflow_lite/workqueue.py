"""A work queue of keys to reconcile, as controller-runtime's controllers use client-go's workqueue.

- a key added while it waits is not added twice; one added while it is being processed is processed again
  after `done` (client-go util/workqueue/queue.go: the dirty and processing sets);
- `add_after` (a reconcile's RequeueAfter) keeps the earliest of the pending times of a key
  (delaying_queue.go);
- `add_rate_limited` waits 5 ms * 2^failures, at most 1000 s, per key until `forget` (default_rate_limiters.go,
  DefaultControllerRateLimiter's per-item exponential part; its overall 10 qps bucket is left out: one worker).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable

BASE_DELAY, MAX_DELAY = 0.005, 1000.0


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.condition = threading.Condition()
        self.ready: list[Hashable] = []
        self.dirty: set[Hashable] = set()
        self.processing: set[Hashable] = set()
        self.waiting: list[tuple[float, int, Hashable]] = []  # (ready at, tie breaker, key)
        self.ready_at: dict[Hashable, float] = {}
        self.failures: dict[Hashable, int] = {}
        self.counter = 0

    def add(self, key: Hashable) -> None:
        with self.condition:
            self._add(key)

    def _add(self, key: Hashable) -> None:
        if key in self.dirty:
            return
        self.dirty.add(key)
        if key not in self.processing:
            self.ready.append(key)
            self.condition.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self.condition:
            when = self.clock() + delay
            if key in self.ready_at and self.ready_at[key] <= when:
                return
            self.ready_at[key] = when
            self.counter += 1
            heapq.heappush(self.waiting, (when, self.counter, key))
            self.condition.notify()

    def add_rate_limited(self, key: Hashable) -> float:
        """Adds key after its backoff; returns the backoff in seconds."""
        with self.condition:
            failures = self.failures.get(key, 0)
            self.failures[key] = failures + 1
        delay = min(BASE_DELAY * 2**failures, MAX_DELAY)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        with self.condition:
            self.failures.pop(key, None)

    def _move_due(self) -> float | None:
        """Moves the keys whose time has come to the ready list; the seconds until the next one, if any."""
        now = self.clock()
        while self.waiting:
            when, _, key = self.waiting[0]
            if self.ready_at.get(key) != when:  # superseded by an earlier add_after
                heapq.heappop(self.waiting)
                continue
            if when > now:
                return when - now
            heapq.heappop(self.waiting)
            del self.ready_at[key]
            self._add(key)
        return None

    def get(self, timeout: float | None = None) -> Hashable | None:
        """The next key to process (None when timeout passes first); call done(key) after processing it."""
        deadline = None if timeout is None else self.clock() + timeout
        with self.condition:
            while True:
                wait = self._move_due()
                if self.ready:
                    key = self.ready.pop(0)
                    self.dirty.discard(key)
                    self.processing.add(key)
                    return key
                if deadline is not None:
                    left = deadline - self.clock()
                    if left <= 0:
                        return None
                    wait = left if wait is None else min(wait, left)
                self.condition.wait(wait)

    def done(self, key: Hashable) -> None:
        with self.condition:
            self.processing.discard(key)
            if key in self.dirty:
                self.ready.append(key)
                self.condition.notify()
