"""The release gate: compares the reports of a run before and after an upgrade (Cucumber Messages or cucumber
JSON, read the same way by kfcheck.reports.read_results).

Three verdicts, each with its own exit code (see EXIT_CODES): "pass" (no scenario regressed),
"regression" (a scenario that passed before failed, was skipped or is missing after) and
"inconclusive" (nothing regressed, but some scenarios could not be compared because the suite itself
could not run them: its set-up, a fixture, the connection; those are listed with their cause).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kfcheck import reports, usage

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


def compare(
    before: dict[str, str],
    after: dict[str, str],
    why: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> Verdict:
    """Scenarios are matched by id. `why` maps a scenario id to what failed in it (its failed step and error);
    `names` maps an id to what the printout calls it (ids of outline rows keep the outline's placeholders,
    names carry the row's values)."""
    why, names = why or {}, names or {}

    def when(scenario: str) -> str:
        return " and ".join(run for run, statuses in (("before", before), ("after", after))
                            if statuses.get(scenario) == COULD_NOT_RUN)  # fmt: skip

    untestable = [
        scenario
        for scenario in sorted(set(before) | set(after))
        if after.get(scenario) == COULD_NOT_RUN
        or (before.get(scenario) == COULD_NOT_RUN and after.get(scenario, "missing") != "passed")
    ]
    regressions = [
        f"{names.get(scenario, scenario)}: passed before, {after.get(scenario, 'missing')} after"
        + (f" — {why[scenario]}" if why.get(scenario) else "")
        for scenario, status in sorted(before.items())
        if status == "passed" and after.get(scenario) not in ("passed", COULD_NOT_RUN)
    ]
    fixed = [names.get(s, s) for s, status in sorted(before.items()) if status != "passed" and after.get(s) == "passed"]
    still = [
        names.get(s, s)
        for s, status in sorted(before.items())
        if status not in ("passed", COULD_NOT_RUN) and after.get(s, "missing") not in ("passed", COULD_NOT_RUN)
    ]
    new = sorted(names.get(s, s) for s in set(after) - set(before))
    could_not_run = [f"{names.get(s, s)}: {when(s)}" + (f" — {why[s]}" if why.get(s) else "") for s in untestable]
    return Verdict(regressions, fixed, still, new, could_not_run)


def compare_files(before: Path, after: Path) -> Verdict:
    """reports.ReportError when a report is unusable, including a before report without scenarios (it would
    let any upgrade pass)."""
    before_results = reports.read_results(before)
    if not before_results:
        raise reports.ReportError(f"{before} has no scenarios: there is nothing to gate on")
    after_results = reports.read_results(after)
    names = {result.id: f"{result.feature}: {result.name}" for result in [*before_results, *after_results]}
    why = {**reports.scenario_failures(before_results), **reports.scenario_failures(after_results)}
    return compare(reports.scenario_statuses(before_results), reports.scenario_statuses(after_results), why, names)


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


def resource_table(before: Path, after: Path) -> str:
    """CPU and memory the components (and training pods) used at their peak in each run, with the
    requests/limits (componentResources) they had after: does what was given fit what is used?"""
    return usage.compare_table(Path(before), Path(after))
