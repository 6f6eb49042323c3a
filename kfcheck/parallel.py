"""`python -m kfcheck run-parallel -j N`: radish runs one process at a time, so scenarios that mostly wait for
the cluster run side by side in N radish processes, one feature file's scenarios per process, and their
cucumber JSON reports are merged into one.

Scenarios matching the serial tag expression (default `slow`: the trainings and the Helm upgrade, which
need the CPU or change what everyone uses) run afterwards in one radish process, alone. Each process
has its own scenario namespaces and cleans them up itself (kfcheck.core.namespaces).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kfcheck import reports

DEFAULT_SERIAL = "slow"


@dataclass
class Run:
    name: str
    features: list[str]
    tags: str
    report: Path
    log: Path
    returncode: int | None = None
    seconds: float = 0.0


def combine(user_tags: str | None, expression: str) -> str:
    return f"({user_tags}) and ({expression})" if user_tags else expression


def scenarios_matching(feature: str, tags: str) -> int:
    """How many scenarios of a feature file radish would run with this tag expression (its own parser)."""
    import tagexpressions
    from radish.core import Core

    core = Core()
    core.parse_features([feature], tagexpressions.parse(tags))
    return sum(len(parsed.scenarios) for parsed in core.features_to_run)


def plan(features: Sequence[str], user_tags: str | None, serial: str, output: Path) -> tuple[list[Run], Run | None]:
    """The parallel runs (one per feature file with scenarios outside `serial`) and the serial run."""
    side_by_side = combine(user_tags, f"not ({serial})")
    alone = combine(user_tags, serial)
    parallel = [
        Run(Path(f).stem, [f], side_by_side, output / f"{Path(f).stem}.json", output / f"{Path(f).stem}.log")
        for f in features
        if scenarios_matching(f, side_by_side)
    ]
    serial_features = [f for f in features if scenarios_matching(f, alone)]
    if not serial_features:
        return parallel, None
    return parallel, Run("serial", serial_features, alone, output / "serial.json", output / "serial.log")


def radish_command(run: Run, radish: str, basedir: str, extra: Sequence[str]) -> list[str]:
    return [radish, *run.features, "-b", basedir, "--tags", run.tags, "--no-ansi",
            "--cucumber-json", str(run.report), *extra]  # fmt: skip


_print_lock = threading.Lock()


def execute(run: Run, radish: str, basedir: str, extra: Sequence[str]) -> Run:
    started = time.monotonic()
    with run.log.open("w") as log:
        result = subprocess.run(radish_command(run, radish, basedir, extra), stdout=log, stderr=subprocess.STDOUT,
                                check=False)  # fmt: skip
    run.returncode, run.seconds = result.returncode, time.monotonic() - started
    with _print_lock:
        summary = [line for line in run.log.read_text().splitlines() if line.endswith(")") and "scenarios" in line]
        print(f"kfcheck run: {run.name}: exit {run.returncode} after {run.seconds:.0f}s "
              f"{summary[-1] if summary else ''} (log {run.log})", flush=True)  # fmt: skip
    return run


def merge(report_paths: Sequence[Path], features_order: Sequence[str]) -> list[dict[str, Any]]:
    """One cucumber report from several: a feature run in two processes gets both sets of scenarios, in
    the order of their lines; features keep the order they were given in."""
    merged: dict[str, dict[str, Any]] = {}
    for path in report_paths:
        if not path.exists():
            continue
        for feature in reports.load(path):
            uri = feature.get("uri", feature.get("name", ""))
            if uri in merged:
                merged[uri]["elements"] += feature.get("elements", [])
            else:
                merged[uri] = feature
    for feature in merged.values():
        feature["elements"].sort(key=lambda element: element.get("line", 0))
    order = {uri: index for index, uri in enumerate(features_order)}
    return reports.normalise(sorted(merged.values(), key=lambda f: order.get(f.get("uri", ""), len(order))))


def main(
    features: Sequence[str],
    jobs: int,
    cucumber_json: Path,
    user_tags: str | None = None,
    serial: str = DEFAULT_SERIAL,
    extra: Sequence[str] = (),
    basedir: str = "radish",
) -> int:
    radish = str(Path(sys.executable).with_name("radish"))
    output = cucumber_json.with_suffix(".parts")
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    parallel, serial_run = plan(features, user_tags, serial, output)
    print(f"kfcheck run: {len(parallel)} feature(s) side by side in up to {jobs} radish processes"
          + (f", then {len(serial_run.features)} feature(s) with '{serial}' scenarios alone" if serial_run else ""),
          flush=True)  # fmt: skip
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        done = list(pool.map(lambda run: execute(run, radish, basedir, extra), parallel))
    if serial_run is not None:
        done.append(execute(serial_run, radish, basedir, extra))
    merged = merge([run.report for run in done], features)
    cucumber_json.write_text(json.dumps(merged, indent=2))
    summary = reports.summary(reports.results_from_json(merged))
    print(f"kfcheck run: {summary} in {time.monotonic() - started:.0f}s; report {cucumber_json}")
    return max((run.returncode or 0 for run in done), default=0)
