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
from radish.feature import Feature

from kfcheck.capabilities import Unavailable
from kfcheck.config import ConfigError
from kfcheck.kube import ClusterUnavailable
from kfcheck.manifests import FixtureError
from kfcheck.redact import redact_text
from kfcheck.reports import COULD_NOT_RUN

SETUP_ERROR = "kfcheck_setup_error"
SKIP_REASON = "kfcheck_skip_reason"
SKIP_SHOWN = "kfcheck_skip_shown"


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


class CouldNotRun(RuntimeError):
    """The suite itself could not test (its set-up, a fixture, the connection), so the scenario says
    nothing about Kubeflow; reports and the gate tell it from a failure by the message's prefix."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{COULD_NOT_RUN}: {cause.__class__.__name__}: {cause}")


def scenario_step(function: Callable[..., None]) -> Callable[..., None]:
    """Wraps a step that works on the cluster, called with the kfcheck Scenario (kfcheck/scenario.py)
    instead of radish's step: skipped under --dry-run; skips the rest of the scenario with
    the reason when the cluster lacks what it needs (capabilities.Unavailable); fails as "could not run"
    with the scenario's set-up error if its set-up hook failed, or when the suite's own fixtures, settings
    or connection fail in the step."""

    @functools.wraps(function)
    def run(step: Any, *args: Any, **kwargs: Any) -> None:
        if is_dry_run():
            step.skip()
            return
        reason = getattr(step.context, SKIP_REASON, None)
        if reason:  # the cluster (or the user's rights) lacks what the scenario needs
            if not getattr(step.context, SKIP_SHOWN, False):
                setattr(step.context, SKIP_SHOWN, True)
                step.embed(f"skipped: {reason}")
            step.skip()
            return
        error = getattr(step.context, SETUP_ERROR, None)
        if error is not None:
            raise CouldNotRun(error) from error
        scenario = step.context.kfcheck
        scenario.step = step
        try:
            function(scenario, *args, **kwargs)
        except Unavailable as absent:
            skip_scenario(step, str(absent))
        except (FixtureError, ConfigError, ClusterUnavailable) as suite_error:
            raise CouldNotRun(suite_error) from suite_error

    return run


def feature_of(scenario: Any) -> Any:
    """The Feature a scenario (or an outline's example scenario) belongs to."""
    node = scenario
    while not isinstance(node, Feature):
        node = node.parent
    return node


def mark_skipped(scenario: Any, reason: str) -> None:
    """Every step of the scenario is skipped; its first step shows the reason in the reports."""
    setattr(scenario.context, SKIP_REASON, reason)
    print(f"kfcheck: skipped '{scenario.sentence}': {reason}", file=sys.stderr, flush=True)


def skip_scenario(step: Any, reason: str) -> None:
    """Skips this step and the rest of its scenario, with the reason in the console and the reports."""
    mark_skipped(step.parent, reason)
    setattr(step.context, SKIP_SHOWN, True)
    step.embed(f"skipped: {reason}")
    step.skip()


def attach_evidence(step: Any, name: str, text: str, mime_type: str = "text/plain") -> None:
    """Embeds redacted evidence into the step's cucumber JSON entry (base64, with a name)."""
    body = f"### {name}\n{redact_text(text)}"
    step.embed(base64.b64encode(body.encode()).decode(), mime_type=mime_type, encode_data_to_base64=False)
