"""The suite's radish hooks: settings and cluster check before the run, a namespace per scenario, cleanup always,
evidence attached to failed steps, radish's own cucumber JSON normalised at the end. kfcheck.bdd.hooks registers
them (register(), at the end of this file) in its table of every hook and its order, beside the recording of the
run as Cucumber Messages and the timing tables."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from radish import world
from radish.stepmodel import Step

# `radish features/` in a checkout imports the checkout's kfcheck/; installed from a wheel (kfcheck/bundled/radish/)
# these files import the installed kfcheck and add nothing to sys.path.
if (Path(__file__).resolve().parents[1] / "kfcheck" / "__init__.py").is_file():
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kfcheck import reports
from kfcheck.bdd import hooks, recording
from kfcheck.bdd.recording import recorded_hook, report_for_run
from kfcheck.bdd.support import (
    attach_evidence,
    check_tag_expression,
    feature_of,
    install_signal_handlers,
    is_dry_run,
    mark_skipped,
    record_setup_error,
    refuse_start,
)
from kfcheck.core import diagnostics, namespaces, permissions, provenance, wait
from kfcheck.core.config import ConfigError, Settings
from kfcheck.core.kube import ClusterUnavailable, connect
from kfcheck.kubeflow.served import SERVED_APIS  # each Kubeflow API the suite checks and what serves it


def configure(features: list[Any], marker: Any) -> None:
    install_signal_handlers()
    check_tag_expression()
    try:
        world.settings = Settings.from_user_data(world.config.user_data)
        namespaces.run_id()
    except ConfigError as error:
        refuse_start(
            "a -u setting is wrong",
            str(error),
            "correct or remove that -u value (`python -m kfcheck config` lists every key, its default and meaning)",
        )
    world.kube = None
    world.permissions = None
    world.skipped_features = {}
    if is_dry_run():
        return
    try:
        world.kube = connect(world.settings)
        world.settings.check_images()
        checker = permissions.Checker(world.kube, world.settings.namespace or None, world.settings.kubeflow_namespace)
        world.permissions = checker
        world.skipped_features = permissions.preflight(
            checker, {feature.sentence: {tag.name for tag in feature.tags} for feature in features}
        )
    except ClusterUnavailable as error:
        refuse_start(
            "the cluster cannot be used",
            str(error),
            "bring the embedded cluster up with `make up`, or point KUBECONFIG (or -u kubeconfig= / -u context=) at "
            "a running Kubeflow cluster",
        )
    except ConfigError as error:
        refuse_start("the suite's images are not known for this cluster", str(error), "give -u registry= (see README)")
    except permissions.Refused as error:
        refuse_start(
            "the run lacks the permissions it needs",
            str(error),
            "grant the roles in deploy/rbac/kfcheck-rbac.yaml, or run inside your namespace with -u namespace=NAME",
        )
    _read_provenance()
    try:
        orphans = namespaces.sweep_orphans(world.kube, world.settings)
    except Exception as error:
        print(f"kfcheck: could not look for what earlier runs left: {error}", file=sys.stderr)
    else:
        if orphans:
            print(f"kfcheck: deleted what earlier runs that died left: {', '.join(orphans)}", file=sys.stderr)


def _read_provenance() -> None:
    """What served each Kubeflow API, on the console and at the top of the reports."""
    try:
        served = provenance.read(world.kube, world.settings, SERVED_APIS)
    except Exception as error:
        text, data = f"could not be read: {error}", None
    else:
        text, data = provenance.render(served), provenance.payload(served)
    print(f"kfcheck: {provenance.TITLE}:\n  " + text.replace("\n", "\n  "), file=sys.stderr, flush=True)
    report_for_run(provenance.TITLE, configure, text, data)


@recorded_hook("before", "start the scenario: its namespace")
def start_scenario(scenario: Any) -> None:
    scenario.context.kfcheck = None  # the kfcheck Scenario every step works with
    if is_dry_run():
        return
    feature = feature_of(scenario).sentence
    if feature in world.skipped_features:
        mark_skipped(scenario, world.skipped_features[feature])
        return
    tags = {tag.name for tag in scenario.all_tags}
    lacking = permissions.scenario_lacks(world.permissions, tags) if world.permissions else None
    if lacking:
        mark_skipped(scenario, lacking)
        return
    try:
        scenario.context.kfcheck = namespaces.start(world.kube, world.settings, scenario.sentence)
    except Exception as error:
        record_setup_error(scenario, error)


def attach_evidence_on_failure(step: Any) -> None:
    for outage in wait.take_outages():  # the step rode out an API server outage: say so in the report
        step.embed(outage)
    current = getattr(step.context, "kfcheck", None)
    if step.state is not Step.State.FAILED or current is None:
        return
    for name, text in diagnostics.gather(current).items():
        attach_evidence(step, f"{name} of namespace {current.namespace}", text)


def _evidence(scenario: Any) -> dict[str, str]:
    current = getattr(scenario.context, "kfcheck", None)
    return diagnostics.gather(current) if current is not None else {}


@recorded_hook("after", "clean up: undo the scenario's changes, remove what it created", evidence=_evidence)
def finish_scenario(scenario: Any) -> None:
    if getattr(scenario.context, "kfcheck", None) is not None:
        namespaces.finish(scenario.context.kfcheck)  # raises what it left behind: the hook fails with it


def finish(features: list[Any], marker: Any) -> None:
    if world.kube is not None and not world.settings.keep_namespaces:
        try:
            left = namespaces.sweep(world.kube, world.settings)
            if left:
                print(f"kfcheck: deleted leftovers of this run: {', '.join(left)}", file=sys.stderr)
        except Exception as error:
            recording.note_failed_run_cleanup(f"could not sweep this run's leftovers: {error}")
    if world.config.cucumber_json:
        reports.normalise_file(world.config.cucumber_json)


hooks.register(
    hooks.Terrain(
        configure=configure,
        start_scenario=start_scenario,
        attach_evidence=attach_evidence_on_failure,
        finish_scenario=finish_scenario,
        finish=finish,
    )
)
