"""Waits, cleanups and sweeps ride out API server outages (kfcheck.core.wait.retrying) and say how long the API
was away; a request the server refused for a reason is not retried."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from kfcheck.core import wait

from .wait_fakes import FakeClock


def flaky(failures: list[BaseException], result: str = "answer"):
    calls = []

    def call() -> str:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return call, calls


def refused() -> urllib3.exceptions.MaxRetryError:
    return urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces", reason=ConnectionRefusedError(111, "refused"))


@pytest.mark.parametrize(
    "error",
    [
        refused(),
        urllib3.exceptions.ProtocolError("reset"),
        ApiException(status=503),
        ApiException(status=429),
        ConnectionResetError(104, "reset"),
    ],
)
def test_outages_are_transient(error: BaseException) -> None:
    assert wait.is_transient(error)


@pytest.mark.parametrize("error", [ApiException(status=403), ApiException(status=404), ValueError("bad")])
def test_refusals_are_not_transient(error: BaseException) -> None:
    assert not wait.is_transient(error)


def test_a_call_rides_out_an_outage_and_the_outage_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    wait.take_outages()
    call, calls = flaky([refused(), ApiException(status=503)])
    clock = FakeClock()
    assert wait.retrying("deleting namespace x", call, timeout=30, clock=clock) == "answer"
    assert len(calls) == 3
    assert clock.slept == [0.5, 1.0]  # backoff, doubling
    (notice,) = wait.take_outages()
    assert notice.startswith("the API server was away for 1.5s while deleting namespace x (MaxRetryError: None: Max")
    assert "retrying" in capsys.readouterr().out


def test_a_refusal_is_raised_at_once() -> None:
    call, calls = flaky([ApiException(status=403)])
    with pytest.raises(ApiException):
        wait.retrying("listing", call, timeout=30)
    assert len(calls) == 1


def test_an_outage_longer_than_the_deadline_ends_with_the_last_error() -> None:
    call, calls = flaky([refused() for _ in range(100)])
    clock = FakeClock()
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        wait.retrying("listing", call, timeout=10.0, clock=clock)
    assert clock.slept == [0.5, 1.0, 2.0, 4.0, 2.5]  # doubling, never past the deadline
    assert len(calls) == 6


def webhook_error(status: int, message: str) -> ApiException:
    """An ApiException as the dynamic client raises it: the API server's Status as the body's bytes."""
    error = ApiException(status=status, reason="Internal Server Error" if status == 500 else "Bad Request")
    error.body = json.dumps({"kind": "Status", "status": "Failure", "message": message, "code": status}).encode()
    return error


NO_ANSWER = (
    'Internal error occurred: failed calling webhook "validator.pytorchjob.training-operator.kubeflow.org": failed to '
    'call webhook: Post "https://training-operator.kubeflow.svc:443/validate-kubeflow-org-v1-pytorchjob?timeout=10s": '
    "context deadline exceeded"
)


def test_a_create_a_webhook_left_without_answer_is_tried_again_and_the_silence_reported() -> None:
    wait.take_outages()
    call, calls = flaky([webhook_error(500, NO_ANSWER)], result="created")
    assert wait.admitted("creating PyTorchJob wiring", call, clock=FakeClock()) == "created"
    assert len(calls) == 2
    (notice,) = wait.take_outages()
    assert notice.startswith(
        "admission webhook validator.pytorchjob.training-operator.kubeflow.org gave no answer (context deadline "
        "exceeded) for "
    )
    assert notice.endswith("s while creating PyTorchJob wiring; it answered when tried again")


@pytest.mark.parametrize(
    "error",
    [
        webhook_error(
            400, 'admission webhook "validator.pytorchjob.training-operator.kubeflow.org" denied the request'
        ),
        webhook_error(500, "Internal error occurred: etcd is unhappy"),
        webhook_error(500, NO_ANSWER.replace("context deadline exceeded", 'no endpoints available for service "x"')),
        webhook_error(422, 'PyTorchJob.kubeflow.org "x" is invalid'),
    ],
)
def test_a_webhooks_answer_and_other_errors_are_raised_at_once(error: ApiException) -> None:
    call, calls = flaky([error])
    with pytest.raises(ApiException):
        wait.admitted("creating PyTorchJob wiring", call)
    assert len(calls) == 1


def test_a_webhook_silent_past_the_deadline_ends_with_its_error() -> None:
    call, calls = flaky([webhook_error(500, NO_ANSWER)] * 3)
    with pytest.raises(ApiException, match="500"):
        wait.admitted("creating PyTorchJob wiring", call, seconds=0.0)
    assert len(calls) == 1


def test_an_outage_seen_by_several_streams_of_a_wait_is_one_outage_until_each_has_an_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A wait watches its object, its pods and their events: the outage ends when every stream is answered
    again, with one notice; each stream backs off on its own."""
    wait.take_outages()
    clock = FakeClock()
    away = wait.ApiAway("waiting for x", clock=clock)
    assert [away.backoff(refused(), clock.now + 60, source) for source in ("object", "pods", "object")] == [
        0.5, 0.5, 1.0,
    ]  # fmt: skip
    clock.now += 7
    away.answered("object")
    assert wait.take_outages() == []
    assert away.away_for().startswith("; the API server has not answered for 7s (MaxRetryError")
    away.answered("pods")
    (notice,) = wait.take_outages()
    assert notice.startswith("the API server was away for 7.0s while waiting for x (MaxRetryError")
    assert away.away_for() == ""
    assert capsys.readouterr().out.count("retrying") == 1
