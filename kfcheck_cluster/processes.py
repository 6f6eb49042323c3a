"""Host processes of the embedded cluster: started detached, tracked by PID file, logs in files."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kfcheck_cluster.layout import Layout


class ClusterError(RuntimeError):
    """A failure of the embedded cluster whose message names the cause and, where known, the fix."""


@dataclass
class HostProcess:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)

    def pid_file(self, layout: Layout) -> Path:
        return layout.run / f"{self.name}.pid"

    def log_file(self, layout: Layout) -> Path:
        return layout.logs / f"{self.name}.log"


def _executable(pid: int) -> str | None:
    """The binary a process runs. /proc/<pid>/exe is set early in exec, unlike cmdline, which is
    empty for a moment after a child's exec begins."""
    try:
        target = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None
    return target.removesuffix(" (deleted)")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def running_pid(process: HostProcess, layout: Layout) -> int | None:
    """PID of the process if its PID file names a live process running the same executable."""
    try:
        pid = int(process.pid_file(layout).read_text().strip())
    except (OSError, ValueError):
        return None
    executable = _executable(pid)
    if executable is None or _is_zombie(pid):
        return None
    if os.path.basename(executable) != os.path.basename(os.path.realpath(process.argv[0])):
        return None  # the PID was reused by something else
    return pid


def untracked_instances(process: HostProcess, layout: Layout) -> list[int]:
    """Live processes running exactly this component's command line that its PID file does not name: an
    earlier instance still shutting down, or one whose PID file was lost. They may hold its ports."""
    wanted = "\0".join(process.argv) + "\0"
    tracked = running_pid(process, layout)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in (tracked, os.getpid()):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if cmdline == wanted and not _is_zombie(int(entry.name)):
            found.append(int(entry.name))
    return found


def start(process: HostProcess, layout: Layout) -> int:
    """Starts the process unless it already runs; returns its PID."""
    pid = running_pid(process, layout)
    if pid is not None:
        return pid
    executable = Path(process.argv[0])
    if not executable.exists():
        raise ClusterError(f"{process.name}: {executable} does not exist; run `make build` first")
    layout.run.mkdir(parents=True, exist_ok=True)
    layout.logs.mkdir(parents=True, exist_ok=True)
    log = process.log_file(layout).open("ab")
    log.write(f"\n=== {time.strftime('%F %T')} start: {' '.join(process.argv)}\n".encode())
    log.flush()
    env = {**os.environ, **process.env}
    child = subprocess.Popen(
        list(process.argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    log.close()
    process.pid_file(layout).write_text(f"{child.pid}\n")
    return child.pid


def stop_pid(pid: int, grace_seconds: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after the grace period."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            _reap(pid)
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(pid)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(process: HostProcess, layout: Layout, grace_seconds: float = 10.0) -> None:
    pid = running_pid(process, layout)
    if pid is not None:
        stop_pid(pid, grace_seconds)
    process.pid_file(layout).unlink(missing_ok=True)


def log_tail(process: HostProcess, layout: Layout, lines: int = 25) -> str:
    """The last lines the current run of the process wrote (its log file keeps earlier runs too)."""
    try:
        text = process.log_file(layout).read_text(errors="replace")
    except OSError:
        return "(no log)"
    current_run = text.rsplit("\n=== ", 1)[-1]
    return "\n".join(current_run.splitlines()[-lines:])


class ProcessExited(ClusterError):
    """The process a readiness wait was for exited."""


def wait_until(
    what: str,
    check: Callable[[], bool],
    timeout: float,
    process: HostProcess | None = None,
    layout: Layout | None = None,
    interval: float = 0.25,
) -> None:
    """Waits for a host-side readiness check of a process (a port, an HTTP health endpoint).

    The cluster's own objects are watched through the API by kfcheck.core.wait; this loop covers the
    moments before there is an API to watch. It ends at once when the process it waits for exits.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if process is not None and layout is not None and running_pid(process, layout) is None:
            if check():
                return
            raise ProcessExited(
                f"{process.name} exited while waiting for {what}; last lines of "
                f"{process.log_file(layout)}:\n{log_tail(process, layout)}"
            )
        if time.monotonic() > deadline:
            detail = ""
            if process is not None and layout is not None:
                detail = f"; last lines of {process.log_file(layout)}:\n{log_tail(process, layout)}"
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def run(argv: Sequence[str], what: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> str:
    """Runs a short command; raises ClusterError naming `what` and the command's output on failure."""
    result = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        cwd=cwd,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        raise ClusterError(f"{what} failed ({' '.join(argv)}):\n{output[-3000:]}")
    return result.stdout
