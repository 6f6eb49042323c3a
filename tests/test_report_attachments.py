"""Every attachment of a run reaches every report made from its messages (issue 21): the messages, the
json-formatter's cucumber JSON (embeddings of steps and of before/after hooks), the cucumber.json kfcheck
writes (evidence folded into error_message) and the JUnit XML's system-out hold as many per scenario. The
scenario's time and usage tables (kfcheck.bdd.timing_tables, attached at its end) are on an after hook step.
JUnit times have at most 3 decimals, as the released junit-10.xsd of Jenkins' xUnit plugin requires."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from kfcheck import reports
from kfcheck.bdd.timing_tables import PHASES_KIND
from kfcheck.measure import usage
from tests.test_radish_reports import FIXTURES, JUNIT_XSD, REPO, kfcheck_run

JUNIT_XSD_SHA256 = "a1a816f58d1bf95ebabf371994df0b9246dee66ea9572fbec4f9296f1b2c0ff6"  # tests/data/README.md
TIMING_HOOK = "where the scenario's time went"


@pytest.fixture(scope="module")
def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("reports")
    code, output = kfcheck_run(directory, str(FIXTURES / "demo.feature"), "-b", str(FIXTURES / "steps"), "--no-ansi")
    assert code != 0, output  # scenarios fail by design
    assert (directory / "junit.xml").exists() and (directory / "cucumber.json").exists(), output
    return directory


def messages_attachments(messages: Path) -> Counter[str]:
    """Attachments per scenario (its pickle's name) in a messages file."""
    envelopes = reports.read_envelopes(messages)
    pickle_names = {e["pickle"]["id"]: e["pickle"]["name"] for e in envelopes if "pickle" in e}
    case_pickles = {e["testCase"]["id"]: e["testCase"]["pickleId"] for e in envelopes if "testCase" in e}
    started = {
        e["testCaseStarted"]["id"]: pickle_names[case_pickles[e["testCaseStarted"]["testCaseId"]]]
        for e in envelopes
        if "testCaseStarted" in e
    }
    return Counter(started[e["attachment"]["testCaseStartedId"]] for e in envelopes
                   if "testCaseStartedId" in e.get("attachment", {}))  # fmt: skip


def run_attachments(messages: Path) -> list[str]:
    """The run's own text attachments (its BeforeAll hooks: what served each API), not any scenario's."""
    attachments = [e["attachment"] for e in reports.read_envelopes(messages) if "attachment" in e]
    return [a["body"].split("\n", 1)[1] for a in attachments
            if "testRunHookStartedId" in a and a["mediaType"] == "text/plain"]  # fmt: skip


def _steps_and_hooks(element: dict[str, Any]) -> list[dict[str, Any]]:
    return [*element.get("before", []), *element.get("steps", []), *element.get("after", [])]


def json_formatter_output(messages: Path) -> list[dict[str, Any]]:
    with messages.open("rb") as source:
        result = subprocess.run([str(reports.json_formatter_binary())], stdin=source, capture_output=True, check=True)
    features: list[dict[str, Any]] = json.loads(result.stdout)
    return features


def embeddings(features: list[dict[str, Any]], names: dict[int, str]) -> Counter[str]:
    """Embeddings per scenario in the json-formatter's own output (elements named as their line's pickle)."""
    return Counter(
        {
            names[element["line"]]: sum(len(step.get("embeddings", [])) for step in _steps_and_hooks(element))
            for feature in features
            for element in feature["elements"]
            if element.get("type") == "scenario"
        }
    )


def folded_evidence(features: list[dict[str, Any]]) -> Counter[str]:
    """Evidence parts per scenario in kfcheck's cucumber.json (reports.fold_evidence)."""
    return Counter(
        {
            element["name"]: sum(
                step.get("result", {}).get("error_message", "").count("--- evidence ---\n")
                for step in _steps_and_hooks(element)
            )
            for feature in features
            for element in feature["elements"]
            if element.get("type") == "scenario"
        }
    )


def junit_evidence(junit: Path) -> Counter[str]:
    """Evidence blocks per testcase in the JUnit XML's system-out (reports.write_junit: `--- name ---`)."""
    return Counter(
        {
            case.get("name"): len(re.findall(r"^--- .+ ---$", case.findtext("system-out") or "", re.MULTILINE))
            for case in etree.parse(str(junit)).iter("testcase")
        }
    )


def test_every_attachment_reaches_cucumber_json_and_junit(run_directory: Path) -> None:
    messages = run_directory / "messages.ndjson"
    attached = messages_attachments(messages)
    scenarios = {e["pickle"]["name"] for e in reports.read_envelopes(messages) if "pickle" in e}
    assert set(attached) == scenarios, "every scenario has its time and usage tables at least"
    lines = {e["pickle"]["location"]["line"]: e["pickle"]["name"] for e in reports.read_envelopes(messages)
             if "pickle" in e}  # fmt: skip
    formatted = json_formatter_output(messages)
    assert +embeddings(formatted, lines) == attached  # the json-formatter keeps each one
    assert +folded_evidence(reports.load(run_directory / "cucumber.json")) == attached
    assert +junit_evidence(run_directory / "junit.xml") == attached
    hook_embeddings = [embedding for feature in formatted for element in feature["elements"]
                       for hook in element.get("after", []) for embedding in hook.get("embeddings", [])]  # fmt: skip
    assert sum(embedding["mime_type"] == "application/json" for embedding in hook_embeddings) == 2 * len(scenarios)
    run_level = run_attachments(messages)
    assert run_level, "the demo reports what served each API for the run"
    for feature in reports.load(run_directory / "cucumber.json"):  # the run's own: at the top of each feature
        for body in run_level:
            assert body in feature["description"]


def test_hook_steps_are_listed_in_the_order_they_run(run_directory: Path) -> None:
    envelopes = reports.read_envelopes(run_directory / "messages.ndjson")
    hook_names = {e["hook"]["id"]: e["hook"]["name"] for e in envelopes if "hook" in e}
    assert TIMING_HOOK in hook_names.values()
    for case in (e["testCase"] for e in envelopes if "testCase" in e):
        started_id = next(e["testCaseStarted"]["id"] for e in envelopes
                          if "testCaseStarted" in e and e["testCaseStarted"]["testCaseId"] == case["id"])  # fmt: skip
        ran = [e["testStepStarted"]["testStepId"] for e in envelopes
               if "testStepStarted" in e and e["testStepStarted"]["testCaseStartedId"] == started_id]  # fmt: skip
        listed = [step["id"] for step in case["testSteps"] if step["id"] in ran]
        assert listed == ran
        after = [hook_names[step["hookId"]] for step in case["testSteps"] if "hookId" in step][-1]
        assert after == TIMING_HOOK, "the tables are attached last, after the scenario's clean-up"


def test_the_tables_reach_the_bench_and_the_gate(run_directory: Path) -> None:
    messages = run_directory / "messages.ndjson"
    scenarios = len(reports.read_results(messages))
    phase_tables = usage.attachments(messages, PHASES_KIND)
    assert len(phase_tables) == scenarios and all(table["namespace"] == "demo" for table in phase_tables)
    assert len(usage.attachments(messages, usage.KIND)) == scenarios
    bench = subprocess.run([sys.executable, "bench/scenario_phases.py", str(messages)], cwd=REPO,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert "no phase table attached" not in bench.stdout


def test_junit_times_have_at_most_3_decimals_as_the_released_schema_requires(run_directory: Path) -> None:
    assert hashlib.sha256(JUNIT_XSD.read_bytes()).hexdigest() == JUNIT_XSD_SHA256
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    junit = etree.parse(str(run_directory / "junit.xml"))
    assert schema.validate(junit), schema.error_log
    times = [element.get("time") for element in junit.iter("testsuites", "testsuite", "testcase")]
    assert times and all(re.fullmatch(r"\d+\.\d{3}", str(time)) for time in times), times
    suite = next(junit.iter("testsuite"))
    suite.set("time", "57.05731743300001")  # what write_junit wrote before: Jenkins refuses it
    assert not schema.validate(junit)


def test_junit_rounds_each_time_to_milliseconds(tmp_path: Path) -> None:
    steps = [reports.StepResult("Given ", "a step", "passed", 57_057_317_433),
             reports.StepResult("Then ", "another", "passed", 1_000_000_001)]  # fmt: skip
    results = [reports.ScenarioResult("f;s", "F", "S", "f.feature", 3, steps),
               reports.ScenarioResult("f;t", "F", "T", "f.feature", 9, steps[1:])]  # fmt: skip
    junit = etree.parse(str(reports.write_junit(results, tmp_path / "junit.xml")))
    assert [case.get("time") for case in junit.iter("testcase")] == ["58.057", "1.000"]
    assert next(junit.iter("testsuite")).get("time") == "59.057"
    assert junit.getroot().get("time") == "59.057"
