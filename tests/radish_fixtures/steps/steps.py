"""Steps and hooks of the demo suite; they use kfcheck.radish_support like the real terrain."""

import os
from types import SimpleNamespace

from radish import after, before, given, then, when

from kfcheck.capabilities import Unavailable
from kfcheck.radish_support import (
    attach_evidence,
    install_report_hooks,
    install_signal_handlers,
    record_setup_error,
    recorded_hook,
    scenario_step,
)

install_report_hooks()

MARKER = os.environ.get("DEMO_MARKER_FILE")


@before.all
def start(features, marker):
    install_signal_handlers()


@before.each_scenario
@recorded_hook("before", "set up the scenario")
def set_up(scenario):
    scenario.context.kfcheck = SimpleNamespace(step=None)  # what steps get (kfcheck.scenario.Scenario in the suite)
    try:
        if "setup-fails" in [tag.name for tag in scenario.all_tags]:
            raise RuntimeError("namespace could not be created (demo)")
    except RuntimeError as error:
        record_setup_error(scenario, error)


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


@after.each_step
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
