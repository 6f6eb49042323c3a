"""Cucumber Messages (NDJSON, the protocol of npm `@cucumber/messages`), the record of a run every report is
made from: their building blocks (timestamps, durations, source references, meta), Gherkin parsed by Cucumber's
own Python parser (gherkin-official), the file they are written to, line by line, and reading a run back: its
envelopes, whether it finished, its outcome and what its own hooks found.

A run that could not start gets a messages file too, holding one failed test case naming the cause and the
fix (write_start_failure); a file cut short by a crash is completed (complete_messages).
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import platform
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from gherkin.ast_builder import AstBuilder
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler
from gherkin.stream.id_generator import IdGenerator

MESSAGES_ENV = "KFCHECK_MESSAGES"  # where the radish hooks record the run's messages (set by `kfcheck run`)
GHERKIN_MEDIA_TYPE = "text/x.cucumber.gherkin+plain"
PROTOCOL_VERSION = "34.2.0"  # @cucumber/messages / cucumber-messages version whose schema the files follow

Envelope = dict[str, Any]


class ReportError(ValueError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("KFCHECK_CACHE", Path.home() / ".cache" / "kfcheck"))


# ---------------------------------------------------------------------------------------------------
# Message building blocks


def timestamp(seconds: float | None = None) -> dict[str, int]:
    now = time.time() if seconds is None else seconds
    return {"seconds": int(now), "nanos": int((now - int(now)) * 1e9)}


def duration(nanoseconds: int) -> dict[str, int]:
    return {"seconds": nanoseconds // 1_000_000_000, "nanos": nanoseconds % 1_000_000_000}


def duration_ns(value: dict[str, int] | None) -> int:
    return 0 if not value else int(value.get("seconds", 0)) * 1_000_000_000 + int(value.get("nanos", 0))


def relative_uri(path: str | Path) -> str:
    resolved = Path(path).resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def source_reference(function: Callable[..., Any]) -> dict[str, Any]:
    function = inspect.unwrap(function)
    while isinstance(function, functools.partial):  # a step row's call with fixed arguments
        function = inspect.unwrap(function.func)
    code = getattr(function, "__code__", None)
    if code is None:
        return {"uri": "(unknown)", "location": {"line": 1}}
    return {"uri": relative_uri(code.co_filename), "location": {"line": code.co_firstlineno}}


def meta() -> Envelope:
    return {
        "meta": {
            "protocolVersion": PROTOCOL_VERSION,
            "implementation": {"name": "kfcheck (radish-bdd)", "version": _radish_version()},
            "runtime": {"name": "python", "version": platform.python_version()},
            "os": {"name": platform.system().lower(), "version": platform.release()},
            "cpu": {"name": platform.machine()},
        }
    }


def _radish_version() -> str:
    try:
        from importlib.metadata import version

        return version("radish-bdd")
    except Exception:
        return "unknown"


def parse_gherkin(uri: str, text: str, ids: IdGenerator) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Gherkin document and pickles of one feature file, as Cucumber's parser makes them."""
    document = cast(dict[str, Any], Parser(AstBuilder(ids)).parse(text))
    document = {**document, "uri": uri}
    pickles = cast(list[dict[str, Any]], Compiler(ids).compile(cast(Any, document)))
    return document, pickles


def outline_row_name(outline_name: str, values: dict[str, str]) -> str:
    """An outline row's name: its placeholders filled in; a name without placeholders gets the values."""
    named = outline_name
    for header, value in values.items():
        named = named.replace(f"<{header}>", value)
    if named == outline_name and values:
        named += " (" + ", ".join(f"{header} = {value}" for header, value in values.items()) + ")"
    return named


class MessagesFile:
    """An NDJSON file of envelopes, each line flushed at once so that a killed run keeps what it did."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w", encoding="utf-8")

    def emit(self, envelope: Envelope) -> None:
        self._file.write(json.dumps(envelope, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


# ---------------------------------------------------------------------------------------------------
# Runs that could not start, files cut short


START_FAILURE_URI = "kfcheck-run-start-up.feature"


def write_start_failure(path: str | Path, title: str, cause: str, fix: str) -> Path:
    """A messages file with one failed test case: the run could not start; the error names cause and fix."""
    text = (
        "Feature: The kfcheck run could not start\n"
        f"  Scenario: {title[:1].upper()}{title[1:]}\n"
        "    Given the suite starts\n"
    )  # fmt: skip
    ids = IdGenerator()
    document, pickles = parse_gherkin(START_FAILURE_URI, text, ids)
    pickle = pickles[0]
    out = MessagesFile(path)
    now = timestamp()
    run_id, case_id, started_id, step_id = (str(uuid.uuid4()) for _ in range(4))
    message = f"{cause}\nFix: {fix}"
    for envelope in (
        meta(),
        {"source": {"uri": START_FAILURE_URI, "data": text, "mediaType": GHERKIN_MEDIA_TYPE}},
        {"gherkinDocument": document},
        {"pickle": pickle},
        {"testRunStarted": {"timestamp": now, "id": run_id}},
        {"testCase": {"id": case_id, "pickleId": pickle["id"], "testRunStartedId": run_id,
                      "testSteps": [{"id": step_id, "pickleStepId": pickle["steps"][0]["id"],
                                     "stepDefinitionIds": [], "stepMatchArgumentsLists": []}]}},
        {"testCaseStarted": {"id": started_id, "testCaseId": case_id, "attempt": 0, "timestamp": now}},
        {"testStepStarted": {"testCaseStartedId": started_id, "testStepId": step_id, "timestamp": now}},
        {"testStepFinished": {"testCaseStartedId": started_id, "testStepId": step_id, "timestamp": now,
                              "testStepResult": {"status": "FAILED", "duration": duration(0), "message": message,
                                                 "exception": {"type": "RunDidNotStart", "message": message}}}},
        {"testCaseFinished": {"testCaseStartedId": started_id, "timestamp": now, "willBeRetried": False}},
        {"testRunFinished": {"success": False, "timestamp": now, "testRunStartedId": run_id, "message": message}},
    ):  # fmt: skip
        out.emit(envelope)
    out.close()
    return Path(path)


def read_envelopes(path: str | Path) -> list[Envelope]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise ReportError(f"cannot read {path}: {error.strerror}") from None
    envelopes = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            envelopes.append(json.loads(line))
        except json.JSONDecodeError:
            if number == len(lines):
                break  # the last line of a killed run may be cut
            raise ReportError(f"{path}:{number} is not a Cucumber message") from None
    return envelopes


def is_complete(path: str | Path) -> bool:
    target = Path(path)
    return target.exists() and any("testRunFinished" in envelope for envelope in read_envelopes(target))


def run_outcome(path: str | Path) -> tuple[bool, str]:
    """(success, message) of the run's testRunFinished."""
    finished = next((e["testRunFinished"] for e in read_envelopes(path) if "testRunFinished" in e), None)
    if finished is None:
        return False, "the run did not finish"
    return bool(finished.get("success")), str(finished.get("message", ""))


def complete_messages(path: str | Path, cause: str) -> None:
    """Ends a messages file cut short (a crash, an aborted run): the open step fails with `cause`, open test
    cases finish, the run finishes unsuccessfully. A file without a started run is replaced by a start
    failure naming the cause."""
    target = Path(path)
    envelopes = read_envelopes(target) if target.exists() else []
    if not any("testRunStarted" in envelope for envelope in envelopes):
        write_start_failure(target, "radish stopped before the run started", cause,
                            "read the error above; run radish by hand with the same arguments to see it")  # fmt: skip
        return
    open_cases: dict[str, str | None] = {}  # testCaseStarted id -> its open test step id
    run_id = next(envelope["testRunStarted"].get("id") for envelope in envelopes if "testRunStarted" in envelope)
    for envelope in envelopes:
        if "testCaseStarted" in envelope:
            open_cases[envelope["testCaseStarted"]["id"]] = None
        elif "testStepStarted" in envelope:
            open_cases[envelope["testStepStarted"]["testCaseStartedId"]] = envelope["testStepStarted"]["testStepId"]
        elif "testStepFinished" in envelope:
            open_cases[envelope["testStepFinished"]["testCaseStartedId"]] = None
        elif "testCaseFinished" in envelope:
            open_cases.pop(envelope["testCaseFinished"]["testCaseStartedId"], None)
    lines = [json.dumps(envelope, ensure_ascii=False) for envelope in envelopes]
    now = timestamp()
    for started_id, step_id in open_cases.items():
        if step_id is not None:
            result = {"status": "FAILED", "duration": duration(0), "message": cause}
            lines.append(json.dumps({"testStepFinished": {"testCaseStartedId": started_id, "testStepId": step_id,
                                                          "testStepResult": result, "timestamp": now}}))  # fmt: skip
        lines.append(json.dumps({"testCaseFinished": {"testCaseStartedId": started_id, "timestamp": now,
                                                      "willBeRetried": False}}))  # fmt: skip
    finished = {"success": False, "timestamp": now, "message": cause, "testRunStartedId": run_id}
    lines.append(json.dumps({"testRunFinished": finished}))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_findings(envelopes: list[Envelope]) -> dict[str, str]:
    """The text attachments of the run's own hooks (RunRecorder.run_hook) by name, e.g. what served each API."""
    found = {}
    for envelope in envelopes:
        attachment = envelope.get("attachment", {})
        if attachment.get("testRunHookStartedId") and attachment.get("mediaType") == "text/plain":
            name = attachment.get("fileName", "")
            found[name] = attachment.get("body", "").removeprefix(f"### {name}\n")
    return found
