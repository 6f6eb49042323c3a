"""Steps and hooks of the demo suite; they use kfcheck.radish_support like the real terrain."""

import os
from types import SimpleNamespace

from radish import before, given, then, when

from kfcheck.radish_support import install_signal_handlers, record_setup_error, scenario_step

MARKER = os.environ.get("DEMO_MARKER_FILE")


@before.all
def start(features, marker):
    install_signal_handlers()


@before.each_scenario
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


@then("nothing else runs")
@scenario_step
def nothing(demo):
    raise AssertionError("this step must never run")
