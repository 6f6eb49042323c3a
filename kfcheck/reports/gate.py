"""The release gate: compares the reports of a run before and after an upgrade (Cucumber Messages or cucumber
JSON, read the same way by kfcheck.reports.read_results).

Three verdicts, each with its own exit code (see EXIT_CODES): "pass" (no scenario regressed),
"regression" (a scenario that passed before failed, was skipped or is missing after) and
"inconclusive" (nothing regressed, but some scenarios could not be compared because the suite itself
could not run them: its set-up, a fixture, the connection; or a scenario's cleanup failed, so a run left
objects, a namespace or an upgraded Helm revision behind; each is listed with its cause). Scenarios are
compared by what they tested; a failed cleanup makes the verdict inconclusive, not a regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kfcheck import reports
from kfcheck.measure import usage

COULD_NOT_RUN = "could not run"
EXIT_CODES = {"pass": 0, "regression": 1, "inconclusive": 3}  # 2: the reports themselves are unusable


@dataclass
class Verdict:
    regressions: list[str]  # passed before; failed, skipped or missing after
    fixed: list[str]  # failed before, passed after
    still_failing: list[str]
    new: list[str]  # only in the after report
    could_not_run: list[str]  # not compared: the suite could not run it (after, or before and it fails after)
    left_behind: list[str] = field(default_factory=list)  # failed cleanups: what a run left on the cluster

    @property
    def outcome(self) -> str:
        if self.regressions:
            return "regression"
        return "inconclusive" if self.could_not_run or self.left_behind else "pass"

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
    verdict = compare(reports.scenario_statuses(before_results, tested=True),
                      reports.scenario_statuses(after_results, tested=True), why, names)  # fmt: skip
    verdict.left_behind = [
        f"{run}: {names.get(result.id, result.id)}: {result.cleanup_failure}"
        for run, results in (("before", before_results), ("after", after_results))
        for result in results
        if result.cleanup_failure
    ]
    return verdict


def render(verdict: Verdict) -> str:
    lines = []
    for title, entries in (("REGRESSIONS", verdict.regressions), ("COULD NOT RUN", verdict.could_not_run),
                           ("CLEANUP FAILED, LEFT ON THE CLUSTER", verdict.left_behind)):  # fmt: skip
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
            "inconclusive": "gate: INCONCLUSIVE — nothing regressed, but the suite could not run some scenarios "
            "or a cleanup failed (above): fix the cause, remove what was left, and run the gate again",
        }[verdict.outcome]
    )
    return "\n".join(lines)


def resource_table(before: Path, after: Path) -> str:
    """CPU and memory the components (and training pods) used at their peak in each run, with the
    requests/limits (componentResources) they had after: does what was given fit what is used?"""
    return usage.compare_table(Path(before), Path(after))


def provenance(before: Path, after: Path) -> str:
    """What served each Kubeflow API in each run (from the messages; a cucumber JSON report does not hold it)."""
    lines = []
    for run, path in (("before", before), ("after", after)):
        found = reports.run_findings(reports.read_envelopes(path)) if str(path).endswith(".ndjson") else {}
        text = next((body for name, body in found.items() if name.startswith("what served")), "")
        lines.append(f"{run}: what served each Kubeflow API:")
        lines += [f"  {line}" for line in (text or "(not in this report)").splitlines()]
    return "\n".join(lines)
