"""The release gate's child processes: each `kfcheck run` (radish keeps its registries per process) and the
upgrade and rollback commands (a shell command line each, its output echoed live and kept in a log).

Each child runs in a session of its own, so that a Ctrl-C at the terminal reaches the gate alone: the gate then
hands the child one SIGINT (a `kfcheck run` ends its reports properly, a command can stop cleanly) and waits for
it; a second Ctrl-C (or SIGTERM) kills the child's whole process group."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from kfcheck.core.redact import redact_text
from kfcheck.reports.release_gate import CommandRecord

TAIL_LINES = 40  # the lines of a command's output the report keeps
GRACE_SECONDS = 600  # how long an interrupted child may take to end (a run's cleanup rides out API outages)


def kfcheck_run(directory: Path, radish_args: list[str]) -> int:
    """`python -m kfcheck run --reports DIRECTORY <radish args>` in a process of its own; its exit code."""
    command = [sys.executable, "-m", "kfcheck", "run", "--reports", str(directory), *radish_args]
    print(f"kfcheck release-gate: {' '.join(command)}", flush=True)
    process = subprocess.Popen(command, start_new_session=True)
    return wait_through_interrupt(process, drain=lambda: None)


def run_command(command: str, log: Path, echo: TextIO | None = None) -> CommandRecord:
    """The command line through the shell, its output (stdout and stderr) echoed live and written to `log`. An
    interrupt (Ctrl-C, SIGTERM) stops the command and is returned, as `interrupted`, for the caller to act on."""
    echo = echo or sys.stdout
    log.parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    started = time.monotonic()
    print(f"kfcheck release-gate: running `{command}` (output in {log})", flush=True)
    with log.open("w", encoding="utf-8") as out:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # a Python command's output shown as it comes
        process = subprocess.Popen(  # noqa: S602 - the user's own command line, run as given
            command,
            shell=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment,
        )
        assert process.stdout is not None
        output = process.stdout

        def drain() -> None:
            for raw in iter(output.readline, b""):
                line = raw.decode("utf-8", errors="replace")
                out.write(line)
                out.flush()
                echo.write(line)
                echo.flush()
                tail.append(line)

        code: int | None = None
        interrupted = ""
        try:
            code = wait_through_interrupt(process, drain)
        except KeyboardInterrupt as interrupt:
            interrupted = str(interrupt) or "Ctrl-C"
        finally:
            output.close()
    return CommandRecord(command, code, time.monotonic() - started, log, redact_text("".join(tail)), interrupted)


def wait_through_interrupt(process: subprocess.Popen[bytes], drain: Callable[[], None]) -> int:
    """The child's exit code once `drain` has read its output. On KeyboardInterrupt the child's process group gets
    SIGINT and up to GRACE_SECONDS to end (a second interrupt kills it); then the interrupt is raised again."""
    try:
        drain()
        return process.wait()
    except KeyboardInterrupt:
        _signal_group(process, signal.SIGINT)
        try:
            drain()
            process.wait(timeout=GRACE_SECONDS)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            _signal_group(process, signal.SIGKILL)
            process.wait()
        raise


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has ended already
        os.killpg(process.pid, signum)


def interrupt_on_sigterm() -> None:
    """SIGTERM (a CI job cancelled) ends the gate as Ctrl-C does: its children are stopped, its report written."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)
