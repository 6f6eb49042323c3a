"""Plumbing between radish 0.18.4 and the suite, covering its defaults that would make a report lie.

- An exception in a radish hook aborts the whole run. Scenario set-up errors are therefore caught and
  kept in the scenario's context; the scenario's first step raises them, so that scenario fails (with
  the set-up error as its error_message) and the run goes on.
- SIGTERM (a CI timeout) kills radish before it writes any report; it is turned into the Ctrl-C path,
  which runs the after hooks (cleanup) and writes the cucumber JSON and JUnit XML.
- `--dry-run` is parsed but ignored by radish; cluster steps skip themselves and hooks touch nothing.
- `--tags "not @slow"` silently matches nothing (radish tag names carry no '@'): refused with the fix.
- radish names outline rows "<outline> - row N"; they are renamed with their values before the run.
- A run refused before it starts (refuse_start) writes a messages file with one failed test case naming the
  cause and the fix (the run itself is recorded by kfcheck.bdd.recording; every hook and its order:
  kfcheck.bdd.hooks).
"""

from __future__ import annotations

import base64
import functools
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from radish import world
from radish.feature import Feature

from kfcheck import reports
from kfcheck.core.capabilities import Unavailable
from kfcheck.core.config import ConfigError
from kfcheck.core.kube import ClusterUnavailable
from kfcheck.core.manifests import FixtureError
from kfcheck.core.redact import redact_text
from kfcheck.reports import COULD_NOT_RUN

SETUP_ERROR = "kfcheck_setup_error"
SKIP_REASON = "kfcheck_skip_reason"  # on a scenario's context: why each of its steps is skipped
STEP_SKIP_REASON = "kfcheck_step_skip_reason"  # on a step the suite skipped
STRICT_FAILURE = "strict mode (-u strict=true) fails a scenario that would be skipped"
_interrupted_by: list[str] = []  # the signal that interrupted the run


def is_dry_run() -> bool:
    return bool(getattr(world.config, "dry_run", False))


def install_signal_handlers() -> None:
    def terminate(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
        _interrupted_by.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    def interrupt(signum: int, _frame: object) -> None:
        _interrupted_by.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, interrupt)


def interrupted_by() -> str | None:
    return _interrupted_by[0] if _interrupted_by else None


def refuse_start(title: str, cause: str, fix: str) -> NoReturn:
    """Ends a run that cannot start: the cause and fix on stderr and, when the run is recorded, in a
    messages file with one failed test case; exit code 2."""
    print(f"kfcheck: {cause}\nkfcheck: fix: {fix}", file=sys.stderr)
    messages = os.environ.get(reports.MESSAGES_ENV)
    if messages:
        reports.write_start_failure(messages, title, cause, fix)
    _write_radish_reports_of_start_failure(title, cause, fix)
    raise SystemExit(2)


def _write_radish_reports_of_start_failure(title: str, cause: str, fix: str) -> None:
    """radish's own --cucumber-json / --junit-xml are written by its after.all hooks, which a run that never
    starts does not reach: both are written here instead, holding the failed start, its cause and the fix."""
    config = getattr(world, "config", None)
    cucumber_json, junit = getattr(config, "cucumber_json", None), getattr(config, "junit_xml", None)
    if not cucumber_json and not junit:
        return
    with tempfile.TemporaryDirectory(prefix="kfcheck-start-") as scratch:
        messages = reports.write_start_failure(Path(scratch) / "messages.ndjson", title, cause, fix)
        writers: list[tuple[str | None, Callable[[Path, str], Path]]] = [
            (cucumber_json, reports.write_cucumber_json),
            (junit, lambda source, target: reports.write_junit(reports.read_results(source), target)),
        ]
        for path, write in writers:
            if not path:
                continue
            try:
                write(messages, path)
            except (reports.ReportError, OSError) as error:
                print(f"kfcheck: could not write {path}: {error}", file=sys.stderr)


def check_tag_expression() -> None:
    tags = getattr(world.config, "tags", None)
    if tags and "@" in tags:
        fixed = tags.replace("@", "")
        refuse_start(
            "the tag expression matches nothing",
            f"--tags '{tags}': radish tag names have no '@'; as written it matches nothing and every scenario "
            "would run",
            f"Use --tags '{fixed}'",
        )


def name_outline_rows(features: list[Any]) -> None:
    """Outline rows are named with their values ("... with 2 workers"), not "... with <workers> workers - row 0"."""
    for feature in features:
        for scenario in feature.scenarios:
            header: list[str] = getattr(scenario, "examples_header", None) or []
            for row in getattr(scenario, "scenarios", []) if header else []:
                values = dict(zip(header, row.example.data, strict=False))
                row.sentence = reports.outline_row_name(scenario.sentence, values)


def record_setup_error(scenario: Any, error: BaseException) -> None:
    setattr(scenario.context, SETUP_ERROR, error)


class CouldNotRun(RuntimeError):
    """The suite itself could not test (its set-up, a fixture, the connection), so the scenario says
    nothing about Kubeflow; reports and the gate tell it from a failure by the message's prefix."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{COULD_NOT_RUN}: {cause.__class__.__name__}: {cause}")


def scenario_step(function: Callable[..., None]) -> Callable[..., None]:
    """Wraps a step that works on the cluster, called with the kfcheck Scenario (kfcheck/core/scenario.py)
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
            skip_step(step, reason)
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


StepRow = tuple[Callable[[str], Callable[..., Any]], str, Callable[..., Any]]


def register_steps(rows: list[StepRow]) -> None:
    """Registers each (keyword, sentence, call) row with radish: `keyword` is radish's given/when/then, the
    call gets the scenario and the sentence's named fields (scenario_step)."""
    for keyword, sentence, call in rows:
        keyword(sentence)(scenario_step(call))


def feature_of(scenario: Any) -> Any:
    """The Feature a scenario (or an outline's example scenario) belongs to."""
    node = scenario
    while not isinstance(node, Feature):
        node = node.parent
    return node


def strict() -> bool:
    """-u strict=true: a scenario that would be skipped fails instead (where everything should be served)."""
    return bool(getattr(getattr(world, "settings", None), "strict", False))


class SkipRefused(AssertionError):
    """Strict mode: the scenario would have been skipped; the reason is the failure."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{STRICT_FAILURE}: {reason}")


def mark_skipped(scenario: Any, reason: str) -> None:
    """Every step of the scenario is skipped, each with the reason as its result's message (strict mode: its
    first step fails with it)."""
    setattr(scenario.context, SKIP_REASON, reason)
    verdict = "fails (strict)" if strict() else "skipped"
    print(f"kfcheck: {verdict} '{scenario.sentence}': {reason}", file=sys.stderr, flush=True)


def skip_step(step: Any, reason: str) -> None:
    """Skips the step with the reason as its result's message, or, in strict mode, fails it with the reason."""
    if strict():
        raise SkipRefused(reason)
    setattr(step, STEP_SKIP_REASON, reason)
    step.skip()


def skip_scenario(step: Any, reason: str) -> None:
    """Skips this step and the rest of its scenario, with the reason in the console and the reports."""
    mark_skipped(step.parent, reason)
    skip_step(step, reason)


def skip_reason_of(step: Any) -> str | None:
    """Why the suite skipped this step (skip_step), for its result's message; None for radish's own skips."""
    reason = getattr(step, STEP_SKIP_REASON, None)
    if reason is None and not strict() and str(getattr(step, "state", "")) in ("skipped", "untested"):
        reason = getattr(getattr(step, "context", None), SKIP_REASON, None)
    return str(reason) if reason else None


def attach_evidence(step: Any, name: str, text: str, mime_type: str = "text/plain") -> None:
    """Embeds redacted evidence into the step's cucumber JSON entry (base64, with a name)."""
    body = f"### {name}\n{redact_text(text)}"
    step.embed(base64.b64encode(body.encode()).decode(), mime_type=mime_type, encode_data_to_base64=False)
