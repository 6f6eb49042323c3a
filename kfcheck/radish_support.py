"""Plumbing between radish 0.18.4 and the suite, covering its defaults that would make a report lie.

- An exception in a radish hook aborts the whole run. Scenario set-up errors are therefore caught and
  kept in the scenario's context; the scenario's first step raises them, so that scenario fails (with
  the set-up error as its error_message) and the run goes on.
- SIGTERM (a CI timeout) kills radish before it writes any report; it is turned into the Ctrl-C path,
  which runs the after hooks (cleanup) and writes the cucumber JSON and JUnit XML.
- `--dry-run` is parsed but ignored by radish; cluster steps skip themselves and hooks touch nothing.
- `--tags "not @slow"` silently matches nothing (radish tag names carry no '@'): refused with the fix.
"""

from __future__ import annotations

import base64
import functools
import signal
import sys
from collections.abc import Callable
from typing import Any

from radish import world

from kfcheck.redact import redact_text

SETUP_ERROR = "kfcheck_setup_error"
SKIP_REASON = "kfcheck_skip_reason"


def is_dry_run() -> bool:
    return bool(getattr(world.config, "dry_run", False))


def install_signal_handlers() -> None:
    def terminate(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, terminate)


def check_tag_expression() -> None:
    tags = getattr(world.config, "tags", None)
    if tags and "@" in tags:
        fixed = tags.replace("@", "")
        print(
            f"kfcheck: --tags '{tags}': radish tag names have no '@'; as written it matches nothing and every "
            f"scenario would run. Use --tags '{fixed}'",
            file=sys.stderr,
        )
        raise SystemExit(2)


def record_setup_error(scenario: Any, error: BaseException) -> None:
    setattr(scenario.context, SETUP_ERROR, error)


def skip_scenario(step: Any, reason: str) -> None:
    """Skips this step and every later step of its scenario (radish itself skips only after a failure);
    the reason is embedded in the step's report entry and printed."""
    setattr(step.context, SKIP_REASON, reason)
    step.embed(f"skipped: {reason}")
    print(f"kfcheck: skipping '{step.parent.sentence}': {reason}", file=sys.stderr)
    step.skip()


def scenario_step(function: Callable[..., None]) -> Callable[..., None]:
    """Wraps a step that works on the cluster: skipped under --dry-run or after skip_scenario; fails with
    the scenario's set-up error if its set-up hook failed."""

    @functools.wraps(function)
    def run(step: Any, *args: Any, **kwargs: Any) -> None:
        if is_dry_run() or getattr(step.context, SKIP_REASON, None):
            step.skip()
            return
        error = getattr(step.context, SETUP_ERROR, None)
        if error is not None:
            raise AssertionError(f"the scenario's set-up failed: {error}") from error
        function(step, *args, **kwargs)

    return run


def attach_evidence(step: Any, name: str, text: str, mime_type: str = "text/plain") -> None:
    """Embeds redacted evidence into the step's cucumber JSON entry (base64, with a name)."""
    body = f"### {name}\n{redact_text(text)}"
    step.embed(base64.b64encode(body.encode()).decode(), mime_type=mime_type, encode_data_to_base64=False)
