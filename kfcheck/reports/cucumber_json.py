"""cucumber JSON from the messages by Cucumber's json-formatter (Go; found or installed by
kfcheck.reports.tools), outline rows then named with their values and text evidence folded into the steps'
errors."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from kfcheck.reports import tools
from kfcheck.reports.messages import Envelope, ReportError, read_envelopes, run_findings


def json_formatter_binary() -> Path:
    """Cucumber's json-formatter, found or built into the cache (kfcheck.reports.tools)."""
    try:
        return tools.json_formatter()
    except tools.ToolError as error:
        raise ReportError(str(error)) from None


def write_cucumber_json(messages: str | Path, path: str | Path) -> Path:
    """cucumber JSON from the messages by Cucumber's json-formatter, then two fixes: outline rows carry their
    pickle's name (the json-formatter names them by the outline, placeholders and all), and text evidence
    moves from `embeddings` into the step's error_message (no schema of @cucumber/cucumber-json-converter
    allows `embeddings` or `output`; the HTML report shows the evidence as attachments)."""
    binary = json_formatter_binary()
    with Path(messages).open("rb") as source:
        result = subprocess.run([str(binary)], stdin=source, capture_output=True, check=False)
    if result.returncode != 0:
        raise ReportError(f"the json-formatter failed on {messages}: {result.stderr.decode(errors='replace')[-2000:]}")
    features = json.loads(result.stdout)
    envelopes = read_envelopes(messages)
    row_names = _outline_row_names(envelopes)
    findings = "\n\n".join(f"{name}:\n{text}" for name, text in run_findings(envelopes).items())
    for feature in features:
        if findings:  # what the run found before its scenarios (what served each API): at the top of each feature
            feature["description"] = f"{findings}\n\n{feature.get('description', '')}".rstrip()
        for element in feature.get("elements", []):
            name = row_names.get((feature.get("uri"), element.get("line")))
            if element.get("type") == "scenario" and name:
                element["name"] = name
            for step in [*element.get("before", []), *element.get("steps", []), *element.get("after", [])]:
                fold_evidence(step)
    target = Path(path)
    target.write_text(json.dumps(features, indent=2, ensure_ascii=False), encoding="utf-8")
    return target


def fold_evidence(step: dict[str, Any]) -> None:
    """Moves a step's embeddings and output into its error_message, text as text (binary ones are named)."""
    parts = []
    for embedding in step.pop("embeddings", []):
        media_type = str(embedding.get("mime_type", ""))
        data = base64.b64decode(str(embedding.get("data", "")))
        if media_type.startswith("text/") or media_type == "application/json":
            parts.append(data.decode("utf-8", errors="replace"))
        else:
            parts.append(f"({len(data)} bytes of {media_type}: see the HTML report)")
    parts += [str(line) for line in step.pop("output", [])]
    if parts:
        result = step.setdefault("result", {"status": "skipped"})
        evidence = "\n\n".join(f"--- evidence ---\n{part}" for part in parts)
        result["error_message"] = f"{result.get('error_message', '').rstrip()}\n\n{evidence}".lstrip()


def _outline_row_names(envelopes: list[Envelope]) -> dict[tuple[str, int], str]:
    return {
        (envelope["pickle"]["uri"], envelope["pickle"]["location"]["line"]): envelope["pickle"]["name"]
        for envelope in envelopes
        if "pickle" in envelope and len(envelope["pickle"]["astNodeIds"]) > 1 and "location" in envelope["pickle"]
    }
