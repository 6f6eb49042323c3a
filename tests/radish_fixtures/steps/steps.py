"""Steps and hooks of the demo suite; they use kfcheck.bdd like the real terrain: its hooks are registered by
kfcheck.bdd.hooks.register, with the recording and the timing tables, at their orders in its table."""

import os
from types import SimpleNamespace

from radish import after, given, then, when, world

from kfcheck.bdd import hooks, timing_tables
from kfcheck.bdd.recording import recorded_hook, report_for_run
from kfcheck.bdd.support import (
    attach_evidence,
    install_signal_handlers,
    mark_skipped,
    record_setup_error,
    scenario_step,
)
from kfcheck.core.capabilities import Unavailable
from kfcheck.measure import usage

MARKER = os.environ.get("DEMO_MARKER_FILE")


def start(features, marker):
    install_signal_handlers()
    world.settings = SimpleNamespace(strict=(world.config.user_data or {}).get("strict") == "true")
    report_for_run("what served each Kubeflow API", start,
                   "Demo (demo.example/v1): demo-controller, Deployment demo/demo-controller, version v0.1 — kfcheck "
                   "stand-in following Kubeflow v1.10.0", {"kind": "kfcheck/provenance", "apis": []})  # fmt: skip


@recorded_hook("before", "set up the scenario")
def set_up(scenario):
    # what steps get (kfcheck.core.scenario.Scenario in the suite)
    scenario.context.kfcheck = SimpleNamespace(step=None, shared_namespace=False)
    tags = [tag.name for tag in scenario.all_tags]
    if "preflight-skip" in tags:  # as the suite's preflight marks a scenario the user's rights do not allow
        mark_skipped(scenario, "the run may not create pods in namespace demo")
    try:
        if "setup-fails" in tags:
            raise RuntimeError("namespace could not be created (demo)")
    except RuntimeError as error:
        record_setup_error(scenario, error)


def objects_left(scenario):
    return {"objects (YAML)": "kind: Pod\nmetadata: {name: demo-0, namespace: demo}\n"}


@recorded_hook("after", "clean up the scenario", evidence=objects_left)
def clean_up(scenario):
    if "cleanup-fails" in [tag.name for tag in scenario.all_tags] and not os.environ.get("DEMO_CLEANUP_WORKS"):
        raise RuntimeError("left behind: Pod demo/demo-0 (not deleted: admission webhook denied the request)")


@given("a number {number:d}")
@scenario_step
def a_number(demo, number):
    if MARKER:
        with open(MARKER, "a") as marker:
            marker.write("step body ran\n")
    demo.number = number


@when("I add {number:d}")
@scenario_step
def add(demo, number):
    demo.number += number


@then("the result is {number:d}")
@scenario_step
def result(demo, number):
    assert demo.number == number, f"expected {number}, got {demo.number}"


@then("the numbers add up to")
@scenario_step
def numbers_add_up(demo):
    total = sum(int(row["number"]) for row in demo.step.table)
    assert demo.number == total, f"expected {total} (the table's sum), got {demo.number}"


def attach_evidence_on_failure(step):
    """Like the suite's evidence: a pod log that contains HTML and a secret, attached to a failed step."""
    if step.state == "failed":
        attach_evidence(step, "log of pod demo-0", "<script>alert('from the pod log')</script>\ntoken: s3cr3t-value")


@then("nothing else runs")
@scenario_step
def nothing(demo):
    raise AssertionError("this step must never run")


@given("an API that the cluster does not serve")
@scenario_step
def api_not_served(demo):
    raise Unavailable("the cluster serves no demo.example/v1 API")


hooks.register(
    hooks.Terrain(
        configure=start,
        start_scenario=set_up,
        attach_evidence=attach_evidence_on_failure,
        finish_scenario=clean_up,
    )
)


# The demo's own hook, beside the table: between timing_tables' read_namespace (101) and its tables (99); after
# clean_up (also 100, registered before it).
@after.each_scenario(order=100)
def read_the_demo_namespace(scenario):
    """What timing_tables.read_namespace reads from the cluster, as a cluster would give it (the demo has none):
    the scenario's namespace, created when it started, without pods; the kubelet sampled nothing."""
    created = scenario.context.kfcheck_started.isoformat()
    namespace = {"metadata": {"name": "demo", "creationTimestamp": created}}
    nothing = ("service_accounts", "submitted", "jobs", "pods", "events")
    scenario.context.kfcheck_record = {"namespace": [namespace], **{key: [] for key in nothing}}
    scenario.context.kfcheck_usage = usage.payload(scenario.sentence, timing_tables.SAMPLE_SECONDS, {}, {}, None)
