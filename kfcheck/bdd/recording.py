"""The run recorded as Cucumber Messages (kfcheck.reports.RunRecorder), fed by radish hooks.

The recorder runs when $KFCHECK_MESSAGES names a file (`kfcheck run` sets it). Its hooks are the functions
below (start_recording ... fail_the_run_on_a_failed_cleanup); kfcheck.bdd.hooks registers them with radish, in
its table of every hook and its order. recorded_hook() makes a scenario hook of the suite a hook step of each
test case; report_for_run() puts what a before.all hook found at the top of the reports. A hook here never
raises into radish (that would abort the run): a failure to record stops recording, with a message.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

from radish.hookregistry import HookRegistry
from radish.stepregistry import StepRegistry

from kfcheck import reports
from kfcheck.bdd.support import SETUP_ERROR, interrupted_by, name_outline_rows, skip_reason_of
from kfcheck.core.redact import redact_text
from kfcheck.reports import COULD_NOT_RUN

Evidence = Callable[[Any], dict[str, str]]  # a scenario -> its evidence by name (diagnostics.gather)

_hook_of_wrapper: dict[Callable[[Any], None], reports.RecordedHook] = {}  # what radish calls -> its record
_recorder: list[reports.RunRecorder] = []  # the run's recorder, once started
_cleanup_failures: list[str] = []  # after hooks that failed
_run_cleanup_failures: list[str] = []  # cleanups of the whole run that failed (note_failed_run_cleanup)
_run_findings: list[tuple[str, Callable[..., Any], list[reports.Envelope]]] = []  # recorded as run hooks


def recorded_hook(
    when: str, name: str, evidence: Evidence | None = None
) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Records a `when` ("before" | "after") each_scenario hook as a hook step of each test case (the hook
    table, kfcheck.bdd.hooks, registers what this returns). It fails when the hook raises or leaves a set-up
    error in the context. An after hook that raises (a failed cleanup) is recorded failed with
    `evidence(scenario)` attached, printed, and remembered (fail_the_run_on_a_failed_cleanup fails the run at
    its end); it is not re-raised, which would abort the run. What the hook embeds into the scenario's steps
    (e.g. the timing tables, a cleanup's note) is recorded as its hook step's attachments: the json-formatter
    drops attachments that come after their step finished."""

    def wrap(function: Callable[[Any], None]) -> Callable[[Any], None]:
        hook = reports.RecordedHook(function, name, when)

        @functools.wraps(function)
        def run(scenario: Any) -> None:
            _record(lambda recorder: recorder.hook_started(scenario, hook))
            error: str | None = None
            attachments: list[reports.Envelope] = []
            embedded = _embedding_counts(scenario)
            try:
                function(scenario)
            except Exception as raised:
                error = f"{raised.__class__.__name__}: {raised}"
                if hook.when == "before":
                    raise
                attachments = _hook_evidence(scenario, evidence)
                _cleanup_failures.append(f"{scenario.sentence}: {error}")
                print(f"kfcheck: '{name}' failed for '{scenario.sentence}': {error}", file=sys.stderr, flush=True)
            finally:
                setup_error = getattr(scenario.context, SETUP_ERROR, None)
                if error is None and setup_error is not None and hook.when == "before":
                    error = f"{setup_error.__class__.__name__}: {setup_error}"
                if error is not None and hook.when == "before":  # the suite's own set-up: nothing was tested
                    error = f"{COULD_NOT_RUN}: {error}"
                attachments = _embedded_since(scenario, embedded) + attachments
                _record(lambda recorder: recorder.hook_finished(scenario, hook, error, attachments))

        _hook_of_wrapper[run] = hook
        return run

    return wrap


def recorded_as(function: Callable[..., Any]) -> reports.RecordedHook | None:
    """The hook step a function made by recorded_hook() is recorded as; None for any other function."""
    return _hook_of_wrapper.get(function)


def _hook_evidence(scenario: Any, evidence: Evidence | None) -> list[reports.Envelope]:
    if evidence is None:
        return []
    try:
        gathered = evidence(scenario)
    except Exception as error:
        gathered = {"evidence": f"could not be gathered: {error}"}
    return [{"body": f"### {title}\n{redact_text(text)}", "contentEncoding": "IDENTITY", "mediaType": "text/plain",
             "fileName": title} for title, text in gathered.items()]  # fmt: skip


def report_for_run(name: str, function: Callable[..., Any], text: str, data: dict[str, Any] | None = None) -> None:
    """What a before.all hook (`function`) found, for the top of the reports: the text (and its data as JSON)
    recorded as a run hook's attachments once the run's recording starts."""
    attachments: list[reports.Envelope] = [
        {"body": f"### {name}\n{text}", "contentEncoding": "IDENTITY", "mediaType": "text/plain", "fileName": name}
    ]
    if data is not None:
        attachments.append({"body": json.dumps(data), "contentEncoding": "IDENTITY", "mediaType": "application/json",
                            "fileName": name})  # fmt: skip
    _run_findings.append((name, function, attachments))


def _embedding_counts(scenario: Any) -> dict[int, int]:
    return {id(step): len(getattr(step, "embeddings", [])) for step in getattr(scenario, "all_steps", [])}


def _embedded_since(scenario: Any, counts: dict[int, int]) -> list[reports.Envelope]:
    """The embeddings added to the scenario's steps since `counts` (_embedding_counts), as attachments."""
    added = [embedding for step in getattr(scenario, "all_steps", [])
             for embedding in list(getattr(step, "embeddings", []))[counts.get(id(step), 0):]]  # fmt: skip
    return reports.attachments_of(added)


def _registered_in_radish_order() -> list[reports.RecordedHook]:
    """The recorded hooks registered with radish, in the order radish calls them (before hooks by ascending
    order, after hooks by descending order), as each test case lists its hook steps."""
    registered = HookRegistry().hooks["each_scenario"]
    ordered: list[reports.RecordedHook] = []
    for when, ascending in (("before", True), ("after", False)):
        for _order, _tags, function in sorted(registered[when], key=lambda entry: entry[0], reverse=not ascending):
            hook = _hook_of_wrapper.get(function)
            if hook is not None and hook not in ordered:
                ordered.append(hook)
    return ordered


def _record(action: Callable[[reports.RunRecorder], None]) -> None:
    """Feeds the recorder; a failure to record stops recording (with a message) but never the run: an
    exception in a radish hook would abort it. `kfcheck run` then completes the messages file."""
    if not _recorder:
        return
    try:
        action(_recorder[0])
    except Exception as error:
        _recorder.clear()
        print(f"kfcheck: recording the run as Cucumber Messages stopped: {error!r}", file=sys.stderr)


# --- the recorder's radish hooks (their orders: kfcheck.bdd.hooks) ---------------------------------------------


def start_recording(features: list[Any], marker: Any) -> None:
    """Names outline rows with their values, then starts recording (when $KFCHECK_MESSAGES names a file) with
    what the suite's before.all hooks found (report_for_run)."""
    name_outline_rows(features)
    messages = os.environ.get(reports.MESSAGES_ENV)
    if messages and not _recorder:
        _recorder.append(reports.RunRecorder(messages))
        hooks = _registered_in_radish_order()
        _record(lambda recorder: recorder.start(features, list(StepRegistry().steps.items()), hooks))
        for missing in _recorder[0].unrecorded if _recorder else []:
            print(f"kfcheck: runs but cannot be in the reports: {missing}", file=sys.stderr)
        for name, function, attachments in _run_findings:
            _record(lambda recorder: recorder.run_hook(name, function, attachments))  # noqa: B023 - called now


def record_scenario_start(scenario: Any) -> None:
    _record(lambda recorder: recorder.scenario_started(scenario))


def record_step_start(step: Any) -> None:
    _record(lambda recorder: recorder.step_started(step))


def record_step_end(step: Any) -> None:
    _record(lambda recorder: recorder.step_finished(step, interrupted_by(), skip_reason_of(step)))


def record_scenario_end(scenario: Any) -> None:
    _record(lambda recorder: recorder.scenario_finished(scenario, interrupted_by()))


def note_failed_run_cleanup(what: str) -> None:
    """A cleanup of the whole run failed (the end-of-run sweep): the run fails, its messages say what was left."""
    print(f"kfcheck: {what}", file=sys.stderr, flush=True)
    _run_cleanup_failures.append(what)
    _cleanup_failures.append(f"the run: {what}")


def finish_recording(features: list[Any], marker: Any) -> None:
    _record(lambda recorder: recorder.finish(interrupted_by(), _run_cleanup_failures))


def fail_the_run_on_a_failed_cleanup(features: list[Any], marker: Any) -> None:
    """radish's exit code does not count failed hooks: a failed cleanup (recorded_hook, or the run's sweep)
    fails the run here."""
    if _cleanup_failures:
        print(f"kfcheck: {len(_cleanup_failures)} cleanup(s) failed; the run fails:\n  "
              + "\n  ".join(_cleanup_failures), file=sys.stderr, flush=True)  # fmt: skip
        raise SystemExit(1)
