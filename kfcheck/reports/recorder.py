"""Recording a radish run as Cucumber Messages: RunRecorder turns radish's hooks into the feature sources,
their Gherkin documents and pickles, step definitions, hooks, test cases, test steps with their results and
durations, and the evidence (radish's embeddings) as attachments."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gherkin.stream.id_generator import IdGenerator

from kfcheck.reports.messages import (
    GHERKIN_MEDIA_TYPE,
    Envelope,
    MessagesFile,
    duration,
    meta,
    parse_gherkin,
    relative_uri,
    source_reference,
    timestamp,
)


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

    def finish(self, interrupted: str | None = None, cleanup_failures: list[str] | None = None) -> None:
        """`cleanup_failures`: what the run's own cleanup (its end-of-run sweep) could not remove."""
        if self.finished:
            return
        for case in self.cases.values():
            if case.started_id:
                self._close(case, interrupted)
        success = self.success and not interrupted and not self.unrecorded and not cleanup_failures
        finished: Envelope = {"success": success, "timestamp": timestamp(), "testRunStartedId": self.run_id}
        if interrupted:
            finished["message"] = f"the run was interrupted ({interrupted}); scenarios after it did not run"
        elif self.unrecorded:
            finished["message"] = "ran but not in the reports: " + "; ".join(self.unrecorded)
        elif cleanup_failures:
            finished["message"] = "the run's cleanup failed: " + "; ".join(cleanup_failures)
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
