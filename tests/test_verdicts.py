"""Verdicts that say no more than was checked, read from the reports themselves (real radish runs of
tests/radish_fixtures/verdicts.feature through `kfcheck run`): a skip carries its reason in the messages,
cucumber JSON, JUnit and the console; a failed cleanup fails its scenario and the run, with evidence; strict
mode fails what would be skipped; the gate calls a run with a failed cleanup inconclusive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from kfcheck import reports
from kfcheck.bdd.support import STRICT_FAILURE
from kfcheck.reports import gate
from kfcheck.reports.recorder import RunRecorder

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "radish_fixtures"
FEATURE = "verdicts-that-say-what-was-checked"
NO_PERMISSION = "the run may not create pods in namespace demo"
NOT_SERVED = "the cluster serves no demo.example/v1 API"


def kfcheck_run(directory: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "kfcheck", "run", "--reports", str(directory), str(FIXTURES / "verdicts.feature"),
         "-b", str(FIXTURES / "steps"), "--no-ansi", *extra],
        capture_output=True, text=True, timeout=180, check=False, cwd=REPO, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    directory = tmp_path_factory.mktemp("verdicts")
    code, output = kfcheck_run(directory)
    return code, output, directory


def elements(directory: Path) -> dict[str, dict[str, Any]]:
    return {element["id"]: element for feature in reports.load(directory / "cucumber.json")
            for element in feature["elements"]}  # fmt: skip


def junit_cases(directory: Path) -> dict[str, Any]:
    return {case.get("name"): case for case in etree.parse(str(directory / "junit.xml")).iter("testcase")}


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [("The run lacks a permission it needs", NO_PERMISSION), ("Its API is not served either", NOT_SERVED)],
)
def test_a_skip_carries_its_reason_in_every_report(run: tuple[int, str, Path], scenario: str, reason: str) -> None:
    _, output, directory = run
    result = next(r for r in reports.read_results(directory / "messages.ndjson") if r.name == scenario)
    assert result.status == "skipped" and result.skip_reason == reason
    envelopes = reports.read_envelopes(directory / "messages.ndjson")
    results = [e["testStepFinished"]["testStepResult"] for e in envelopes if "testStepFinished" in e]
    assert {"status": "SKIPPED", "message": reason} in [{k: r.get(k) for k in ("status", "message")} for r in results]
    first_step = elements(directory)[f"{FEATURE};{scenario.lower().replace(' ', '-')}"]["steps"][0]
    assert first_step["result"] == {**first_step["result"], "status": "skipped", "error_message": reason}
    skipped = junit_cases(directory)[scenario].find("skipped")
    assert skipped is not None and skipped.get("message") == reason
    assert f"skipped: Verdicts that say what was checked: {scenario}: {reason}" in output


def test_a_failed_cleanup_fails_its_scenario_and_the_run_with_evidence(run: tuple[int, str, Path]) -> None:
    code, output, directory = run
    assert code == 1, output
    assert reports.run_outcome(directory / "messages.ndjson")[0] is False
    results = {r.name: r for r in reports.read_results(directory / "messages.ndjson")}
    failed = results["Its cleanup fails"]
    assert failed.status == "failed" and failed.tested_status == "passed"
    assert "left behind: Pod demo/demo-0" in failed.cleanup_failure
    hook = next(step for step in failed.steps if step.keyword == "After ")
    assert hook.status == "failed" and any("kind: Pod" in text for _, _, text in hook.attachments)
    assert results["Everything passes and is cleaned up"].status == "passed"
    after = [step for step in elements(directory)[f"{FEATURE};its-cleanup-fails"]["after"]
             if step["result"]["status"] != "passed"]  # fmt: skip
    assert [step["result"]["status"] for step in after] == ["failed"]
    assert "left behind: Pod demo/demo-0" in after[0]["result"]["error_message"]
    assert "kind: Pod" in after[0]["result"]["error_message"]  # the evidence, folded in
    failure = junit_cases(directory)["Its cleanup fails"].find("failure")
    assert failure is not None and "left behind: Pod demo/demo-0" in failure.get("message")


def test_plain_radish_exits_non_zero_on_a_failed_cleanup(tmp_path: Path) -> None:
    radish = Path(sys.executable).with_name("radish")
    result = subprocess.run(
        [str(radish), str(FIXTURES / "verdicts.feature"), "-b", str(FIXTURES / "steps"), "--no-ansi",
         "--tags", "cleanup-fails"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cleanup(s) failed; the run fails" in result.stderr


def test_strict_mode_fails_what_would_be_skipped_naming_the_reason(tmp_path: Path) -> None:
    code, output = kfcheck_run(tmp_path, "-u", "strict=true", env={"DEMO_CLEANUP_WORKS": "1"})
    assert code == 1, output
    results = {r.name: r for r in reports.read_results(tmp_path / "messages.ndjson")}
    for scenario, reason in (("The run lacks a permission it needs", NO_PERMISSION),
                             ("Its API is not served either", NOT_SERVED)):  # fmt: skip
        assert results[scenario].status == "failed"
        assert results[scenario].failure().endswith(f"{STRICT_FAILURE}: {reason}")
    assert results["Its cleanup fails"].status == "passed"


def test_the_gate_calls_a_failed_cleanup_inconclusive_naming_what_was_left(
    run: tuple[int, str, Path], tmp_path: Path
) -> None:
    code, output = kfcheck_run(tmp_path, env={"DEMO_CLEANUP_WORKS": "1"})
    assert code == 0, output  # skips alone do not fail a run that is not strict
    verdict = gate.compare_files(tmp_path / "messages.ndjson", run[2] / "messages.ndjson")
    assert verdict.regressions == [] and verdict.outcome == "inconclusive"
    assert len(verdict.left_behind) == 1 and "after: " in verdict.left_behind[0]
    assert "Pod demo/demo-0" in verdict.left_behind[0]
    assert "CLEANUP FAILED" in gate.render(verdict)


def test_what_served_each_api_is_at_the_top_of_every_report(run: tuple[int, str, Path]) -> None:
    _, _, directory = run
    assert "valid envelopes" in reports.validate_messages(directory / "messages.ndjson")
    found = reports.run_findings(reports.read_envelopes(directory / "messages.ndjson"))
    assert "kfcheck stand-in following Kubeflow v1.10.0" in found["what served each Kubeflow API"]
    for feature in reports.load(directory / "cucumber.json"):
        assert feature["description"].startswith("what served each Kubeflow API:\nDemo (demo.example/v1)")
    assert "valid cucumber JSON" in reports.validate_cucumber_json(directory / "cucumber.json")


def test_plain_radish_writes_its_reports_when_the_run_cannot_start(tmp_path: Path) -> None:
    """The paper's way (`radish features/ --cucumber-json X --junit-xml Y`) against a cluster that does not
    answer: both files are written, holding the failed start, its cause and the fix."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    radish = Path(sys.executable).with_name("radish")
    result = subprocess.run(
        [str(radish), str(REPO / "features" / "pytorchjob.feature"), "-b", str(REPO / "radish"), "--no-ansi",
         "--cucumber-json", str(tmp_path / "cucumber.json"), "--junit-xml", str(tmp_path / "junit.xml")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    (started,) = reports.read_results(tmp_path / "cucumber.json")
    assert started.status == "failed" and "https://127.0.0.1:1" in started.failure()
    assert "make up" in started.steps[0].message  # the fix
    (case,) = junit_cases(tmp_path).values()
    failure = case.find("failure")
    assert failure is not None and "https://127.0.0.1:1" in failure.get("message")


def test_what_served_each_api_is_shown_first_on_the_html_page(run: tuple[int, str, Path]) -> None:
    """Above the features, as text a reader sees first (the formatter shows run hooks only at the end)."""
    page = (run[2] / "cucumber.html").read_text()
    body = page.split("<body>", 1)[1]
    assert body.startswith('<section id="kfcheck-run-findings"')
    assert "kfcheck stand-in following Kubeflow v1.10.0</pre></section>" in body.split("<script", 1)[0]


def test_a_failed_cleanup_of_the_whole_run_fails_its_messages(tmp_path: Path) -> None:
    """The end-of-run sweep that cannot remove what the run left is not only printed: the run fails."""
    recorder = RunRecorder(tmp_path / "messages.ndjson")
    recorder.finish(None, ["could not sweep this run's leftovers: 403 forbidden"])
    assert reports.run_outcome(tmp_path / "messages.ndjson") == (
        False,
        "the run's cleanup failed: could not sweep this run's leftovers: 403 forbidden",
    )
