"""kfcheck installed from its wheel, outside the checkout (issue 21): the wheel carries the suite (features, step
files, fixtures) and what installs its report tools (the npm lockfile and scripts, the json-formatter's Go
module); installed with the locked runtime requirements into a venv that sees no other site-packages, `kfcheck
run`, `kfcheck report` and `kfcheck gate` run from a directory outside the checkout and write every report,
installing Cucumber's tools into an empty cache on first use. Also: the pinned json-formatter version, and the
defaults `kfcheck run` gives radish."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import radish

from kfcheck import cli, reports
from kfcheck.core import suite_files
from kfcheck.reports import tools

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "radish_fixtures"
_IGNORED = shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "node_modules", ".venv", ".mypy_cache",
                                  ".ruff_cache", ".pytest_cache")  # fmt: skip


def build_ignore(directory: str, names: list[str]) -> set[str]:
    """What a copy of the checkout leaves out: caches, builds, and the run reports at its top (not kfcheck/reports)."""
    top_reports = {"reports"} if Path(directory) == REPO else set()
    return set(_IGNORED(directory, names)) | (top_reports & set(names))


# --- the pinned version, radish's arguments ---------------------------------------------------------------------


def test_the_json_formatter_version_is_the_one_pinned_for_the_build() -> None:
    versions = dict(
        line.split("=", 1) for line in (REPO / "cluster" / "versions.env").read_text().splitlines() if "=" in line
    )
    assert versions["CUCUMBER_JSON_FORMATTER_VERSION"] == tools.JSON_FORMATTER_VERSION
    go_mod = (suite_files.json_formatter_module() / "go.mod").read_text()
    major = tools.JSON_FORMATTER_VERSION.split(".")[0]
    assert f"json-formatter/go/v{major} v{tools.JSON_FORMATTER_VERSION} " in go_mod
    assert f"github.com/cucumber/common/json-formatter/go/v{major}/cmd" == tools.JSON_FORMATTER_PACKAGE


def test_the_options_taking_a_value_are_radishs() -> None:
    """Every `-x=<value>` of radish's usage and its extensions' (the sources of the installed radish-bdd)."""
    sources = [Path(radish.__file__).with_name("main.py"), *Path(radish.__file__).with_name("extensions").glob("*.py")]
    options = {name for source in sources for name in re.findall(r"(--?[A-Za-z][\w-]*)=<", source.read_text())}
    assert options == suite_files.RADISH_VALUE_OPTIONS


SUITE = [str(suite_files.features_dir()), "-b", str(suite_files.steps_dir())]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], SUITE),
        (["--tags", "smoke", "-u", "timeout=60"], ["--tags", "smoke", "-u", "timeout=60", *SUITE]),
        (["--tags=smoke", "-d"], ["--tags=smoke", "-d", *SUITE]),
        (["-b", "steps"], ["-b", "steps", str(suite_files.features_dir())]),
        (["--basedir=steps", "--no-ansi"], ["--basedir=steps", "--no-ansi", str(suite_files.features_dir())]),
        (["mine.feature"], ["mine.feature", "-b", str(suite_files.steps_dir())]),
        (["-u", "a=b", "features/", "-bradish"], ["-u", "a=b", "features/", "-bradish"]),
    ],
)
def test_kfcheck_run_gives_radish_the_suite_unless_told_otherwise(given: list[str], expected: list[str]) -> None:
    assert suite_files.radish_arguments(given) == expected


def test_radish_options_after_run_go_to_radish() -> None:
    assert cli._radish_arguments_apart(["run", "--tags", "smoke"]) == ["run", "--", "--tags", "smoke"]
    assert cli._radish_arguments_apart(["run", "--reports", "r", "-d"]) == ["run", "--reports", "r", "--", "-d"]
    assert cli._radish_arguments_apart(["run", "--reports=r"]) == ["run", "--reports=r", "--"]
    assert cli._radish_arguments_apart(["gate", "a", "b"]) == ["gate", "a", "b"]


# --- missing tools ---------------------------------------------------------------------------------------------


def test_a_json_formatter_that_cannot_be_built_names_the_command(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("KFCHECK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))  # neither Go nor a cucumber-json-formatter
    with pytest.raises(tools.ToolError, match=r"Go, which builds it, is not on \$PATH.*`kfcheck install-tools`"):
        tools.json_formatter()
    with pytest.raises(tools.ToolError, match=r"not installed in .*cache.*`kfcheck install-tools`"):
        tools.node_tools(install=False)


def test_a_missing_tool_fails_only_its_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    messages = tmp_path / "messages.ndjson"
    reports.write_start_failure(messages, "a test", "nothing ran", "nothing to fix")

    def missing(install: bool = True) -> Path:
        raise tools.ToolError("no json-formatter here: `kfcheck install-tools`")

    monkeypatch.setattr(tools, "json_formatter", missing)
    written = reports.write_reports(messages, tmp_path)
    assert [path.name for path in written.paths] == ["junit.xml", "cucumber.html"]
    assert written.errors == ["cucumber JSON: no json-formatter here: `kfcheck install-tools`"]
    assert cli.main(["report", str(messages)]) == 2


# --- the wheel ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of the checkout (setuptools writes build/ and *.egg-info into its source)."""
    source, dist = tmp_path_factory.mktemp("source") / "kfcheck", tmp_path_factory.mktemp("dist")
    shutil.copytree(REPO, source, ignore=build_ignore)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    [path] = dist.glob("kfcheck-*.whl")
    return path


def test_the_wheel_holds_the_suite_and_what_installs_its_report_tools(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {str(path.relative_to(REPO)) for path in (REPO / "kfcheck").rglob("*.py")}
    fixtures = {str(path.relative_to(REPO)) for path in (REPO / "kfcheck").rglob("fixtures/*.yaml")}
    assert len(fixtures) > 10, fixtures
    expected |= fixtures
    bundled = {
        "features": [path.name for path in (REPO / "features").glob("*.feature")],
        "radish": ["stepfile.py", "terrain.py"],
        "cucumber_reports": ["package.json", "package-lock.json"]
        + [path.name for path in (REPO / "tools" / "cucumber-reports").glob("*.*js")],
        "json_formatter": ["go.mod", "go.sum"],
    }
    expected |= {f"kfcheck/bundled/{folder}/{name}" for folder, files in bundled.items() for name in files}
    assert len(bundled["features"]) >= 6 and len(bundled["cucumber_reports"]) >= 4
    assert expected - names == set()
    assert not [name for name in names if name.startswith("kfcheck_cluster")], "the embedded cluster stays out"
    lock = zipfile.ZipFile(wheel).read("kfcheck/bundled/cucumber_reports/package-lock.json")
    assert lock == (REPO / "tools" / "cucumber-reports" / "package-lock.json").read_bytes()
    [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
    assert "kfcheck = kfcheck.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


# --- installed, outside the checkout (slow: a venv with the locked runtime requirements, reused) -----------------


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Iterator[Path]:
    """A venv without system site-packages holding requirements/runtime.txt (kept in the cache, remade when the lock
    or Python changes) and, each time, this wheel."""
    requirements = REPO / "requirements" / "runtime.txt"
    key = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:12]
    home = tools.caches()[0] / "test-installed"
    venv = home / f"venv-{key}"
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            for old in home.glob("venv-*"):
                shutil.rmtree(old)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--require-hashes", "-r", str(requirements)],
                           check=True, timeout=900)  # fmt: skip
            (venv / ".complete").touch()
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                       check=True, timeout=300)  # fmt: skip
        yield venv


def _kfcheck(venv: Path, cwd: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "kfcheck"), *arguments], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=1800, check=False)  # fmt: skip


@pytest.mark.slow
def test_an_installed_kfcheck_writes_every_report_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"  # empty: the tools are installed on first use
    shared = tools.caches()[0] / "go"  # Go's module and build caches, as cluster/build-binaries.sh's
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(KFCHECK_CACHE=str(cache), KUBECONFIG=str(tmp_path / "no-kubeconfig"),
               GOMODCACHE=env.get("GOMODCACHE", str(shared / "mod")), GOCACHE=env.get("GOCACHE", str(shared / "build")),
               PATH=f"{installed / 'bin'}:{env.get('PATH', '')}")  # fmt: skip
    where = subprocess.run([str(installed / "bin" / "python"), "-c", "import kfcheck; print(kfcheck.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True)  # fmt: skip
    assert where.stdout.startswith(str(installed)), where.stdout

    # a recorded run of the demo suite (two scenarios fail by design), its files copied out of the checkout
    demo = tmp_path / "demo"
    shutil.copytree(FIXTURES, demo)
    recorded = _kfcheck(installed, tmp_path, env, "run", "--reports", "recorded", str(demo / "demo.feature"),
                        "-b", str(demo / "steps"), "--no-ansi")  # fmt: skip
    assert recorded.returncode == 1, recorded.stdout + recorded.stderr
    assert "installing Cucumber's npm tools" in recorded.stderr, recorded.stderr
    if shutil.which("cucumber-json-formatter", path=env["PATH"]) is None:  # else that one is used
        assert "building Cucumber's json-formatter" in recorded.stderr, recorded.stderr

    # kfcheck report on those messages, elsewhere: every report, rc 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(tmp_path / "recorded" / "messages.ndjson", elsewhere / "messages.ndjson")
    report = _kfcheck(installed, elsewhere, env, "report", "messages.ndjson")
    assert report.returncode == 0, report.stdout + report.stderr
    features = json.loads((elsewhere / "cucumber.json").read_text())
    assert [feature["name"] for feature in features] == ["Demo of the report plumbing"]
    scenarios = len(reports.read_results(elsewhere / "messages.ndjson"))
    assert scenarios > 0 and (elsewhere / "junit.xml").read_text().count("<testcase ") == scenarios
    assert "<html" in (elsewhere / "cucumber.html").read_text()

    # the suite's own features and step files, from the wheel: a dry run touches no cluster
    dry = _kfcheck(installed, tmp_path, env, "run", "--reports", "dry", "-d", "--tags", "smoke", "--no-ansi")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    envelopes = reports.read_envelopes(tmp_path / "dry" / "messages.ndjson")
    sources = {envelope["source"]["uri"] for envelope in envelopes if "source" in envelope}
    steps = {envelope["stepDefinition"]["sourceReference"]["uri"] for envelope in envelopes
             if "stepDefinition" in envelope}  # fmt: skip
    bundled = installed / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    assert sources and all(uri.startswith(str(bundled / "kfcheck" / "bundled" / "features")) for uri in sources)
    assert steps and all(uri.startswith(str(bundled / "kfcheck")) for uri in steps), steps
    for name in ("cucumber.json", "junit.xml", "cucumber.html"):
        assert (tmp_path / "dry" / name).stat().st_size > 0

    gate = _kfcheck(installed, tmp_path, env, "gate", "dry/messages.ndjson", "dry/messages.ndjson")
    assert gate.returncode == 0, gate.stdout + gate.stderr
