"""The one place that writes reports: radish's cucumber JSON made to say what consumers expect.

radish 0.18.4 writes step keywords without their trailing space and leaves them in the step name,
uses run-local integer ids, writes untested steps as `pending` (cucumber's "not implemented") and can
leave a failed step without `error_message`. normalise() fixes each, in place, so the Jenkins
Cucumber Reports plugin and cucumber-html-reporter read the run right.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

_ROW = re.compile(r"^(?P<name>.*) - row (?P<row>\d+)$")
_ITERATION = re.compile(r"^(?P<name>.*) - iteration (?P<iteration>\d+)$")


# The error of a step that failed because the suite itself could not test (kfcheck.radish_support):
# such a scenario says nothing about Kubeflow, and the gate counts it apart from regressions.
COULD_NOT_RUN = "kfcheck could not run this scenario"


class ReportError(ValueError):
    pass


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def element_id(feature_id: str, name: str) -> str:
    row = _ROW.match(name)
    if row:
        # cucumber's convention: examples rows are numbered from the header row, which is 1
        return f"{feature_id};{slug(row['name'])};examples;{int(row['row']) + 2}"
    iteration = _ITERATION.match(name)
    if iteration:
        return f"{feature_id};{slug(iteration['name'])};iteration;{int(iteration['iteration']) + 1}"
    return f"{feature_id};{slug(name)}"


def normalise(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for feature in features:
        feature_id = slug(feature.get("name", "feature"))
        feature["id"] = feature_id
        _fix_tag_lines(feature)
        for element in feature.get("elements", []):
            element["id"] = element_id(feature_id, element.get("name", ""))
            _fix_tag_lines(element)
            failed_before = False
            for step in element.get("steps", []):
                _split_keyword(step)
                result = step.setdefault("result", {"status": "skipped"})
                status = result.get("status")
                if status in ("pending", "untested") or (failed_before and status != "failed"):
                    result["status"] = "skipped"
                if result.get("status") == "failed":
                    failed_before = True
                    if not result.get("error_message"):
                        result["error_message"] = "the step failed without a message"
    return features


def _split_keyword(step: dict[str, Any]) -> None:
    keyword = step.get("keyword", "").strip()
    name = step.get("name", "")
    if keyword and name.startswith(keyword + " "):
        step["name"] = name[len(keyword) + 1 :]
    if keyword:
        step["keyword"] = keyword + " "


def _fix_tag_lines(node: dict[str, Any]) -> None:
    """radish computes tag lines as if each tag had its own line; suite tags share the line above."""
    line = node.get("line")
    if isinstance(line, int):
        for tag in node.get("tags", []):
            tag["line"] = max(1, line - 1)
        for tag in node.get("tags", []):
            if not str(tag.get("name", "")).startswith("@"):
                tag["name"] = "@" + str(tag.get("name", ""))


def load(path: str | Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as error:
        raise ReportError(f"cannot read {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not JSON: {error}") from None
    if not isinstance(data, list):
        raise ReportError(f"{path} is not a cucumber JSON report (top level is not a list of features)")
    return data


def normalise_file(path: str | Path) -> None:
    target = Path(path)
    if not target.exists():
        return
    features = normalise(load(target))
    target.write_text(json.dumps(features, indent=2))


def scenario_status(element: dict[str, Any]) -> str:
    """passed | failed | skipped, or "could not run" when the failed step's error is the suite's own."""
    results = [step.get("result", {}) for step in element.get("steps", [])]
    statuses = [result.get("status", "skipped") for result in results]
    if "failed" in statuses:
        error = results[statuses.index("failed")].get("error_message") or ""
        return "could not run" if error.startswith(COULD_NOT_RUN) else "failed"
    if not statuses or any(status != "passed" for status in statuses):
        return "skipped"
    return "passed"


def scenario_statuses(features: list[dict[str, Any]]) -> dict[str, str]:
    """scenario id -> passed | failed | skipped; ids are made stable first."""
    statuses = {}
    for feature in normalise(features):
        for element in feature.get("elements", []):
            if element.get("type", "scenario") == "scenario":
                statuses[element["id"]] = scenario_status(element)
    return statuses


def scenario_failures(features: list[dict[str, Any]]) -> dict[str, str]:
    """scenario id -> "<failed step> (failed after <s>): <first line of its error>" for each failed scenario."""
    failures = {}
    for feature in normalise(features):
        for element in feature.get("elements", []):
            for step in element.get("steps", []):
                result = step.get("result", {})
                if result.get("status") == "failed":
                    error = (result.get("error_message") or "").strip().splitlines()
                    sentence = f"{step.get('keyword', '').strip()} {step.get('name', '')}".strip()
                    nanoseconds = result.get("duration")
                    after = f" (failed after {nanoseconds / 1e9:.1f}s)" if nanoseconds is not None else ""
                    failures[element["id"]] = f"{sentence}{after}: {error[0] if error else '(no error message)'}"
                    break
    return failures


def summary(features: list[dict[str, Any]]) -> str:
    statuses = list(scenario_statuses(features).values())
    counts = [f"{statuses.count(status)} {status}" for status in ("passed", "failed", "skipped")]
    if "could not run" in statuses:
        counts.append(f"{statuses.count('could not run')} could not run")
    return ", ".join(counts)


HTML_TOOL = Path(__file__).resolve().parents[1] / "tools" / "html-report"


def _reporter_dir() -> Path:
    """cucumber-html-reporter installed from the committed lockfile into the cache (once per lockfile)."""
    cache = Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck")) / "node" / "html-report"
    lock = (HTML_TOOL / "package-lock.json").read_bytes()
    stamp = cache / ".lock.sha256"
    wanted = hashlib.sha256(lock).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and (cache / "node_modules").exists():
        return cache
    if shutil.which("npm") is None:
        raise ReportError("npm is not installed: the HTML report needs Node.js and npm (Debian packages nodejs, npm)")
    cache.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "render.js"):
        shutil.copy(HTML_TOOL / name, cache / name)
    result = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=cache, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ReportError(f"installing cucumber-html-reporter failed:\n{(result.stdout + result.stderr)[-2000:]}")
    stamp.write_text(wanted)
    return cache


def render_html(json_path: str | Path, html_path: str | Path) -> Path:
    """HTML from the (normalised) cucumber JSON, rendered by cucumber-html-reporter."""
    reporter = _reporter_dir()
    shutil.copy(HTML_TOOL / "render.js", reporter / "render.js")
    result = subprocess.run(
        ["node", str(reporter / "render.js"), str(Path(json_path).resolve()), str(Path(html_path).resolve())],
        cwd=reporter,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not Path(html_path).exists():
        raise ReportError(f"rendering {html_path} failed:\n{(result.stdout + result.stderr)[-2000:]}")
    return Path(html_path)
