"""The release gate's report (`kfcheck release-gate`, kfcheck.upgrades): what the gate did (its record, kept by
kfcheck.upgrades as it goes) turned into `gate.json` and `gate.md` (kfcheck.reports.release_gate_markdown).

The verdict is the worst of its parts: the comparisons before→after and before→rollback (kfcheck.reports.gate's
verdicts: a scenario that passed before and fails, is skipped or is missing later is a regression), the
in-flight phases (a scenario of the @upgrade feature that failed in any phase is a regression; one the suite
could not run, a phase that could not start or where nothing passed is inconclusive) and the gate's own
course (an upgrade or rollback command that failed, a rollback refused, an interrupt: inconclusive).
Worst first: regression (exit 1), unusable reports (2), inconclusive (3), pass (0).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfcheck.core import provenance
from kfcheck.reports import gate, release_gate_markdown
from kfcheck.reports.messages import START_FAILURE_URI, ReportError, read_envelopes
from kfcheck.reports.results import ScenarioResult, read_results, summary

FULL_RUNS = ("before", "after", "rollback")
IN_FLIGHT_RUNS = ("in-flight start", "in-flight after", "in-flight rollback")
RUNS = ("before", "in-flight start", "in-flight after", "after", "in-flight rollback", "rollback")  # in order
COMPARISONS = {"before→after": ("before", "after"), "before→rollback": ("before", "rollback")}
EXIT_CODES = {**gate.EXIT_CODES, "unusable": 2}
_RANK = {"pass": 0, "inconclusive": 1, "unusable": 2, "regression": 3}  # the worst part decides


@dataclass
class CommandRecord:
    command: str
    exit_code: int | None  # None: it did not end by itself (interrupted)
    seconds: float
    log: Path
    tail: str  # its last lines, secrets redacted
    interrupted: str = ""  # what interrupted the gate while it ran


@dataclass
class RunRecord:
    messages: Path
    exit_code: int | None  # of `kfcheck run`
    seconds: float
    interrupted: bool = False  # its scenarios cut short say nothing of Kubeflow: it is shown, not compared


@dataclass
class GateRecord:
    """What the gate did, filled in as it goes; whatever it holds when the gate ends is reported."""

    reports: Path  # the gate's directory: each run in a folder of its own, the report in release-gate/
    from_label: str = ""
    to_label: str = ""
    started: float = field(default_factory=time.time)
    runs: dict[str, RunRecord] = field(default_factory=dict)  # by phase, RUNS
    commands: dict[str, CommandRecord] = field(default_factory=dict)  # "upgrade", "rollback"
    phases: dict[str, float] = field(default_factory=dict)  # seconds of each phase, in order
    crds: dict[str, Any] = field(default_factory=dict)  # served/stored versions, the rollback check
    stopped: list[str] = field(default_factory=list)  # why the gate stopped or left parts out: inconclusive
    read_by_gate: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # provenance the gate read itself
    swept: list[str] = field(default_factory=list)  # what the in-flight feature left, deleted at the end
    # The skip reasons of an in-flight scenario handing its work over to the next phase ("continues after the
    # upgrade"): such a skip is the phase done, not a scenario left out.
    handovers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the reader; no bearing on the verdict


@dataclass
class Part:
    name: str
    outcome: str  # pass | regression | inconclusive | unusable
    reasons: list[str]


def provenance_entries(messages: Path) -> list[dict[str, Any]] | None:
    """What served each Kubeflow API when the run started, as `kfcheck run` recorded it (a run hook's JSON
    attachment, kfcheck.core.provenance.payload); None when the run holds none."""
    for envelope in read_envelopes(messages):
        attachment = envelope.get("attachment") or {}
        if not attachment.get("testRunHookStartedId") or attachment.get("mediaType") != "application/json":
            continue
        try:
            data = json.loads(attachment.get("body", ""))
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("kind") == provenance.KIND:
            return list(data.get("apis") or [])
    return None


def components(entries: list[dict[str, Any]] | None, source: str) -> dict[str, Any]:
    """Each component's version, images and Deployment, and the APIs it serves; the APIs no one serves."""
    found: dict[str, dict[str, Any]] = {}
    not_served = []
    for entry in entries or []:
        if not entry.get("served"):
            not_served.append(str(entry.get("api", "")))
            continue
        component = found.setdefault(str(entry.get("component", "")), {
            "version": entry.get("version") or "", "deployment": entry.get("deployment") or "",
            "images": list(entry.get("images") or []), "stand_in": entry.get("stand_in") or "",
            "note": entry.get("note") or "", "apis": [],
        })  # fmt: skip
        component["apis"].append(str(entry.get("api", "")))
    note = "" if entries is not None else "what served each API is not in this run's messages"
    return {"source": source, "components": found, "not_served": not_served, **({"note": note} if note else {})}


def _results(record: GateRecord) -> dict[str, list[ScenarioResult] | str]:
    """Each run's results, or why they cannot be read."""
    read: dict[str, list[ScenarioResult] | str] = {}
    for phase in RUNS:
        if phase in record.runs:
            try:
                read[phase] = read_results(record.runs[phase].messages)
            except ReportError as error:
                read[phase] = str(error)
    return read


def _did_not_start(results: list[ScenarioResult]) -> str:
    return next((result.failure() for result in results if result.uri == START_FAILURE_URI), "")


def _why_not_comparable(run: str, read: list[ScenarioResult] | str) -> tuple[str, str]:
    """(why its messages are unusable, why it could not start), each "" when it does not apply."""
    if isinstance(read, str):
        return f"{run}: {read}", ""
    started = _did_not_start(read)
    return "", f"the {run} run could not start: {started}" if started else ""


def compare(record: GateRecord, results: dict[str, list[ScenarioResult] | str]) -> dict[str, dict[str, Any]]:
    """kfcheck.reports.gate's verdict of each comparison whose two runs were made."""
    compared = {}
    for name, (first, second) in COMPARISONS.items():
        if first not in results or second not in results or record.runs[second].interrupted:
            continue
        problems = [_why_not_comparable(run, results[run]) for run in (first, second)]
        unusable, not_started = [why for why, _ in problems if why], [why for _, why in problems if why]
        if unusable or not_started:
            outcome = "unusable" if unusable else "inconclusive"
            compared[name] = {"outcome": outcome, "exit_code": EXIT_CODES[outcome], "reasons": unusable + not_started}
            continue
        try:
            verdict = gate.compare_files(record.runs[first].messages, record.runs[second].messages)
        except ReportError as error:
            compared[name] = {"outcome": "unusable", "exit_code": EXIT_CODES["unusable"], "reasons": [str(error)]}
            continue
        left = [f"cleanup failed: {left}" for left in verdict.left_behind]
        compared[name] = {
            "outcome": verdict.outcome, "exit_code": verdict.exit_code,
            "reasons": [*verdict.regressions, *verdict.could_not_run, *left],
            "regressions": verdict.regressions, "could_not_run": verdict.could_not_run,
            "left_behind": verdict.left_behind, "now_passing": verdict.fixed, "still_failing": verdict.still_failing,
            "new": verdict.new,
        }  # fmt: skip
    return compared


def _handed_over(result: ScenarioResult, handovers: Collection[str]) -> bool:
    return result.status == "skipped" and any(handover in result.skip_reason for handover in handovers)


def in_flight(
    results: dict[str, list[ScenarioResult] | str], interrupted: Collection[str] = (), handovers: Collection[str] = ()
) -> Part:
    """A scenario of the in-flight feature that failed in any phase is a regression; one the suite could not run,
    a failed cleanup, a phase that could not start or (after the start) where no scenario went through (passed,
    or handed its work over to the next phase) is inconclusive. A handover skips the rest of the scenario: the
    start phase's skips are expected."""
    regressions, inconclusive = [], []
    for phase in IN_FLIGHT_RUNS:
        read = results.get(phase)
        if read is None or phase in interrupted:
            continue
        if isinstance(read, str):
            inconclusive.append(f"{phase}: the run's messages cannot be read: {read}")
            continue
        if why := _did_not_start(read):
            inconclusive.append(f"{phase}: the run could not start: {why}")
            continue
        for result in read:
            name = f"{phase}: {result.feature}: {result.name}"
            if result.tested_status == "failed":
                regressions.append(f"{name}: failed — {result.failure()}")
            elif result.tested_status == gate.COULD_NOT_RUN:
                inconclusive.append(f"{name}: could not run — {result.failure()}")
            if result.cleanup_failure:
                inconclusive.append(f"{name}: cleanup failed: {result.cleanup_failure}")
        through = [r for r in read if r.tested_status == "passed" or _handed_over(r, handovers)]
        if phase != "in-flight start" and not through:
            inconclusive.append(f"{phase}: no in-flight scenario went through this phase ({summary(read)})")
    outcome = "regression" if regressions else "inconclusive" if inconclusive else "pass"
    return Part("in-flight", outcome, regressions + inconclusive)


def scenario_matrix(
    results: dict[str, list[ScenarioResult] | str], handovers: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Each scenario's status in each run it was in ("handed over" for an in-flight scenario whose rest waits for
    the next phase), in the order the runs first met them."""
    rows: dict[str, dict[str, Any]] = {}
    for phase, read in results.items():
        for result in read if not isinstance(read, str) else []:
            name = f"{result.feature}: {result.name}"
            row = rows.setdefault(result.id, {"id": result.id, "name": name, "statuses": {}})
            row["statuses"][phase] = "handed over" if _handed_over(result, handovers) else result.status
    return list(rows.values())


def verdict(parts: list[Part]) -> tuple[str, int]:
    worst = max((part.outcome for part in parts), key=_RANK.__getitem__, default="pass")
    return worst, EXIT_CODES[worst]


def _relative(path: Path, base: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _versions(record: GateRecord) -> dict[str, Any]:
    """Each full run's components as it read them from the cluster at its start, and what the gate read itself."""
    versions = {}
    for phase in FULL_RUNS:
        if phase in record.runs:
            messages = record.runs[phase].messages
            try:
                entries = provenance_entries(messages)
            except ReportError:
                entries = None
            versions[phase] = components(entries, _relative(messages, record.reports))
    for label, entries in record.read_by_gate.items():
        versions[label] = components(entries, "read from the cluster by the gate")
    return versions


def _runs(record: GateRecord, results: dict[str, list[ScenarioResult] | str]) -> dict[str, Any]:
    return {
        phase: {"messages": _relative(run.messages, record.reports), "exit_code": run.exit_code,
                "seconds": round(run.seconds, 1), **({"interrupted": True} if run.interrupted else {}),
                "summary": summary(read) if not isinstance(read := results[phase], str) else f"unreadable: {read}"}
        for phase, run in record.runs.items()
    }  # fmt: skip


def _commands(record: GateRecord) -> dict[str, Any]:
    return {
        name: {"command": command.command, "exit_code": command.exit_code, "seconds": round(command.seconds, 1),
               "log": _relative(command.log, record.reports), "output_tail": command.tail,
               **({"interrupted": command.interrupted} if command.interrupted else {})}
        for name, command in record.commands.items()
    }  # fmt: skip


def summarise(record: GateRecord) -> dict[str, Any]:
    """gate.json: the verdict and its reasons, then everything it was made from."""
    results = _results(record)
    comparisons = compare(record, results)
    parts = [Part(name, compared["outcome"], compared["reasons"]) for name, compared in comparisons.items()]
    cut_short = {phase for phase, run in record.runs.items() if run.interrupted}
    flight = in_flight(results, cut_short, record.handovers)
    flown = any(phase in results for phase in IN_FLIGHT_RUNS)
    if flown:
        parts.append(flight)
    if record.stopped:
        parts.append(Part("the gate", "inconclusive", record.stopped))
    outcome, exit_code = verdict(parts)
    return {
        "kind": "kfcheck/release-gate",
        "verdict": outcome,
        "exit_code": exit_code,
        "reasons": [f"{part.name}: {reason}" for part in parts if part.outcome != "pass" for reason in part.reasons],
        "from": record.from_label,
        "to": record.to_label,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": _runs(record, results),
        "versions": _versions(record),
        "scenarios": scenario_matrix(results, record.handovers),
        "phases": {phase: round(seconds, 1) for phase, seconds in record.phases.items()},
        "commands": _commands(record),
        "comparisons": comparisons,
        "in_flight": {"outcome": flight.outcome if flown else "not run", "reasons": flight.reasons},
        "crds": record.crds,
        "in_flight_sweep": record.swept,
        "notes": record.notes,
    }


def write(record: GateRecord) -> tuple[dict[str, Any], Path]:
    """gate.json and gate.md in <reports>/release-gate/; the summary and gate.md's path."""
    data = summarise(record)
    directory = record.reports / "release-gate"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "gate.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown = directory / "gate.md"
    markdown.write_text(release_gate_markdown.render(data), encoding="utf-8")
    return data, markdown
