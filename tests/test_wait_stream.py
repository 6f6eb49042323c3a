"""One real watch per stream (kfcheck/core/waiting/stream.py): listed once, watched from the list's
resourceVersion with bookmarks, resumed from the last resourceVersion after a dropped connection, listed again
only on 410 Gone; an API server that does not answer is ridden out with backoff on the wait's clock."""

from __future__ import annotations

import itertools
import threading

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from kfcheck.core import wait
from kfcheck.core.waiting.stream import LISTED, READ_SECONDS, Stream

from .wait_fakes import FakeClock, FakeLister, FakeResponse, bookmark, event, gone, listing, obj

SELECTOR = {"field_selector": "metadata.name=x"}


def _stream(lister: FakeLister, clock: FakeClock, seconds: float = 600) -> Stream:
    away = wait.ApiAway("waiting for x", clock=clock)
    return Stream("object", lister, "ns", SELECTOR, away, clock.now + seconds, clock)


def _take(stream: Stream, count: int) -> list[tuple[str, list[str]]]:
    """The first `count` changes, as (type, [resourceVersion of each object])."""
    changes = itertools.islice(stream.changes(), count)
    taken = [(c.type, [o["metadata"]["resourceVersion"] for o in c.objects]) for c in changes]
    stream.stop()
    return taken


def _versions(lister: FakeLister) -> list[tuple[bool, str | None]]:
    """Each request: (a watch?, the resourceVersion it starts from)."""
    return [(bool(call.get("watch")), call.get("resource_version")) for call in lister.calls]


def test_the_object_is_listed_once_then_watched_from_the_lists_version_with_bookmarks() -> None:
    lister = FakeLister(listing("10", obj("x", "9")), FakeResponse(lines=[event("MODIFIED", obj("x", "11"))]))
    stream = _stream(lister, FakeClock())
    assert _take(stream, 2) == [(LISTED, ["9"]), ("MODIFIED", ["11"])]
    (first, watch) = lister.calls
    assert first == {"namespace": "ns", "_preload_content": False, "field_selector": "metadata.name=x",
                     "_request_timeout": (10, 60)}  # fmt: skip
    assert watch["watch"] is True and watch["allow_watch_bookmarks"] is True and watch["resource_version"] == "10"
    assert watch["field_selector"] == "metadata.name=x" and watch["_request_timeout"] == (10, READ_SECONDS)
    assert watch["timeout_seconds"] == 601  # one watch for the whole wait


def test_a_dropped_connection_resumes_from_the_last_version_seen_a_bookmarks_included() -> None:
    dropped = urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead")
    clock = FakeClock()
    lister = FakeLister(
        listing("10"),
        FakeResponse(lines=[event("ADDED", obj("x", "12")), bookmark("20")], end=dropped),
        FakeResponse(lines=[bookmark("25")]),  # the server ended the watch at its timeout
        FakeResponse(end=urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")),  # silent too long
        FakeResponse(lasts=(clock, 120.0), end=dropped),  # quiet for two minutes, then cut (an idle proxy)
        FakeResponse(lines=[event("MODIFIED", obj("x", "30"))]),
    )
    assert _take(_stream(lister, clock), 3) == [(LISTED, []), ("ADDED", ["12"]), ("MODIFIED", ["30"])]
    assert _versions(lister) == [(False, None), (True, "10"), (True, "20"), (True, "25"), (True, "25"), (True, "25")]
    assert clock.slept == []  # resumed at once: none of these is an outage
    assert wait.take_outages() == []


def test_410_gone_lists_again_and_watches_from_the_new_list() -> None:
    lister = FakeLister(
        listing("10", obj("x", "9")),
        FakeResponse(lines=[gone()]),
        listing("40", obj("x", "39")),
        FakeResponse(lines=[event("MODIFIED", obj("x", "41"))]),
    )
    assert _take(_stream(lister, FakeClock()), 3) == [(LISTED, ["9"]), (LISTED, ["39"]), ("MODIFIED", ["41"])]
    assert _versions(lister) == [(False, None), (True, "10"), (False, None), (True, "40")]


def test_an_outage_is_ridden_out_with_backoff_and_reported_once_the_server_answers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    refused = urllib3.exceptions.MaxRetryError(None, "/api", reason=ConnectionRefusedError(111, "refused"))
    dropped = urllib3.exceptions.ProtocolError("Connection aborted")
    lister = FakeLister(
        listing("10"),
        FakeResponse(end=dropped),  # cut off before a word: the server is going away
        refused,
        ApiException(status=503),
        FakeResponse(lines=[event("ADDED", obj("x", "11"))]),
    )
    clock = FakeClock()
    wait.take_outages()
    assert _take(_stream(lister, clock), 2) == [(LISTED, []), ("ADDED", ["11"])]
    assert clock.slept == [0.5, 1.0, 2.0]
    assert _versions(lister)[1:] == [(True, "10")] * 4  # resumed, not listed again
    (notice,) = wait.take_outages()
    assert notice.startswith("the API server was away for 3.5s while waiting for x (ProtocolError")
    assert "retrying" in capsys.readouterr().out


def test_an_outage_past_the_deadline_ends_the_stream() -> None:
    refused = urllib3.exceptions.MaxRetryError(None, "/api", reason=ConnectionRefusedError(111, "refused"))
    lister = FakeLister(*[refused] * 20)
    clock = FakeClock()
    stream = _stream(lister, clock, seconds=10)
    assert list(stream.changes()) == []
    assert clock.now == pytest.approx(1010) and sum(clock.slept) == pytest.approx(10)
    assert stream.away.away_for().startswith("; the API server has not answered for 10s")


@pytest.mark.parametrize("answer", [ApiException(status=403, reason="Forbidden"), ApiException(status=404)])
def test_a_refusal_is_raised(answer: ApiException) -> None:
    stream = _stream(FakeLister(answer), FakeClock())
    with pytest.raises(ApiException):
        next(stream.changes())


def test_stop_cuts_off_a_silent_watch() -> None:
    lister = FakeLister(listing("10"))
    stream = _stream(lister, FakeClock())
    changes = stream.changes()
    assert next(changes).type == LISTED
    stream.stop()  # the fake watch blocks until its socket is shut (as stop() does from the wait's thread)
    assert lister.silent == []  # stopped before the watch was made: no request at all
    assert list(changes) == []


def test_a_watch_stopped_while_reading_is_shut_and_closed() -> None:
    lister = FakeLister(listing("10"))
    stream = _stream(lister, FakeClock())
    changes = stream.changes()
    next(changes)
    done = threading.Event()

    def read() -> None:
        list(changes)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert lister.silent_made.wait(10), "the reader made no watch request"
    assert lister.silent[0].reading.wait(10), "the reader does not read its watch"
    stream.stop()
    assert done.wait(10), "stop() did not cut off the blocked watch"
    (silent,) = lister.silent
    assert silent.shut.is_set() and silent.closed
