"""The Jupyter web app's client: the launch form filled as upstream's frontend fills it, the CSRF cookie echoed as a
browser echoes it, and clear failures. Upstream facts are from kubeflow/kubeflow v1.10.0, components/crud-web-apps/
(file and line given with each)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import urllib3

from kfcheck.core.capabilities import Unavailable
from kfcheck.kubeflow import jupyter_web_app
from kfcheck.kubeflow import jupyter_web_app_page as page
from kfcheck.kubeflow.jupyter_web_app_client import Caller, WebApp, WebAppUnreachable, launch_form, workspace_claim

# jupyter/manifests/base/configs/spawner_ui_config.yaml: the defaults a real install's form starts from
UPSTREAM_DEFAULTS: dict[str, Any] = {
    "image": {"value": "ghcr.io/kubeflow/kubeflow/notebook-servers/jupyter-scipy:v1.10.0"},
    "imagePullPolicy": {"readOnly": False, "value": "IfNotPresent"},
    "cpu": {"readOnly": False, "value": "0.5", "limitFactor": "1.2"},
    "memory": {"readOnly": False, "value": "1.0Gi", "limitFactor": "1.2"},
    "gpus": {"readOnly": False, "value": {"vendor": "", "vendors": [], "num": "none"}},
    "workspaceVolume": {"readOnly": False, "value": {"mount": "/home/jovyan", "newPvc": {
        "metadata": {"name": "{notebook-name}-workspace"},
        "spec": {"resources": {"requests": {"storage": "5Gi"}}, "accessModes": ["ReadWriteOnce"]}}}},
    "dataVolumes": {"readOnly": False, "value": []},
    "affinityConfig": {"readOnly": False, "value": "", "options": []},
    "tolerationGroup": {"readOnly": False, "value": "", "options": []},
    "shm": {"readOnly": False, "value": True},
    "configurations": {"readOnly": False, "value": []},
}  # fmt: skip


def test_the_form_keeps_every_default_and_adds_the_chosen_configuration() -> None:
    body = launch_form(UPSTREAM_DEFAULTS, "nb", "team", "registry/notebook:1", ["add-poddefault"])
    # form-new.component.ts:96-150: the custom image replaces the image; sizes get "Gi"; utils.ts:71-114 the limits
    # are request times limitFactor to one decimal; utils.ts:166-167 the preselected configurations are kept
    assert body["image"] == body["customImage"] == "registry/notebook:1" and body["customImageCheck"] is True
    assert (body["cpu"], body["cpuLimit"], body["memory"], body["memoryLimit"]) == ("0.5", "0.6", "1Gi", "1.2Gi")
    assert body["gpus"] == {"vendor": "", "num": "none"}
    assert body["configurations"] == ["add-poddefault"]
    assert (body["datavols"], body["shm"], body["affinityConfig"], body["tolerationGroup"]) == ([], True, "", "")
    assert body["workspace"]["mount"] == "/home/jovyan"
    assert workspace_claim(body) == "nb-workspace"  # name.component.ts:26-58 fills {notebook-name}


def test_read_only_fields_are_left_out_as_a_disabled_control_is() -> None:
    # utils.ts:90-93 and 106-109: a read-only cpu or memory disables request and limit; the backend refuses a
    # read-only field that is sent (apps/common/form.py:39-44)
    config = {**UPSTREAM_DEFAULTS, "cpu": {**UPSTREAM_DEFAULTS["cpu"], "readOnly": True},
              "workspaceVolume": {**UPSTREAM_DEFAULTS["workspaceVolume"], "readOnly": True}}  # fmt: skip
    body = launch_form(config, "nb", "team", "img", [])
    assert "cpu" not in body and "cpuLimit" not in body and "workspace" not in body
    assert workspace_claim(body) is None


def test_a_configuration_cannot_be_chosen_when_the_app_makes_them_read_only() -> None:
    config = {**UPSTREAM_DEFAULTS, "configurations": {"readOnly": True, "value": []}}
    with pytest.raises(AssertionError, match="read-only"):
        launch_form(config, "nb", "team", "img", ["add-poddefault"])


class FakeWebApp(BaseHTTPRequestHandler):
    """Upstream's CSRF rule (crud_backend/csrf.py): the index page sets XSRF-TOKEN; a POST must carry it in the
    cookie and the same value in X-XSRF-TOKEN, else 403."""

    set_cookie = True

    def do_GET(self) -> None:
        self.send_response(200)
        if self.set_cookie:
            self.send_header("Set-Cookie", "XSRF-TOKEN=abc123; Secure; HttpOnly=false; Path=/jupyter; SameSite=Strict")
        self.end_headers()
        self.wfile.write(b"<html></html>")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cookie_ok = self.headers.get("Cookie") == "XSRF-TOKEN=abc123" and self.headers.get("X-XSRF-TOKEN") == "abc123"
        status = 200 if cookie_ok and self.headers.get("kubeflow-userid") == "alice" else 403
        self.send_response(status)
        self.end_headers()
        self.wfile.write(json.dumps({"success": status == 200, "status": status, "log": "no", "got": body}).encode())

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def served() -> Iterator[tuple[str, type[FakeWebApp]]]:
    handler = type("Handler", (FakeWebApp,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def test_a_post_echoes_the_csrf_cookie_of_the_index_page(served: tuple[str, type[FakeWebApp]]) -> None:
    url, _handler = served
    reply = WebApp(url, 5).post("/api/namespaces/team/notebooks", Caller.by_header("alice", "kubeflow-userid", ""),
                                {"name": "nb"})  # fmt: skip
    assert reply.status == 200 and reply.body["got"] == {"name": "nb"}
    refused = WebApp(url, 5).post("/api/x", Caller.by_header("mallory", "kubeflow-userid", ""), {})
    assert refused.status == 403 and "403: no" in refused.summary()


def test_no_csrf_cookie_fails_naming_it(served: tuple[str, type[FakeWebApp]]) -> None:
    url, handler = served
    handler.set_cookie = False
    with pytest.raises(AssertionError, match="XSRF-TOKEN"):
        WebApp(url, 5).post("/api/x", Caller.by_header("alice", "kubeflow-userid", ""), {})


def test_an_app_that_does_not_answer_names_the_setting() -> None:
    with pytest.raises(WebAppUnreachable, match="jupyter_web_app_url"):
        WebApp("http://127.0.0.1:9", 2).get("/api/config", Caller.by_token("t", "me"))


def test_the_header_names_the_user_with_the_prefix_and_a_token_goes_as_bearer() -> None:
    assert Caller.by_header("a@b.c", "kubeflow-userid", "accounts:").headers == {"kubeflow-userid": "accounts:a@b.c"}
    assert Caller.by_token("tok", "me").headers == {"Authorization": "Bearer tok"}


def test_without_the_apps_address_the_scenario_is_skipped_saying_how_to_give_it() -> None:
    scenario = SimpleNamespace(settings=SimpleNamespace(jupyter_web_app_url=""))
    with pytest.raises(Unavailable, match="-u jupyter_web_app_url="):
        jupyter_web_app.serves_my_namespace(scenario)  # type: ignore[arg-type]


def test_the_page_checks_read_the_title_and_the_ready_icon() -> None:
    # notebook-page.component.html:20 (the title); kubeflow-common-lib status-icon.component.ts:15-17 (ready)
    dom = '<div class="mat-title"> nb-1 </div><mat-icon class="align-middle check_circle">check_circle</mat-icon>'
    assert page.shows_title(dom, "nb-1") and not page.shows_title(dom, "nb")
    assert page.shows_ready(dom)
    assert not page.shows_ready('<mat-spinner diameter="24"></mat-spinner><div class="mat-title">nb-1</div>')
    assert page.visible_text("<style>x{}</style><p>a</p>\n<b>b</b>") == "a b"


def test_the_forwarder_maps_the_prefix_and_names_the_caller(served: tuple[str, type[FakeWebApp]]) -> None:
    url, handler = served
    seen: list[tuple[str, str | None]] = []

    def remember(self: FakeWebApp) -> None:
        seen.append((self.path, self.headers.get("kubeflow-userid")))
        FakeWebApp.do_GET(self)

    handler.do_GET = remember  # type: ignore[method-assign]
    app, caller = WebApp(url, 5), Caller.by_header("alice", "kubeflow-userid", "")
    with page.forwarder(app, caller, "/jupyter/") as address:
        got = urllib3.PoolManager().request("GET", f"{address}/jupyter/notebook/details/ns/nb")
        posted = urllib3.PoolManager().request("POST", f"{address}/jupyter/api/namespaces/ns/notebooks", body=b"{}")
    assert got.status == 200 and seen == [("/notebook/details/ns/nb", "alice")]
    assert posted.status == 501  # GET and HEAD only: nothing is changed through the page
