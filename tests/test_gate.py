"""The release gate's three verdicts: a Kubeflow regression, a pass, and a run that could not test."""

from __future__ import annotations

from kfcheck.reports import gate

PASSED = {"f;a": "passed", "f;b": "passed", "f;c": "failed"}


def test_nothing_changed_passes() -> None:
    verdict = gate.compare(PASSED, dict(PASSED))
    assert (verdict.outcome, verdict.exit_code) == ("pass", 0)
    assert verdict.still_failing == ["f;c"]


def test_a_scenario_that_passed_and_now_fails_is_a_regression() -> None:
    verdict = gate.compare(PASSED, {**PASSED, "f;a": "failed"}, {"f;a": "Then x (failed after 1.0s): boom"})
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert verdict.regressions == ["f;a: passed before, failed after — Then x (failed after 1.0s): boom"]


def test_passed_to_skipped_or_missing_is_a_regression() -> None:
    after = {"f;a": "skipped", "f;c": "failed"}
    verdict = gate.compare(PASSED, after)
    assert verdict.outcome == "regression"
    assert sorted(verdict.regressions) == ["f;a: passed before, skipped after", "f;b: passed before, missing after"]


def test_a_scenario_the_suite_could_not_run_after_makes_the_verdict_inconclusive() -> None:
    why = {"f;a": "Given x (failed after 0.1s): kfcheck could not run this scenario: ApiException: (400)"}
    verdict = gate.compare(PASSED, {**PASSED, "f;a": "could not run"}, why)
    assert (verdict.outcome, verdict.exit_code) == ("inconclusive", 3)
    assert verdict.regressions == []
    assert verdict.could_not_run == [f"f;a: after — {why['f;a']}"]
    assert "gate: INCONCLUSIVE" in gate.render(verdict)


def test_a_regression_outweighs_scenarios_that_could_not_run() -> None:
    verdict = gate.compare(PASSED, {**PASSED, "f;a": "could not run", "f;b": "failed"})
    assert (verdict.outcome, verdict.exit_code) == ("regression", 1)
    assert verdict.could_not_run == ["f;a: after"]


def test_could_not_run_before_is_inconclusive_only_when_it_does_not_pass_after() -> None:
    before = {**PASSED, "f;a": "could not run"}
    assert gate.compare(before, PASSED).outcome == "pass"  # it passes now: nothing can have regressed
    failing_after = gate.compare(before, {**PASSED, "f;a": "failed"})
    assert failing_after.outcome == "inconclusive"
    assert failing_after.could_not_run == ["f;a: before"]
    assert failing_after.still_failing == ["f;c"]
