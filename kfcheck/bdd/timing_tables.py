"""The radish hooks that attach two tables to every scenario's report, at its end (after its cleanup):

- where its time went (kfcheck.measure.phases), read from its namespace before the namespace is deleted;
- the CPU and memory the Kubeflow components and the scenario's pods used meanwhile (kfcheck.measure.usage),
  sampled from the kubelet summary API for the whole run.

Each table is attached twice: as text for people and as JSON for bench/scenario_phases.py and the gate.
They are embedded into the scenario's last step that ran (radish's own cucumber JSON) and recorded as the
attachments of the after hook "where the scenario's time went" (recording.recorded_hook), a hook step
of each test case: the json-formatter drops attachments that come after their step finished.
kfcheck.bdd.hooks registers these hooks, each with its order among the suite's. A failure here never fails a
scenario: the table then says why it is missing.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

from radish import world
from radish.stepmodel import Step

from kfcheck.bdd.recording import recorded_hook
from kfcheck.bdd.support import attach_evidence, is_dry_run
from kfcheck.measure import phases, usage

PHASES_KIND = "kfcheck/scenario-phases"
SAMPLE_SECONDS = 5.0
RAN = (Step.State.PASSED, Step.State.FAILED)
TIMING_HOOK = "where the scenario's time went"  # the hook step's name in the reports


def start_sampling(features: Any, marker: Any) -> None:
    world.kfcheck_sampler = None
    if is_dry_run() or getattr(world, "kube", None) is None:
        return
    sampler = usage.UsageSampler(world.kube, SAMPLE_SECONDS)
    try:
        sampler.start()
    except Exception as error:
        sampler.error = f"could not start sampling: {error}"
    world.kfcheck_sampler = sampler


def stop_sampling(features: Any, marker: Any) -> None:
    sampler = getattr(world, "kfcheck_sampler", None)
    if sampler is not None:
        sampler.stop()


def note_start(scenario: Any) -> None:
    scenario.context.kfcheck_started = datetime.now(UTC)
    scenario.context.kfcheck_started_epoch = time.time()


def read_namespace(scenario: Any) -> None:
    context = scenario.context
    context.kfcheck_record = None
    context.kfcheck_usage = None
    current = getattr(context, "kfcheck", None)  # the kfcheck Scenario (kfcheck/core/scenario.py)
    if current is None or current.shared_namespace or getattr(world, "kube", None) is None:
        return  # a shared namespace holds others' objects too: its timestamps are not this scenario's
    namespace = current.namespace
    try:
        context.kfcheck_record = phases.read_namespace(world.kube, namespace)
    except Exception as error:
        context.kfcheck_record = f"could not read namespace {namespace}: {error}"
    sampler = getattr(world, "kfcheck_sampler", None)
    if sampler is None:
        return
    try:
        sampler.sample_once()  # the scenario's pods as they ended
        resources = usage.deployment_resources(world.kube, world.settings.kubeflow_namespace)
        samples = sampler.window(getattr(context, "kfcheck_started_epoch", 0.0), time.time())
        components, pods = usage.scenario_usage(samples, namespace, world.settings.kubeflow_namespace, resources)
        context.kfcheck_usage = usage.payload(scenario.sentence, sampler.interval, components, pods, sampler.error)
    except Exception as error:
        context.kfcheck_usage = usage.payload(scenario.sentence, sampler.interval, {}, {}, str(error))


def _last_step_that_ran(scenario: Any) -> Any:
    steps = list(scenario.all_steps)
    ran = [step for step in steps if step.state in RAN]
    return (ran or steps or [None])[-1]


def _embed_json(step: Any, data: dict[str, Any]) -> None:
    step.embed(base64.b64encode(json.dumps(data).encode()).decode(), mime_type="application/json",
               encode_data_to_base64=False)  # fmt: skip


@recorded_hook("after", TIMING_HOOK)
def attach_tables(scenario: Any) -> None:
    step = _last_step_that_ran(scenario)
    if step is None:
        return
    try:
        _attach_tables(scenario, step)
    except Exception as error:  # a hook that raises aborts the whole radish run
        print(f"kfcheck: could not attach the timing of '{scenario.sentence}': {error}", file=sys.stderr)


def _attach_tables(scenario: Any, step: Any) -> None:
    context = scenario.context
    record = getattr(context, "kfcheck_record", None)
    if record is None:
        return
    if isinstance(record, str):
        attach_evidence(step, "where the scenario's time went", record)
    else:
        started = getattr(context, "kfcheck_started", None) or scenario.starttime
        steps = [(s.sentence, s.starttime, s.endtime) for s in scenario.all_steps if s.starttime is not None]
        result = phases.compute(
            scenario.sentence,
            record["namespace"][0],
            record["service_accounts"],
            record["submitted"],
            record["jobs"],
            record["pods"],
            record["events"],
            steps,
            start=started,
            end=datetime.now(UTC),
        )
        attach_evidence(step, "where the scenario's time went", phases.render(result))
        _embed_json(step, {"kind": PHASES_KIND, **result.to_dict()})
    data = getattr(context, "kfcheck_usage", None)
    if data is not None:
        attach_evidence(step, "CPU and memory used", usage.render(data))
        _embed_json(step, data)
