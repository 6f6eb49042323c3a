"""Reading a run back: one result per scenario, for JUnit, the summary and the gate, from the messages or from
cucumber JSON (the json-formatter's, or radish's own once normalised)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfcheck.reports.messages import Envelope, duration_ns, read_envelopes
from kfcheck.reports.radish_json import load, normalise

# The error of a step that failed because the suite itself could not test (kfcheck.bdd.support):
# such a scenario says nothing about Kubeflow, and the gate counts it apart from regressions.
COULD_NOT_RUN = "kfcheck could not run this scenario"


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
