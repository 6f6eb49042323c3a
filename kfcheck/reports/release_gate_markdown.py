"""gate.md: the release gate's report (gate.json, kfcheck.reports.release_gate) for people — the verdict with
its reasons first, then each component's version per run, every scenario's status per run, the comparisons,
the in-flight phases, the CRDs and the rollback check, the commands' output and the phases' times."""

from __future__ import annotations

import re
from typing import Any

_HEADLINES = {
    "pass": "PASS — nothing regressed across the upgrade{rollback}",
    "regression": "FAIL — a scenario regressed",
    "inconclusive": "INCONCLUSIVE — nothing regressed, but the gate could not check everything (below): fix the "
    "cause and run the gate again",
    "unusable": "UNUSABLE — a run's reports cannot be read",
}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ") or "—"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(name) for name in header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]


def _short_digests(image: str) -> str:
    return re.sub(r"sha256:([0-9a-f]{12})[0-9a-f]+", r"sha256:\1…", image)


def verdict_lines(data: dict[str, Any]) -> list[str]:
    """The verdict and each of its reasons: the top of gate.md, and what `kfcheck release-gate` prints last."""
    rollback = " and the rollback" if "before→rollback" in data.get("comparisons", {}) else ""
    headline = _HEADLINES[data["verdict"]].format(rollback=rollback)
    releases = f"{data.get('from') or '?'} → {data.get('to') or '?'}"
    lines = [f"release gate {releases}: {headline} (exit code {data['exit_code']})"]
    return lines + [f"  - {reason}" for reason in data.get("reasons", [])]


def _versions(data: dict[str, Any]) -> list[str]:
    runs = list(data.get("versions", {}))
    if not runs:
        return []
    names = sorted({name for run in runs for name in data["versions"][run]["components"]})
    apis = {name: ", ".join(data["versions"][run]["components"][name]["apis"])
            for run in runs for name in data["versions"][run]["components"]}  # fmt: skip

    def version(run: str, name: str) -> str:
        found = data["versions"][run]["components"].get(name)
        if found is None:
            return "not served"
        return found["version"] or found["note"] or "(no version label)"

    lines = ["## Component versions, as each run read them from the cluster", ""]
    lines += _table(["component (APIs)", *runs], [[f"{name} ({apis[name]})", *(version(run, name) for run in runs)]
                                                  for name in names])  # fmt: skip
    lines += ["", "Images (digests the node pulled):", ""]

    def images(run: str, name: str) -> str:
        found = data["versions"][run]["components"].get(name, {})
        return "<br>".join(_short_digests(image) for image in found.get("images", []))

    lines += _table(["component", *runs], [[name, *(images(run, name) for run in runs)] for name in names])
    for run in runs:
        versions = data["versions"][run]
        extra = [f"not served: {', '.join(versions['not_served'])}"] if versions["not_served"] else []
        extra += [versions["note"]] if versions.get("note") else []
        if extra:
            lines.append(f"- {run} ({versions['source']}): " + "; ".join(extra))
    return [*lines, ""]


def _scenarios(data: dict[str, Any]) -> list[str]:
    runs = list(data.get("runs", {}))
    if not data.get("scenarios"):
        return []
    lines = ["## Scenarios, run by run", ""]
    lines += _table(["scenario", *runs], [[row["name"], *(row["statuses"].get(run, "") for run in runs)]
                                          for row in data["scenarios"]])  # fmt: skip
    summaries = [f"- {run}: {made['summary']} ({made['messages']}, {made['seconds']} s, `kfcheck run` exit code "
                 f"{made['exit_code']}{', interrupted' if made.get('interrupted') else ''})"
                 for run, made in data["runs"].items()]  # fmt: skip
    return [*lines, "", *summaries, ""]


def _comparisons(data: dict[str, Any]) -> list[str]:
    lines = []
    for name, compared in data.get("comparisons", {}).items():
        lines += [f"## {name}: {compared['outcome'].upper()}", ""]
        titled = (("regressions", "regressed"), ("could_not_run", "could not run"), ("left_behind", "cleanup failed"),
                  ("now_passing", "now passing (skipped or failing before)"), ("still_failing", "still not passing"),
                  ("new", "new"))  # fmt: skip
        listed = [(title, compared[key]) for key, title in titled if compared.get(key)]
        if "regressions" not in compared:  # not compared: the runs' reports are why
            listed = [("not compared", compared["reasons"])]
        for title, items in listed:
            lines += [f"- {title} ({len(items)}):", *(f"  - {item}" for item in items)]
        lines += [""] if listed else ["Every scenario that passed before passed again.", ""]
    flight = data.get("in_flight") or {}
    if flight:
        lines += [f"## In-flight work (@upgrade): {flight['outcome'].upper()}", ""]
        lines += [f"- {reason}" for reason in flight["reasons"]] or ["Every in-flight scenario survived."]
        lines.append("")
    return lines


def _crds(data: dict[str, Any]) -> list[str]:
    crds = data.get("crds") or {}
    if not crds:
        return []
    lines = [f"## CRDs of {', '.join(crds.get('groups', []))}", ""]
    snapshots = [key for key in ("before", "before the rollback") if key in crds]
    names = sorted({name for key in snapshots for name in crds[key]})
    header = ["CRD", *(f"{kind} {key}" for key in snapshots for kind in ("served", "stored"))]
    rows = [[name, *(", ".join(crds[key].get(name, {}).get(kind, [])) or "(absent)" for key in snapshots
                     for kind in ("served", "stored"))] for name in names]  # fmt: skip
    lines += _table(header, rows) if names else ["(none read)"]
    check = crds.get("rollback check") or {}
    lines += ["", f"Rollback check: **{check.get('outcome', 'not made')}** — {check.get('message', '')}".rstrip(" —")]
    for key, title in (("added_by_the_upgrade", "added by the upgrade (a rollback may remove them, and their objects)"),
                       ("removed_by_the_upgrade", "removed by the upgrade (a rollback brings them back)")):  # fmt: skip
        if check.get(key):
            lines.append(f"- {title}: {', '.join(check[key])}")
    lines += [f"- {error}" for error in crds.get("errors", [])]
    return [*lines, ""]


def _commands(data: dict[str, Any]) -> list[str]:
    lines = []
    for name, command in data.get("commands", {}).items():
        ended = f"exit code {command['exit_code']}" if command["exit_code"] is not None else "interrupted"
        lines += [f"## The {name} command: {ended}, {command['seconds']} s", "", f"`{command['command']}` "
                  f"(whole output: {command['log']}); its last lines:", "", "```text", command["output_tail"].rstrip(),
                  "```", ""]  # fmt: skip
    return lines


def render(data: dict[str, Any]) -> str:
    title = f"# Release gate: {data.get('from') or '?'} → {data.get('to') or '?'}"
    lines = [title, "", *verdict_lines(data), "", *_versions(data), *_scenarios(data), *_comparisons(data)]
    lines += [*_crds(data), *_commands(data), "## Phases", ""]
    lines += _table(["phase", "seconds"], [[phase, seconds] for phase, seconds in data.get("phases", {}).items()])
    if data.get("in_flight_sweep"):
        lines += ["", "Left by the in-flight feature, deleted at the end: " + ", ".join(data["in_flight_sweep"])]
    lines += ["", *(f"Note: {note}" for note in data.get("notes", []))]
    return "\n".join(lines).rstrip() + "\n"
