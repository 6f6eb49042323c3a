"""The Jupyter web app's own page for a notebook, as a data scientist sees it: its Angular frontend rendered in
headless Chromium, the rendered page checked and a screenshot attached to the report.

A browser reaches the app through the platform's gateway, which names the user in a header (or logs them in);
Chromium cannot add such a header itself, so the suite puts a small forwarder on 127.0.0.1 in the gateway's
place: it adds the caller's headers and maps the app's prefix (the `<base href>` of its index page, e.g.
/jupyter/, as Kubeflow's gateway routes it) to the app's address. It forwards GET and HEAD only: the page is
looked at, nothing is changed through it. The page: the frontend's route notebook/details/<namespace>/<name>
(kubeflow/kubeflow v1.10.0, crud-web-apps/jupyter/frontend/src/app/app-routing.module.ts:12), which shows the
notebook's name and its status (pages/notebook-page/notebook-page.component.html:14-24)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import urllib3

from kfcheck.core.capabilities import Unavailable
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow.jupyter_web_app import OUTCOME
from kfcheck.kubeflow.jupyter_web_app_client import Caller, WebApp

PAGE_SECONDS = 20_000  # Chromium's virtual time budget (ms) for the page to load and render its data
WINDOW = "1366,900"


def check_page_shows_ready(scenario: Scenario, name: str) -> None:
    """The app's page of the notebook, rendered by its frontend, names the notebook and shows it running; the
    screenshot is attached whatever the outcome."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        raise Unavailable("no headless Chromium on this machine (Debian: the chromium package) to render the page")
    app, caller = scenario.outcomes[OUTCOME]
    notebook_name = scenario.name(name)
    prefix = base_href(app, caller)
    with forwarder(app, caller, prefix) as address:
        url = f"{address}{prefix}notebook/details/{scenario.namespace}/{notebook_name}"
        with tempfile.TemporaryDirectory(prefix="kfcheck-chromium-") as scratch:
            screenshot = Path(scratch) / "page.png"
            dom = _chromium(chromium, scratch, "--dump-dom", url)
            _chromium(chromium, scratch, f"--screenshot={screenshot}", url)
            if screenshot.exists():
                scenario.attach_binary(screenshot.read_bytes(), "image/png", f"the web app's page of {notebook_name}")
    text = visible_text(dom)
    assert shows_title(dom, notebook_name), f"the page {url} is not {notebook_name}'s; it reads: {text[:500]!r}"
    assert shows_ready(dom), f"the page {url} does not show {notebook_name} ready; it reads: {text[:500]!r}"
    scenario.attach(f"{url} (through the forwarder standing in for the gateway) shows {notebook_name} ready")


def shows_title(dom: str, name: str) -> bool:
    """The details page's title is the notebook's name (notebook-page.component.html:20)."""
    return re.search(rf'class="mat-title"[^>]*>\s*{re.escape(name)}\s*<', dom) is not None


def shows_ready(dom: str) -> bool:
    """The status icon of the phase "ready": a mat-icon whose class is check_circle (kubeflow-common-lib
    status-icon.component.ts:15-17, status-icon.component.html:16-18)."""
    return re.search(r'<mat-icon\b[^>]*class="[^"]*\bcheck_circle\b', dom) is not None


def base_href(app: WebApp, caller: Caller) -> str:
    """The prefix the app's frontend is served under (its index page's <base href>, from APP_PREFIX)."""
    page = app.get("/", caller)
    assert page.status == 200, f"the Jupyter web app's index page: {page.summary()}"
    found = re.search(r'<base href="([^"]*)"', page.text)
    assert found, f"the Jupyter web app's index page at {app.url}/ has no <base href>: is its frontend served?"
    return found.group(1) if found.group(1).endswith("/") else found.group(1) + "/"


@contextmanager
def forwarder(app: WebApp, caller: Caller, prefix: str) -> Iterator[str]:
    """http://127.0.0.1:<port> forwarding GET <prefix><path> to the app's <path> with the caller's headers."""
    pool = urllib3.PoolManager(retries=False)

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._forward(send_body=True)

        def do_HEAD(self) -> None:
            self._forward(send_body=False)

        def _forward(self, send_body: bool) -> None:
            path = "/" + self.path[len(prefix) :] if self.path.startswith(prefix) else self.path
            headers = {key: value for key, value in self.headers.items() if key.lower() in ("accept", "cookie")}
            reply = pool.request(self.command, f"{app.url.rstrip('/')}{path}", headers={**headers, **caller.headers},
                                 timeout=app.timeout, preload_content=True, redirect=False)  # fmt: skip
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.data)))
            self.end_headers()
            if send_body:
                self.wfile.write(reply.data)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _chromium(chromium: str, scratch: str, action: str, url: str) -> str:
    """One headless Chromium run (its own profile in scratch); its stdout. A run that fails names its stderr."""
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WINDOW}",
            f"--user-data-dir={scratch}/profile", f"--virtual-time-budget={PAGE_SECONDS}", action, url]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"headless Chromium ({chromium} {action}) failed: {result.stderr[-800:]}")
    return result.stdout


def visible_text(dom: str) -> str:
    """The page's text without its markup, styles and scripts, whitespace collapsed."""
    without_code = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without_code)).strip()
