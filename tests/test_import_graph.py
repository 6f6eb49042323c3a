"""The suite (kfcheck/ outside embedded/, radish/) never imports the embedded cluster: it must run the same
against any cluster. Read from the source's import statements, including imports inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = [path for path in (ROOT / "kfcheck").rglob("*.py") if "embedded" not in path.parts] + sorted(
    (ROOT / "radish").glob("*.py")
)


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_suite_never_imports_the_embedded_cluster() -> None:
    assert len(SUITE) > 10, SUITE
    offenders = {
        str(path.relative_to(ROOT)): sorted(module for module in imported_modules(path) if "kfcheck.embedded" in module)
        for path in SUITE
    }
    assert not {path: modules for path, modules in offenders.items() if modules}
