"""Real radish runs of a tiny suite (tests/radish_fixtures): reports are normalised for cucumber
consumers, a failing set-up hook fails only its scenario, --dry-run runs no step body, tags with '@'
are refused, and SIGTERM still leaves a report."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from kfcheck import gate, reports
from kfcheck.radish_support import record_setup_error  # noqa: F401 - the fixtures' steps import it

FIXTURES = Path(__file__).parent / "radish_fixtures"
RADISH = Path(sys.executable).with_name("radish")


def run_radish(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, Path]:
    report = tmp_path / "cucumber.json"
    result = subprocess.run(
        [str(RADISH), str(FIXTURES / "demo.feature"), "-b", str(FIXTURES / "steps"), "--no-ansi",
         "--cucumber-json", str(report), *extra],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(FIXTURES.parents[1]), **(env or {})},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr, report


@pytest.fixture(scope="module")
def normalised(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    code, output, report = run_radish(tmp_path_factory.mktemp("run"))
    assert code == 1, output  # two scenarios fail by design
    features = reports.load(report)
    return reports.normalise(features)


def elements(features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {element["id"]: element for feature in features for element in feature["elements"]}


def test_ids_are_stable_feature_scenario_ids(normalised: list[dict[str, Any]]) -> None:
    ids = list(elements(normalised))
    assert normalised[0]["id"] == "demo-of-the-report-plumbing"
    assert "demo-of-the-report-plumbing;everything-passes" in ids
    assert "demo-of-the-report-plumbing;rows-of-an-outline;examples;2" in ids
    assert "demo-of-the-report-plumbing;rows-of-an-outline;examples;3" in ids
    assert len(set(ids)) == len(ids)


def test_step_keyword_and_name_are_split(normalised: list[dict[str, Any]]) -> None:
    step = elements(normalised)["demo-of-the-report-plumbing;everything-passes"]["steps"][0]
    assert step["keyword"] == "Given "
    assert step["name"] == "a number 2"


def test_failed_step_has_error_message_and_later_steps_are_skipped(normalised: list[dict[str, Any]]) -> None:
    steps = elements(normalised)["demo-of-the-report-plumbing;a-step-fails-and-the-rest-are-skipped"]["steps"]
    statuses = [step["result"]["status"] for step in steps]
    assert statuses == ["passed", "passed", "failed", "skipped"]
    assert "expected 6, got 5" in steps[2]["result"]["error_message"]
    assert all(step["result"]["status"] != "pending" for e in elements(normalised).values() for step in e["steps"])


def test_a_failing_set_up_fails_only_its_scenario(normalised: list[dict[str, Any]]) -> None:
    by_id = elements(normalised)
    failed = by_id["demo-of-the-report-plumbing;its-set-up-hook-fails"]["steps"]
    assert failed[0]["result"]["status"] == "failed"
    assert "namespace could not be created (demo)" in failed[0]["result"]["error_message"]
    assert reports.scenario_status(by_id["demo-of-the-report-plumbing;everything-passes"]) == "passed"
    assert reports.summary(normalised) == "3 passed, 2 failed, 1 skipped"


def test_a_scenario_whose_api_is_not_served_is_skipped_with_the_reason(normalised: list[dict[str, Any]]) -> None:
    element = elements(normalised)["demo-of-the-report-plumbing;its-api-is-not-served"]
    assert [step["result"]["status"] for step in element["steps"]] == ["skipped", "skipped"]
    assert reports.scenario_status(element) == "skipped"
    reason = base64.b64decode(element["steps"][0]["embeddings"][0]["data"]).decode()
    assert reason == "skipped: the cluster serves no demo.example/v1 API"


def test_tags_carry_their_at_sign(normalised: list[dict[str, Any]]) -> None:
    assert {tag["name"] for tag in normalised[0]["tags"]} == {"@demo"}


def test_dry_run_runs_no_step_body(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _, _, report = run_radish(tmp_path, "--dry-run", env={"DEMO_MARKER_FILE": str(marker)})
    assert not marker.exists(), "a step body ran under --dry-run"
    statuses = {step["result"]["status"] for e in elements(reports.load(report)).values() for step in e["steps"]}
    assert "passed" not in statuses


def test_sigterm_still_writes_the_report(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    (slow / "steps").mkdir(parents=True)
    (slow / "slow.feature").write_text("Feature: Slow\n  Scenario: Waits\n    Given it waits\n")
    (slow / "steps" / "steps.py").write_text(
        "import time\nfrom radish import before, given\nfrom kfcheck.radish_support import install_signal_handlers\n"
        "@before.all\ndef start(features, marker):\n    install_signal_handlers()\n"
        "@given('it waits')\ndef waits(step):\n    print('waiting', flush=True)\n    time.sleep(60)\n"
    )
    report = tmp_path / "cucumber.json"
    process = subprocess.Popen(
        [str(RADISH), str(slow / "slow.feature"), "-b", str(slow / "steps"), "--cucumber-json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(FIXTURES.parents[1])},
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    for line in process.stdout:  # wait until the step runs
        if "waiting" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert report.exists(), "no cucumber JSON after SIGTERM"
    assert reports.load(report)[0]["name"] == "Slow"


def test_tag_expression_with_at_sign_is_refused(tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "terrain.py").write_text(
        "from radish import before\nfrom kfcheck.radish_support import check_tag_expression\n"
        "@before.all\ndef tags(features, marker):\n    check_tag_expression()\n"
    )
    (tmp_path / "steps" / "steps.py").write_text((FIXTURES / "steps" / "steps.py").read_text())
    result = subprocess.run(
        [str(RADISH), str(FIXTURES / "demo.feature"), "-b", str(tmp_path / "steps"), "--tags", "not @slow"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(FIXTURES.parents[1])},
    )  # fmt: skip
    assert result.returncode == 2
    assert "Use --tags 'not slow'" in result.stderr


def test_gate_flags_a_scenario_that_passed_before_and_fails_after(normalised: list[dict[str, Any]]) -> None:
    before = reports.scenario_statuses(json.loads(json.dumps(normalised)))
    after = dict(before)
    after["demo-of-the-report-plumbing;everything-passes"] = "failed"
    del after["demo-of-the-report-plumbing;rows-of-an-outline;examples;2"]
    verdict = gate.compare(before, after)
    assert not verdict.passed
    assert len(verdict.regressions) == 2
    assert "passed before, missing after" in " ".join(verdict.regressions)
    assert gate.compare(before, before).passed


def test_gate_command_exit_codes(tmp_path: Path, normalised: list[dict[str, Any]]) -> None:
    before = tmp_path / "before.json"
    after = tmp_path / "after.json"
    before.write_text(json.dumps(normalised))
    worse = json.loads(json.dumps(normalised))
    for element in worse[0]["elements"]:
        if element["id"].endswith(";everything-passes"):
            element["steps"][-1]["result"] = {"status": "failed", "error_message": "broke"}
    after.write_text(json.dumps(worse))

    def gate_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfcheck", "gate", *args], capture_output=True, text=True,
                              check=False, cwd=FIXTURES.parents[1])  # fmt: skip

    assert gate_cli(str(before), str(before)).returncode == 0
    regressed = gate_cli(str(before), str(after))
    assert regressed.returncode == 1
    assert "everything-passes: passed before, failed after — " in regressed.stdout
    assert ": broke" in regressed.stdout  # the failed step and its error are named
    (tmp_path / "empty.json").write_text("[]")
    no_scenarios = gate_cli(str(tmp_path / "empty.json"), str(after))
    assert no_scenarios.returncode == 2, "an empty before report must not let an upgrade pass"
    assert "nothing to gate on" in no_scenarios.stderr
    (tmp_path / "bad.json").write_text("{not json")
    assert gate_cli(str(before), str(tmp_path / "bad.json")).returncode == 2


def test_report_command_names_each_failed_step_with_its_duration_and_error(
    tmp_path: Path, normalised: list[dict[str, Any]]
) -> None:
    report = tmp_path / "cucumber.json"
    report.write_text(json.dumps(normalised))
    printed = subprocess.run([sys.executable, "-m", "kfcheck", "report", "--no-html", str(report)],
                             capture_output=True, text=True, check=False, cwd=FIXTURES.parents[1])  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    failed_lines = [line for line in printed.stdout.splitlines() if line.startswith("  failed: ")]
    assert len(failed_lines) == 2
    assert any("(failed after " in line and "expected 6, got 5" in line for line in failed_lines)


def test_html_report_is_rendered_from_the_cucumber_json(tmp_path: Path, normalised: list[dict[str, Any]]) -> None:
    report = tmp_path / "cucumber.json"
    report.write_text(json.dumps(normalised))
    html = reports.render_html(report, tmp_path / "cucumber.html").read_text()
    assert "Everything passes" in html
    assert "expected 6, got 5" in html
