"""Where the suite's own files are. In a checkout: its folders features/, radish/ (the step files),
tools/cucumber-reports/ (Cucumber's npm tools: package.json, the lockfile, the scripts) and
cluster/modules/cucumber-json-formatter/ (the json-formatter's Go module). Installed from a wheel: their
copies under kfcheck/bundled/, where pyproject.toml maps each of those folders as package data.

`kfcheck run` gives radish the suite's features and step files when its arguments name none
(radish_arguments), so an installed kfcheck runs the suite from any directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # kfcheck/
BUNDLED = PACKAGE / "bundled"  # only in an installed wheel
CHECKOUT = PACKAGE.parent

# radish 0.18's options that take a value as the next argument (its own and its extensions');
# tests/test_installed.py checks this list against radish's usage.
RADISH_VALUE_OPTIONS = frozenset({
    "-b", "--basedir", "-m", "--marker", "-s", "--scenarios", "--tags", "-f", "--formatter", "-u", "--user-data",
    "--junit-xml", "--cucumber-json", "--bdd-xml", "--cover-packages", "--cover-config-file",
    "--cover-min-percentage", "--cover-html", "--cover-xml",
})  # fmt: skip


def _path(in_checkout: str, bundled: str) -> Path:
    return BUNDLED / bundled if BUNDLED.is_dir() else CHECKOUT / in_checkout


def features_dir() -> Path:
    return _path("features", "features")


def steps_dir() -> Path:
    """radish's base dir (-b): stepfile.py and terrain.py."""
    return _path("radish", "radish")


def report_tools_dir() -> Path:
    """package.json, package-lock.json and the scripts of Cucumber's npm tools (kfcheck.reports.tools)."""
    return _path("tools/cucumber-reports", "cucumber_reports")


def json_formatter_module() -> Path:
    """The wrapper Go module (go.mod, go.sum) that pins Cucumber's json-formatter."""
    return _path("cluster/modules/cucumber-json-formatter", "json_formatter")


def radish_arguments(arguments: Sequence[str]) -> list[str]:
    """radish's arguments, plus the suite's features when they name no feature path, and the suite's step
    files (-b) when they name no base dir."""
    names_features = names_basedir = value_follows = False
    for argument in arguments:
        if value_follows:
            value_follows = False
        elif argument.startswith("-") and argument != "-":
            name = argument.split("=", 1)[0]
            names_basedir |= name == "--basedir" or argument.startswith("-b")  # -b DIR, -bDIR, -b=DIR
            value_follows = "=" not in argument and name in RADISH_VALUE_OPTIONS
        else:
            names_features = True
    added = ([] if names_features else [str(features_dir())]) + ([] if names_basedir else ["-b", str(steps_dir())])
    return [*arguments, *added]
