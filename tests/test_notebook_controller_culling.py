"""Culling in kfcheck's notebook controller (components/kubeflow_lite/notebook_culling.py) against
kubeflow/kubeflow v1.10.0 components/notebook-controller/controllers/culling_controller.go (cc.go) and its
culling_controller_test.go (cc_test.go).

The Jupyter server is a real HTTP server in the test process. The culler asks for
`http://<name>.<ns>.svc.cluster.local/notebook/<ns>/<name>/api/kernels` exactly as upstream builds it; the test
gives it an HTTP proxy that is that server, so the request line carries the whole URL and the server checks it.
No sleeps: the culler's clock is injected.
"""

from __future__ import annotations

import datetime
import http.server
import json
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import notebook_culling as culling

from tests.notebook_controller_fakes import NAMESPACE, FakeApi, controller_on, notebook

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.UTC)
URL = "http://nb.team.svc.cluster.local/notebook/team/nb/api/kernels"


def ago(minutes: float) -> str:
    return culling.timestamp(NOW - datetime.timedelta(minutes=minutes))


def kernel(state: str = "idle", minutes_ago: float = 120) -> dict:
    return {"id": "k", "name": "python3", "last_activity": ago(minutes_ago), "execution_state": state,
            "connections": 1}  # fmt: skip


class Jupyter:
    """What the fake Jupyter server answers, and the URLs it was asked for."""

    def __init__(self) -> None:
        self.status, self.body = 200, "[]"
        self.asked: list[str] = []

    def answer(self, kernels: Any, status: int = 200) -> None:
        self.status, self.body = status, kernels if isinstance(kernels, str) else json.dumps(kernels)


@pytest.fixture
def jupyter() -> Iterator[tuple[Jupyter, urllib.request.OpenerDirector]]:
    state = Jupyter()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.asked.append(self.path)  # through a proxy: the absolute URL
            data = state.body.encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    proxy = urllib.request.ProxyHandler({"http": f"http://127.0.0.1:{server.server_address[1]}"})
    try:
        yield state, urllib.request.build_opener(proxy)
    finally:
        server.shutdown()
        server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime.datetime:
        return self.now


def culler_on(api: FakeApi, opener: urllib.request.OpenerDirector, clock: Clock, **env: str) -> culling.Culler:
    settings = culling.CullingSettings.from_env({"ENABLE_CULLING": "true", **env})
    controller = controller_on(api)
    return culling.Culler(api, api, controller._get, settings, clock, lambda url: culling.fetch_kernels(url, opener))


def running_notebook(annotations: dict | None = None) -> FakeApi:
    return FakeApi(
        notebook(annotations=annotations), {"kind": "Pod", "metadata": {"name": "nb-0", "namespace": NAMESPACE}}
    )


def annotations_of(api: FakeApi) -> dict[str, str]:
    return dict(api.objects[("Notebook", NAMESPACE, "nb")]["metadata"].get("annotations") or {})


# --- the settings and the pieces --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, culling.CullingSettings()),  # cc.go:30-34
        ({"ENABLE_CULLING": "true", "CULL_IDLE_TIME": "60", "IDLENESS_CHECK_PERIOD": "5", "CLUSTER_DOMAIN": "c.x",
          "DEV": "yes"}, culling.CullingSettings(True, 60, 5, "c.x", True)),
        ({"CULL_IDLE_TIME": "1h", "ENABLE_CULLING": "True"}, culling.CullingSettings()),  # cc.go:413-420, 423-426
        ({"CULL_IDLE_TIME": "", "CLUSTER_DOMAIN": "", "DEV": "false"}, culling.CullingSettings()),  # cc.go:385-391
    ],
)  # fmt: skip
def test_culling_settings_come_from_the_environment(env: dict, expected: culling.CullingSettings) -> None:
    assert culling.CullingSettings.from_env(env) == expected


def test_a_check_period_that_is_not_an_integer_stops_the_start() -> None:
    """cc.go:430-434 (initGlobalVars fails), main.go:111-118 (the controller exits)."""
    with pytest.raises(ValueError):
        culling.CullingSettings.from_env({"IDLENESS_CHECK_PERIOD": "1m"})


def test_the_kernels_url_is_upstreams() -> None:
    """cc.go:208-216: through the Service and the notebook's prefix; DEV through `kubectl proxy`."""
    assert culling.kernels_url("nb", "team", culling.CullingSettings()) == URL
    proxied = "http://localhost:8001/api/v1/namespaces/team/services/nb:http-nb/proxy/notebook/team/nb/api/kernels"
    assert culling.kernels_url("nb", "team", culling.CullingSettings(dev=True)) == proxied


@pytest.mark.parametrize(
    ("kernels", "expected"),
    [
        ([], None),  # cc.go:266-269: no kernels, last-activity untouched (cc_test.go:102-106 has them "all idle")
        ([kernel(minutes_ago=30), kernel(minutes_ago=10)], ago(10)),  # cc_test.go:107-118; cc.go:286-306
        ([kernel(minutes_ago=30), kernel("busy", 300)], ago(0)),  # cc_test.go:119-130; cc.go:276-284: now
        ([kernel("starting", 300)], ago(0)),  # cc.go:55-58,248: anything but idle counts as busy
        ([kernel(minutes_ago=30), {**kernel(), "last_activity": "yesterday"}], None),  # cc.go:295-299
        ([{**kernel(), "last_activity": "2026-03-01T11:00:00.123456Z"}], "2026-03-01T11:00:00Z"),  # Jupyter's form
    ],
)  # fmt: skip
def test_last_activity_from_the_kernels(kernels: list[dict], expected: str | None) -> None:
    assert culling.last_activity(kernels, NOW) == expected


@pytest.mark.parametrize(
    ("annotations", "idle_minutes", "expected"),
    [
        ({}, 1440, False),  # cc_test.go:151-182
        ({culling.STOP_ANNOTATION: ago(0), culling.LAST_ACTIVITY: ago(5000)}, 1440, False),  # cc_test.go:165-174
        ({culling.LAST_ACTIVITY: "should-fail"}, 1440, False),  # cc_test.go:183-192
        ({culling.LAST_ACTIVITY: "2021-08-30T15:37:36.990063Z"}, 1440, True),  # cc_test.go:193-202
        ({culling.LAST_ACTIVITY: "1900-08-30T15:37:36.990063Z"}, 1440, True),  # cc_test.go:203-212
        ({culling.LAST_ACTIVITY: ago(0)}, 5, False),  # cc_test.go:213-224
        ({culling.LAST_ACTIVITY: ago(6)}, 5, True),  # cc_test.go:225-236
        ({culling.LAST_ACTIVITY: ago(3)}, 5, False),  # cc_test.go:237-248
        ({culling.LAST_ACTIVITY: ago(5)}, 5, False),  # cc.go:194-195: strictly after the deadline
    ],
)  # fmt: skip
def test_a_notebook_is_idle_past_cull_idle_time(annotations: dict, idle_minutes: int, expected: bool) -> None:
    """cc.go:179-200 (notebookIsIdle), as cc_test.go:143-263 checks it."""
    assert culling.is_idle(annotations, NOW, culling.CullingSettings(cull_idle_minutes=idle_minutes)) is expected


def test_the_check_period_is_counted_from_the_last_check() -> None:
    """cc.go:166-176: no check timestamp, not yet; an unparsable one counts as long ago."""
    settings = culling.CullingSettings(check_period_minutes=5)
    assert not culling.check_period_passed({}, NOW, settings)
    assert not culling.check_period_passed({culling.LAST_CHECK: ago(5)}, NOW, settings)
    assert culling.check_period_passed({culling.LAST_CHECK: ago(5.1)}, NOW, settings)
    assert culling.check_period_passed({culling.LAST_CHECK: "garbage"}, NOW, settings)


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, "[]"), (200, "{}"), (200, "not json"), (200, '[{"last_activity": 5}]'), (200, '[{"connections": "1"}]')],
)  # fmt: skip
def test_an_answer_that_is_no_kernel_list_counts_as_none(jupyter: tuple[Jupyter, Any], status: int, body: str) -> None:
    """cc.go:218-240: a transport error, a non-200 or a body that does not decode into []KernelStatus: nil."""
    server, opener = jupyter
    server.answer(body, status)
    assert culling.fetch_kernels(URL, opener) is None
    assert server.asked == [URL]


# --- a culling pass, end to end -----------------------------------------------------------------------------


def test_a_notebook_idle_past_cull_idle_time_is_stopped(jupyter: tuple[Jupyter, Any]) -> None:
    """cc.go:123-131 (annotations start at now), 133-137 (then wait a check period), 139-146 (last-activity
    from the kernels, check timestamp now), 148-160 (idle past CULL_IDLE_TIME: stopped); then the notebook
    controller scales the StatefulSet to 0 (notebook_controller.go:362-365), and the next pass drops the culling
    annotations (cc.go:96-104)."""
    server, opener = jupyter
    server.answer([kernel(minutes_ago=90), kernel(minutes_ago=75)])
    api, clock = running_notebook(), Clock()
    culler = culler_on(api, opener, clock, CULL_IDLE_TIME="60", IDLENESS_CHECK_PERIOD="1")
    assert culler.reconcile(NAMESPACE, "nb") == 60.0
    assert annotations_of(api) == {culling.LAST_ACTIVITY: ago(0), culling.LAST_CHECK: ago(0)}
    assert server.asked == [], "a check period has not passed yet"
    clock.now += datetime.timedelta(seconds=61)
    assert culler.reconcile(NAMESPACE, "nb") == 60.0
    assert server.asked == [URL]
    assert annotations_of(api) == {culling.LAST_ACTIVITY: ago(75), culling.LAST_CHECK: culling.timestamp(clock.now),
                                   culling.STOP_ANNOTATION: culling.timestamp(clock.now)}  # fmt: skip
    controller_on(api).reconcile(NAMESPACE, "nb")
    assert api.objects[("StatefulSet", NAMESPACE, "nb")]["spec"]["replicas"] == 0
    assert culler.reconcile(NAMESPACE, "nb") is None
    assert annotations_of(api) == {culling.STOP_ANNOTATION: culling.timestamp(clock.now)}


@pytest.mark.parametrize(
    "kernels", [[kernel(minutes_ago=90), kernel("busy", 600)], [kernel(minutes_ago=30)]], ids=["busy", "recent"]
)
def test_a_busy_or_recently_used_notebook_is_kept(jupyter: tuple[Jupyter, Any], kernels: list[dict]) -> None:
    """cc.go:276-284 (a busy kernel: last-activity now), 149 (not idle: no stop annotation)."""
    server, opener = jupyter
    server.answer(kernels)
    api = running_notebook({culling.LAST_ACTIVITY: ago(600), culling.LAST_CHECK: ago(2)})
    culler_on(api, opener, Clock(), CULL_IDLE_TIME="60").reconcile(NAMESPACE, "nb")
    assert server.asked == [URL]
    assert culling.STOP_ANNOTATION not in annotations_of(api)
    assert annotations_of(api)[culling.LAST_ACTIVITY] == (
        ago(0) if kernels[-1]["execution_state"] == "busy" else ago(30)
    )


def test_a_server_without_kernels_is_stopped_cull_idle_time_after_the_first_check(jupyter: tuple[Jupyter, Any]) -> None:
    """cc.go:262-269: no kernels (or no answer) leave last-activity as it was set at the start, so the
    notebook is culled CULL_IDLE_TIME after that."""
    server, opener = jupyter
    server.answer([])
    api, clock = running_notebook({culling.LAST_ACTIVITY: ago(59), culling.LAST_CHECK: ago(2)}), Clock()
    culler = culler_on(api, opener, clock, CULL_IDLE_TIME="60")
    culler.reconcile(NAMESPACE, "nb")
    assert culling.STOP_ANNOTATION not in annotations_of(api) and annotations_of(api)[culling.LAST_ACTIVITY] == ago(59)
    clock.now += datetime.timedelta(minutes=2)
    culler.reconcile(NAMESPACE, "nb")
    assert culling.STOP_ANNOTATION in annotations_of(api)


def test_without_a_pod_the_culling_annotations_go_and_nothing_is_requeued(jupyter: tuple[Jupyter, Any]) -> None:
    """cc.go:106-118."""
    _, opener = jupyter
    api = FakeApi(notebook(annotations={culling.LAST_ACTIVITY: ago(1), culling.LAST_CHECK: ago(1), "keep": "me"}))
    assert culler_on(api, opener, Clock()).reconcile(NAMESPACE, "nb") is None
    assert annotations_of(api) == {"keep": "me"}
