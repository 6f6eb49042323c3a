"""radish's own cucumber JSON (`radish --cucumber-json`, hand runs), made readable by normalise(): radish 0.18.4
leaves the keyword in the step name, uses run-local integer ids and writes untested steps as `pending`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from kfcheck.reports.cucumber_json import fold_evidence
from kfcheck.reports.messages import ReportError

_ROW = re.compile(r"^(?P<name>.*) - row (?P<row>\d+)$")
_ITERATION = re.compile(r"^(?P<name>.*) - iteration (?P<iteration>\d+)$")


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
        feature.pop("type", None)
        _fix_tag_lines(feature)
        for element in feature.get("elements", []):
            element["id"] = element_id(feature_id, element.get("name", ""))
            _fix_tag_lines(element)
            failed_before = False
            for step in element.get("steps", []):
                _split_keyword(step)
                result = step.setdefault("result", {"status": "skipped"})
                for key in ("starttime", "endtime"):
                    result.pop(key, None)
                status = result.get("status")
                if status in ("pending", "untested") or (failed_before and status != "failed"):
                    result["status"] = "skipped"
                if result.get("status") == "failed":
                    failed_before = True
                    if not result.get("error_message"):
                        result["error_message"] = "the step failed without a message"
                fold_evidence(step)
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
