"""The rooms of docs/ARCHITECTURE.md, as import rules read from the source's import statements (including
imports inside functions): the suite never imports the embedded cluster (it must run the same against any
cluster), the core imports no other room, a Kubeflow module only the core, and so on."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# room -> the rooms it may import besides itself ("kfcheck" alone: `from kfcheck import reports`, a package)
MAY_IMPORT = {
    "kfcheck/core": {"kfcheck.core"},
    "kfcheck/kubeflow": {"kfcheck.core"},
    "kfcheck/measure": {"kfcheck.core", "kfcheck.reports"},
    "kfcheck/reports": {"kfcheck.core", "kfcheck.measure"},
    "kfcheck/bdd": {"kfcheck.core", "kfcheck.reports", "kfcheck.measure"},
    "kfcheck/upgrades": {"kfcheck.core", "kfcheck.kubeflow", "kfcheck.reports"},
    "kfcheck_cluster": {"kfcheck.core.config"},  # the defaults the suite reads from what `make up` recorded
}
ROOMS = ("kfcheck.core", "kfcheck.kubeflow", "kfcheck.measure", "kfcheck.reports", "kfcheck.bdd", "kfcheck.upgrades",
         "kfcheck.cli", "kfcheck.parallel", "kfcheck_cluster")  # fmt: skip


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def room_of(module: str) -> str | None:
    return next((room for room in ROOMS if module == room or module.startswith(f"{room}.")), None)


def test_the_suite_never_imports_the_embedded_cluster() -> None:
    suite = [*(ROOT / "kfcheck").rglob("*.py"), *(ROOT / "radish").glob("*.py")]
    assert len(suite) > 30, suite
    offenders = {str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if "kfcheck_cluster" in m)
                 for path in suite}  # fmt: skip
    assert not {path: modules for path, modules in offenders.items() if modules}


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_each_room_imports_only_the_rooms_it_may(room: str) -> None:
    own = room.replace("/", ".")
    allowed = {own, *MAY_IMPORT[room]}
    files = sorted((ROOT / room).rglob("*.py"))
    assert files, f"no module in {room}"
    offenders = {}
    for path in files:
        rooms = {room_of(module) for module in imported_modules(path)} - {None}
        wrong = sorted(r for r in rooms if r is not None and not any(_within(r, a) for a in allowed))
        if wrong:
            offenders[str(path.relative_to(ROOT))] = wrong
    assert not offenders


def _within(room: str, allowed: str) -> bool:
    return room == allowed or room.startswith(f"{allowed}.") or allowed.startswith(f"{room}.")


def python_files() -> list[Path]:
    return [*(ROOT / "kfcheck").rglob("*.py"), *(ROOT / "kfcheck_cluster").rglob("*.py")]


def test_the_suites_top_level_holds_only_a_handful_of_modules() -> None:
    modules = sorted(path.name for path in (ROOT / "kfcheck").glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "cli.py", "parallel.py"], modules


def test_no_module_is_over_400_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in python_files()
            if (n := len(path.read_text().splitlines())) > 400}  # fmt: skip
    assert not long


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert not long
