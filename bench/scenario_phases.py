"""Where each scenario's time went, from a run's cucumber JSON (the phase tables radish_timings attached).

    PYTHONPATH=. ~/.cache/kfcheck/venv/bin/python bench/scenario_phases.py reports/cucumber.json
    ... bench/scenario_phases.py after.json --before before.json   # each scenario's time before and after
    ... bench/scenario_phases.py reports/cucumber.json --detail      # and the full table of the slowest one

A scenario's time is the sum of its steps' durations (cucumber JSON); "wall" adds its set-up and
after-scenario hooks (namespace creation, cleanup), as its phase table measured them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kfcheck import phases, reports, usage
from kfcheck.radish_timings import PHASES_KIND

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


def step_seconds(features: list[dict[str, Any]]) -> dict[str, float]:
    """scenario id -> sum of its steps' durations (s)."""
    found = {}
    for feature in reports.normalise(features):
        for element in feature.get("elements", []):
            nanoseconds = sum(step.get("result", {}).get("duration") or 0 for step in element.get("steps", []))
            found[element["id"]] = nanoseconds / 1e9
    return found


def phase_tables(features: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """scenario id -> its attached phase data."""
    found = {}
    for feature in reports.normalise(features):
        for element in feature.get("elements", []):
            tables = usage.attachments([{"elements": [element]}], PHASES_KIND)
            if tables:
                found[element["id"]] = tables[-1]
    return found


def short_id(scenario_id: str) -> str:
    """`feature;scenario;examples;N` shortened to fit a column: the feature's first word, the rest cut."""
    feature, _, rest = scenario_id.partition(";")
    rest = rest.replace(";examples;", " #")
    head = feature.split("-")[0]
    return f"{head}:{rest[: 61 - len(head) - 12]}..{rest[-10:]}" if len(head) + len(rest) > 61 else f"{head}:{rest}"


def table(features: list[dict[str, Any]], before: list[dict[str, Any]] | None) -> str:
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
    parser.add_argument("cucumber_json", type=Path)
    parser.add_argument("--before", type=Path, help="an earlier run's cucumber JSON, for before/after times")
    parser.add_argument("--detail", action="store_true", help="also print the full table of the slowest scenario")
    args = parser.parse_args(argv)
    try:
        features = reports.load(args.cucumber_json)
        before = reports.load(args.before) if args.before else None
    except reports.ReportError as error:
        print(f"scenario_phases: {error}", file=sys.stderr)
        return 2
    print(table(features, before))
    if args.detail:
        tables = phase_tables(features)
        if tables:
            slowest = max(tables.values(), key=lambda data: data["total"])
            known = {key for key in phases.ScenarioPhases.__dataclass_fields__}
            print()
            print(phases.render(phases.ScenarioPhases(**{k: v for k, v in slowest.items() if k in known})))
    return 0


if __name__ == "__main__":
    sys.exit(main())
