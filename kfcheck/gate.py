"""The release gate: compares the cucumber reports of a run before and after an upgrade.

Three verdicts, each with its own exit code (see EXIT_CODES): "pass" (no scenario regressed),
"regression" (a scenario that passed before failed, was skipped or is missing after) and
"inconclusive" (nothing regressed, but some scenarios could not be compared because the suite itself
could not run them: its set-up, a fixture, the connection; those are listed with their cause).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kfcheck import reports

COULD_NOT_RUN = "could not run"
EXIT_CODES = {"pass": 0, "regression": 1, "inconclusive": 3}  # 2: the reports themselves are unusable


@dataclass
class Verdict:
    regressions: list[str]  # passed before; failed, skipped or missing after
    fixed: list[str]  # failed before, passed after
    still_failing: list[str]
    new: list[str]  # only in the after report
    could_not_run: list[str]  # not compared: the suite could not run it (after, or before and it fails after)

    @property
    def outcome(self) -> str:
        if self.regressions:
            return "regression"
        return "inconclusive" if self.could_not_run else "pass"

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]


def compare(before: dict[str, str], after: dict[str, str], why: dict[str, str] | None = None) -> Verdict:
    """`why` maps a scenario id to what failed in it (its failed step and error), for the printout."""
    why = why or {}

    def because(scenario: str) -> str:
        return f" — {why[scenario]}" if why.get(scenario) else ""

    untestable = [
        scenario
        for scenario in sorted(set(before) | set(after))
        if after.get(scenario) == COULD_NOT_RUN
        or (before.get(scenario) == COULD_NOT_RUN and after.get(scenario, "missing") != "passed")
    ]
    regressions = [
        f"{scenario}: passed before, {after.get(scenario, 'missing')} after{because(scenario)}"
        for scenario, status in sorted(before.items())
        if status == "passed" and after.get(scenario) not in ("passed", COULD_NOT_RUN)
    ]
    fixed = [s for s, status in sorted(before.items()) if status != "passed" and after.get(s) == "passed"]
    still = [
        s
        for s, status in sorted(before.items())
        if status not in ("passed", COULD_NOT_RUN) and after.get(s, "missing") not in ("passed", COULD_NOT_RUN)
    ]
    new = sorted(set(after) - set(before))

    def when(scenario: str) -> str:
        runs = [name for name, run in (("before", before), ("after", after)) if run.get(scenario) == COULD_NOT_RUN]
        return " and ".join(runs)

    could_not_run = [f"{scenario}: {when(scenario)}{because(scenario)}" for scenario in untestable]
    return Verdict(regressions, fixed, still, new, could_not_run)


def compare_files(before: Path, after: Path) -> Verdict:
    """reports.ReportError when a report is unusable, including a before report without scenarios (it would
    let any upgrade pass)."""
    before_features = reports.load(before)
    before_statuses = reports.scenario_statuses(before_features)
    if not before_statuses:
        raise reports.ReportError(f"{before} has no scenarios: there is nothing to gate on")
    after_features = reports.load(after)
    why = {**reports.scenario_failures(before_features), **reports.scenario_failures(after_features)}
    return compare(before_statuses, reports.scenario_statuses(after_features), why)


def render(verdict: Verdict) -> str:
    lines = []
    for title, entries in (("REGRESSIONS", verdict.regressions), ("COULD NOT RUN", verdict.could_not_run)):
        if entries:
            lines.append(f"{title} ({len(entries)}):")
            lines += [f"  - {item}" for item in entries]
    for title, items in (("fixed", verdict.fixed), ("still failing", verdict.still_failing), ("new", verdict.new)):
        if items:
            lines.append(f"{title} ({len(items)}): " + ", ".join(items))
    lines.append(
        {
            "pass": "gate: PASS — no scenario regressed",
            "regression": "gate: FAIL — a scenario regressed",
            "inconclusive": "gate: INCONCLUSIVE — nothing regressed, but the suite could not run some scenarios; "
            "fix their cause (above) and run the gate again",
        }[verdict.outcome]
    )
    return "\n".join(lines)
