"""The release gate: compares the reports of a run before and after an upgrade (Cucumber Messages or cucumber
JSON, read the same way by kfcheck.reports.read_results)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kfcheck import reports


@dataclass
class Verdict:
    regressions: list[str]  # passed before; failed, skipped or missing after
    fixed: list[str]  # failed before, passed after
    still_failing: list[str]
    new: list[str]  # only in the after report

    @property
    def passed(self) -> bool:
        return not self.regressions


def compare(
    before: dict[str, str],
    after: dict[str, str],
    why: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> Verdict:
    """Scenarios are matched by id. `why` maps a scenario id to what failed in it after (its failed step and
    error); `names` maps an id to what the printout calls it (ids of outline rows keep the outline's
    placeholders, names carry the row's values)."""
    why, names = why or {}, names or {}

    def label(scenario: str) -> str:
        return names.get(scenario, scenario)

    regressions = [
        f"{label(scenario)}: passed before, {after.get(scenario, 'missing')} after"
        + (f" — {why[scenario]}" if why.get(scenario) else "")
        for scenario, status in sorted(before.items())
        if status == "passed" and after.get(scenario) != "passed"
    ]
    fixed = [label(s) for s, status in sorted(before.items()) if status != "passed" and after.get(s) == "passed"]
    still = [
        label(s) for s, status in sorted(before.items()) if status != "passed" and after.get(s, "missing") != "passed"
    ]
    new = sorted(label(s) for s in set(after) - set(before))
    return Verdict(regressions, fixed, still, new)


def compare_files(before: Path, after: Path) -> Verdict:
    """reports.ReportError when a report is unusable, including a before report without scenarios (it would
    let any upgrade pass)."""
    before_results = reports.read_results(before)
    if not before_results:
        raise reports.ReportError(f"{before} has no scenarios: there is nothing to gate on")
    after_results = reports.read_results(after)
    names = {result.id: f"{result.feature}: {result.name}" for result in [*before_results, *after_results]}
    return compare(
        reports.scenario_statuses(before_results),
        reports.scenario_statuses(after_results),
        reports.scenario_failures(after_results),
        names,
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
