"""HTML from the messages by @cucumber/html-formatter: one self-contained page, what the run found before its
first scenario on top."""

from __future__ import annotations

import html
import os
import subprocess
from pathlib import Path

from kfcheck.reports.messages import ReportError, read_envelopes, run_findings
from kfcheck.reports.node import node_binary, node_tools


def write_html(messages: str | Path, path: str | Path) -> Path:
    """One self-contained HTML page from the messages, by @cucumber/html-formatter."""
    node, npm_tools = node_binary(), node_tools()
    with Path(messages).open("rb") as source, Path(path).open("wb") as target:
        result = subprocess.run([str(node), str(npm_tools / "render-html.mjs")], stdin=source, stdout=target,
                                stderr=subprocess.PIPE, cwd=npm_tools, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ReportError(f"rendering {path} failed: {result.stderr.decode(errors='replace')[-2000:]}")
    _put_run_findings_on_top(Path(path), run_findings(read_envelopes(messages)))
    return Path(path)


def _put_run_findings_on_top(page: Path, findings: dict[str, str]) -> None:
    """The run's findings (what served each API) as plain text above the formatter's page, which shows run
    hooks only after every feature. Escaped: the page never runs what a cluster returned."""
    if not findings:
        return
    blocks = "".join(f'<h2>{html.escape(name)}</h2><pre style="white-space:pre-wrap">{html.escape(text)}</pre>'
                     for name, text in findings.items())  # fmt: skip
    section = f'<section id="kfcheck-run-findings" style="margin:1em 2em">{blocks}</section>'
    text = page.read_text(encoding="utf-8")
    if "<body>" not in text:
        raise ReportError(f"{page} has no <body>: the run's findings cannot be put on top")
    page.write_text(text.replace("<body>", f"<body>{section}", 1), encoding="utf-8")


def link_on_top(page: Path, target: Path, text: str) -> bool:
    """A link to `target` (relative to the page, e.g. the release gate's gate.md) with `text` above the page's
    content, once; False when there is no page to link from."""
    if not page.is_file():
        return False
    content = page.read_text(encoding="utf-8")
    marker = 'id="kfcheck-linked-report"'
    if "<body>" not in content or marker in content:
        return False
    href = html.escape(os.path.relpath(target, page.parent), quote=True)
    section = f'<section {marker} style="margin:1em 2em"><a href="{href}">{html.escape(text)}</a></section>'
    page.write_text(content.replace("<body>", f"<body>{section}", 1), encoding="utf-8")
    return True
