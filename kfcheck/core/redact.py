"""Redaction of secret values in evidence attached to reports (object YAML, logs, events)."""

from __future__ import annotations

import copy
import re
from typing import Any

REDACTED = "<redacted>"
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY)", re.I)
_TEXT_PATTERNS = [
    (
        re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)"),
        r"\1 <redacted> \2",
    ),
    (re.compile(r"(?i)(authorization:\s*bearer\s+)\S+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_.=]{16,}"), r"\1" + REDACTED),
    (re.compile(r"(?i)((?:client-key-data|client-certificate-data|token|password)\s*[:=]\s*)\S+"), r"\1" + REDACTED),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_object(obj: Any) -> Any:
    """A copy of a Kubernetes object (dict form) with secret values replaced."""
    result = copy.deepcopy(obj)
    _redact_in_place(result)
    return result


def _redact_in_place(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("kind") == "Secret":
            for key in ("data", "stringData"):
                if isinstance(node.get(key), dict):
                    node[key] = dict.fromkeys(node[key], REDACTED)
        if isinstance(node.get("name"), str) and "value" in node and _SECRET_NAME.search(node["name"]):
            node["value"] = REDACTED  # an env var whose name says it is secret
        for key, value in list(node.items()):
            if key == "last-applied-configuration" or key == "kubectl.kubernetes.io/last-applied-configuration":
                node[key] = REDACTED
            elif isinstance(value, str):
                node[key] = redact_text(value)
            else:
                _redact_in_place(value)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str):
                node[index] = redact_text(item)
            else:
                _redact_in_place(item)
