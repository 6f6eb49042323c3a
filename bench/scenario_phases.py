"""Where each scenario's time went, from a run's Cucumber Messages (the phase tables radish_timings attached).

    ~/.cache/kfcheck/venv/bin/python bench/scenario_phases.py reports/messages.ndjson
    ... bench/scenario_phases.py after/messages.ndjson --before before/messages.ndjson   # before and after
    ... bench/scenario_phases.py reports/messages.ndjson --detail   # and the full table of the slowest one
    ... bench/scenario_phases.py reports/messages.ndjson --scenario wires-a-master   # full tables of those

A scenario's time is the sum of its steps' durations; "wall" adds its set-up and after-scenario hooks
(namespace creation, cleanup), as its phase table measured them. (The cucumber JSON folds attachments into
text, so the tables are read from the messages.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from kfcheck import reports
from kfcheck.bdd.timing_tables import PHASES_KIND
from kfcheck.measure import phases

SHORT = {
    "namespace": "ns",
    "submitted": "submit",
    "pods_created": "pods",
    "scheduled": "sched",
    "initialized": "init",
    "images": "images",
    "started": "start",
    "done": "done",
    "checks": "checks",
    "cleanup": "clean",
}


def step_seconds(results: list[reports.ScenarioResult]) -> dict[str, float]:
    """scenario id -> sum of its steps' durations (s)."""
    return {result.id: result.duration_ns / 1e9 for result in results}


def phase_tables(results: list[reports.ScenarioResult]) -> dict[str, dict[str, Any]]:
    """scenario id -> its attached phase data."""
    found = {}
    for result in results:
        for step in result.steps:
            for _name, media_type, text in step.attachments:
                if media_type != "application/json":
                    continue
                data = json.loads(text)
                if isinstance(data, dict) and data.get("kind") == PHASES_KIND:
                    found[result.id] = data
    return found


def short_id(scenario_id: str) -> str:
    """`feature;scenario;examples;N` shortened to fit a column: the feature's first word, the rest cut."""
    feature, _, rest = scenario_id.partition(";")
    rest = rest.replace(";examples;", " #")
    head = feature.split("-")[0]
    return f"{head}:{rest[: 61 - len(head) - 12]}..{rest[-10:]}" if len(head) + len(rest) > 61 else f"{head}:{rest}"


def table(features: list[reports.ScenarioResult], before: list[reports.ScenarioResult] | None) -> str:
    steps, tables = step_seconds(features), phase_tables(features)
    old = step_seconds(before) if before is not None else {}
    header = f"{'scenario':<62} " + (f"{'before':>7} " if before is not None else "") + f"{'steps':>7} {'wall':>7} "
    header += " ".join(f"{SHORT[key]:>6}" for key, _title in phases.PHASES) + f" {'pulls':>6}"
    lines = [header]
    for scenario, seconds in steps.items():
        data = tables.get(scenario)
        row = f"{short_id(scenario):<62} "
        if before is not None:
            row += f"{old[scenario]:>7.1f} " if scenario in old else f"{'-':>7} "
        row += f"{seconds:>7.1f} "
        if data is None:
            row += f"{'-':>7} (no phase table attached)"
        else:
            row += f"{data['total']:>7.1f} " + " ".join(f"{data['phases'].get(key, 0):>6.1f}" for key in SHORT)
            row += f" {data['pull_seconds']:>6.1f}"
        lines.append(row)
    total = sum(steps.values())
    lines.append(f"{'all scenarios (sum of steps)':<62} " + (f"{sum(old.values()):>7.1f} " if before else "")
                 + f"{total:>7.1f}")  # fmt: skip
    lines.append("columns: " + "; ".join(f"{SHORT[key]} = {title}" for key, title in phases.PHASES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("messages", type=Path, help="a run's messages.ndjson (kfcheck run writes it)")
    parser.add_argument("--before", type=Path, help="an earlier run's messages.ndjson, for before/after times")
    parser.add_argument("--detail", action="store_true", help="also print the full table of the slowest scenario")
    parser.add_argument("--scenario", metavar="TEXT", help="also print the table of each scenario whose id has TEXT")
    args = parser.parse_args(argv)
    try:
        features = reports.read_results(args.messages)
        before = reports.read_results(args.before) if args.before else None
    except reports.ReportError as error:
        print(f"scenario_phases: {error}", file=sys.stderr)
        return 2
    print(table(features, before))
    tables = phase_tables(features)
    chosen = [data for scenario_id, data in tables.items() if args.scenario and args.scenario in scenario_id]
    if args.detail and tables:
        chosen.insert(0, max(tables.values(), key=lambda data: data["total"]))
    known = set(phases.ScenarioPhases.__dataclass_fields__)
    for data in chosen:
        print()
        print(phases.render(phases.ScenarioPhases(**{k: v for k, v in data.items() if k in known})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
