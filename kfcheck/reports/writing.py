"""Every report of a run, made from its messages: cucumber.json, junit.xml and cucumber.html beside them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kfcheck.reports.cucumber_json import write_cucumber_json
from kfcheck.reports.html import write_html
from kfcheck.reports.junit import write_junit
from kfcheck.reports.messages import ReportError
from kfcheck.reports.results import read_results


@dataclass
class Written:
    paths: list[Path]
    errors: list[str]


def write_reports(messages: str | Path, directory: str | Path) -> Written:
    """cucumber.json, junit.xml and cucumber.html next to the messages; each report that can be written is."""
    target = Path(directory)
    written, errors = [], []
    steps: list[tuple[str, Callable[[], Path]]] = [
        ("cucumber JSON", lambda: write_cucumber_json(messages, target / "cucumber.json")),
        ("JUnit XML", lambda: write_junit(read_results(messages), target / "junit.xml")),
        ("HTML", lambda: write_html(messages, target / "cucumber.html")),
    ]
    for what, write in steps:
        try:
            written.append(write())
        except (ReportError, OSError, ValueError) as error:
            errors.append(f"{what}: {error}")
    return Written(written, errors)
