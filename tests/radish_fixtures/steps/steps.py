"""Steps and hooks of the demo suite; they use kfcheck.radish_support like the real terrain."""

import os

from radish import before, given, then, when

from kfcheck.radish_support import install_signal_handlers, record_setup_error, scenario_step, skip_scenario

MARKER = os.environ.get("DEMO_MARKER_FILE")


@before.all
def start(features, marker):
    install_signal_handlers()


@before.each_scenario
def set_up(scenario):
    try:
        if "setup-fails" in [tag.name for tag in scenario.all_tags]:
            raise RuntimeError("namespace could not be created (demo)")
    except RuntimeError as error:
        record_setup_error(scenario, error)


@given("a number {number:d}")
@scenario_step
def a_number(step, number):
    if MARKER:
        with open(MARKER, "a") as marker:
            marker.write("step body ran\n")
    step.context.number = number


@when("I add {number:d}")
@scenario_step
def add(step, number):
    step.context.number += number


@then("the result is {number:d}")
@scenario_step
def result(step, number):
    assert step.context.number == number, f"expected {number}, got {step.context.number}"


@then("nothing else runs")
@scenario_step
def nothing(step):
    raise AssertionError("this step must never run")


@given("an API that the cluster does not serve")
@scenario_step
def api_not_served(step):
    skip_scenario(step, "the cluster serves no demo.example/v1 API")
