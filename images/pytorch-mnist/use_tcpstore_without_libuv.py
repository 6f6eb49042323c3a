"""Makes torchrun usable with Debian's PyTorch, which is built without libuv.

PyTorch's Python code creates its TCPStore (torchrun's rendezvous, the workers' env:// client) with the
C++ default use_libuv=True at several call sites, some of which ignore USE_LIBUV=0; Debian's build then
fails with "use_libuv was requested but PyTorch was build without libuv support". This adds
`use_libuv=False` to every TCPStore(...) call in torch.distributed that does not pass use_libuv itself.
Run once at image build; the image's tests (test_train.py, torchrun across two nodes) show it worked.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def calls_without_use_libuv(source: str) -> list[tuple[int, int]]:
    """(line, column) of the closing parenthesis of each TCPStore(...) call lacking use_libuv=."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "TCPStore" and not any(keyword.arg == "use_libuv" for keyword in node.keywords):
            assert node.end_lineno is not None and node.end_col_offset is not None
            found.append((node.end_lineno, node.end_col_offset - 1))
    return found


def patch(path: Path) -> int:
    lines = path.read_text().splitlines(keepends=True)
    calls = calls_without_use_libuv("".join(lines))
    for line, column in sorted(calls, reverse=True):  # from the end, so earlier positions stay valid
        text = lines[line - 1]
        before = "".join(lines[: line - 1]) + text[:column]
        separator = "" if before.rstrip().endswith((",", "(")) else ","
        lines[line - 1] = text[:column] + f"{separator} use_libuv=False" + text[column:]
    if calls:
        path.write_text("".join(lines))
        ast.parse(path.read_text())  # still valid Python
    return len(calls)


def main(root: str) -> int:
    patched = {str(path): patch(path) for path in sorted(Path(root).rglob("*.py")) if "TCPStore(" in path.read_text()}
    for path, count in patched.items():
        if count:
            print(f"{path}: {count} TCPStore call(s) now pass use_libuv=False")
    return 0 if any(patched.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
