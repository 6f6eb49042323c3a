"""The whole release gate on the warm embedded cluster, and where its time goes: `make release-gate FROM=… TO=…`
(the cluster brought to FROM and TO's images built first, as the make target does), timed end to end, then
each phase's seconds from the gate's own report (reports/release-gate/gate.json: the runs, the upgrade and
rollback commands, the checks) and the versions each run read from the cluster.

    ~/.cache/kfcheck/venv/bin/python bench/release_gate.py [--from kubeflow-1.11] [--to kubeflow-master-2026-06]
        [--reports reports/bench-release-gate] [--summarise-only]

Prints a Markdown table for docs/benchmarks.md. Measures; asserts nothing (the gate's exit code is printed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run_gate(release_from: str, release_to: str, reports: Path) -> tuple[int, float]:
    started = time.monotonic()
    argv = ["make", "--no-print-directory", "release-gate", f"FROM={release_from}", f"TO={release_to}",
            f"REPORTS={reports}", "RADISH_ARGS=--no-ansi --no-line-jump"]  # fmt: skip
    code = subprocess.run(argv, cwd=REPO, check=False).returncode
    return code, time.monotonic() - started


def versions_row(gate: dict[str, Any], component: str) -> str:
    cells = []
    for run in ("before", "after", "rollback"):
        entry = gate.get("versions", {}).get(run, {}).get("components", {}).get(component, {})
        cells.append(entry.get("version") or "—")
    return f"| {component} | " + " | ".join(cells) + " |"


def summarise(reports: Path, code: int | None, seconds: float | None) -> str:
    gate = json.loads((reports / "release-gate" / "gate.json").read_text())
    lines = [f"verdict **{gate['verdict']}** (exit {gate['exit_code'] if code is None else code}), "
             f"{gate.get('from')} → {gate.get('to')} → back", "", "| phase | seconds |", "|---|---:|"]  # fmt: skip
    for phase, value in gate["phases"].items():
        lines.append(f"| {phase} | {value:.0f} |")
    total = sum(gate["phases"].values())
    lines.append(f"| **the gate's phases, summed** | **{total:.0f}** |")
    if seconds is not None:
        lines.append(
            f"| `make release-gate` end to end (with bringing the cluster to FROM, TO's images) | {seconds:.0f} |"
        )
    components = sorted({name for run in gate.get("versions", {}).values() for name in run.get("components", {})})
    lines += ["", "| component | before | after | rollback |", "|---|---|---|---|"]
    lines += [versions_row(gate, name) for name in components]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="release_from", default="kubeflow-1.11")
    parser.add_argument("--to", dest="release_to", default="kubeflow-master-2026-06")
    parser.add_argument("--reports", type=Path, default=REPO / "reports" / "bench-release-gate")
    parser.add_argument("--summarise-only", action="store_true", help="only read an earlier run's gate.json")
    args = parser.parse_args()
    code: int | None = None
    seconds: float | None = None
    if not args.summarise_only:
        code, seconds = run_gate(args.release_from, args.release_to, args.reports)
    print(summarise(args.reports, code, seconds))


if __name__ == "__main__":
    main()
