"""The release gate: compares the cucumber reports of a run before and after an upgrade."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kfcheck import reports, usage


@dataclass
class Verdict:
    regressions: list[str]  # passed before; failed, skipped or missing after
    fixed: list[str]  # failed before, passed after
    still_failing: list[str]
    new: list[str]  # only in the after report

    @property
    def passed(self) -> bool:
        return not self.regressions


def compare(before: dict[str, str], after: dict[str, str], why: dict[str, str] | None = None) -> Verdict:
    """`why` maps a scenario id to what failed in it after (its failed step and error), for the printout."""
    why = why or {}
    regressions = [
        f"{scenario}: passed before, {after.get(scenario, 'missing')} after"
        + (f" — {why[scenario]}" if why.get(scenario) else "")
        for scenario, status in sorted(before.items())
        if status == "passed" and after.get(scenario) != "passed"
    ]
    fixed = [s for s, status in sorted(before.items()) if status != "passed" and after.get(s) == "passed"]
    still = [s for s, status in sorted(before.items()) if status != "passed" and after.get(s, "missing") != "passed"]
    new = sorted(set(after) - set(before))
    return Verdict(regressions, fixed, still, new)


def compare_files(before: Path, after: Path) -> Verdict:
    """reports.ReportError when a report is unusable, including a before report without scenarios (it would
    let any upgrade pass)."""
    before_statuses = reports.scenario_statuses(reports.load(before))
    if not before_statuses:
        raise reports.ReportError(f"{before} has no scenarios: there is nothing to gate on")
    after_features = reports.load(after)
    return compare(
        before_statuses, reports.scenario_statuses(after_features), reports.scenario_failures(after_features)
    )


def render(verdict: Verdict) -> str:
    lines = []
    if verdict.regressions:
        lines.append(f"REGRESSIONS ({len(verdict.regressions)}):")
        lines += [f"  - {item}" for item in verdict.regressions]
    for title, items in (("fixed", verdict.fixed), ("still failing", verdict.still_failing), ("new", verdict.new)):
        if items:
            lines.append(f"{title} ({len(items)}): " + ", ".join(items))
    lines.append("gate: " + ("PASS — no scenario regressed" if verdict.passed else "FAIL"))
    return "\n".join(lines)


def resource_table(before: Path, after: Path) -> str:
    """CPU and memory the components (and training pods) used at their peak in each run, with the
    requests/limits (componentResources) they had after: does what was given fit what is used?"""
    return usage.compare_table(reports.load(before), reports.load(after))
