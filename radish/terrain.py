"""radish hooks: settings and cluster check before the run, a namespace per scenario, cleanup always,
evidence attached to failed steps, reports normalised at the end."""

from __future__ import annotations

import sys
from pathlib import Path

from radish import after, before, world
from radish.stepmodel import Step

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's kfcheck/ for `radish features/`

from kfcheck import diagnostics, namespaces, radish_timings, reports
from kfcheck.config import ConfigError, Settings
from kfcheck.kube import ClusterUnavailable, connect, require_crds
from kfcheck.radish_support import (
    attach_evidence,
    check_tag_expression,
    install_signal_handlers,
    is_dry_run,
    record_setup_error,
)

radish_timings.register()  # where each scenario's time went, and the CPU/memory used, attached to its report


@before.all
def configure(features, marker):
    install_signal_handlers()
    check_tag_expression()
    try:
        world.settings = Settings.from_user_data(world.config.user_data)
    except ConfigError as error:
        print(f"kfcheck: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    world.kube = None
    if is_dry_run():
        return
    try:
        world.kube = connect(world.settings)
        require_crds(world.kube)
    except ClusterUnavailable as error:
        print(f"kfcheck: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        orphans = namespaces.sweep_orphans(world.kube)
    except Exception as error:
        print(f"kfcheck: could not look for namespaces of earlier runs: {error}", file=sys.stderr)
    else:
        if orphans:
            print(f"kfcheck: deleted namespaces of earlier runs that died: {', '.join(orphans)}", file=sys.stderr)


@before.each_scenario
def create_namespace(scenario):
    scenario.context.namespace = None
    scenario.context.cleanups = []  # undo actions steps register (e.g. restore an upgraded release)
    if is_dry_run():
        return
    try:
        scenario.context.namespace = namespaces.create(
            world.kube, world.settings.namespace_prefix, scenario.sentence, keep=world.settings.keep_namespaces
        )
    except Exception as error:
        record_setup_error(scenario, error)


@after.each_step
def attach_evidence_on_failure(step):
    namespace = getattr(step.context, "namespace", None)
    if step.state is not Step.State.FAILED or namespace is None or world.kube is None:
        return
    for name, text in diagnostics.gather(world.kube, namespace).items():
        attach_evidence(step, f"{name} of namespace {namespace}", text)


@after.each_scenario
def delete_namespace(scenario):
    for cleanup in reversed(getattr(scenario.context, "cleanups", [])):
        try:
            cleanup()
        except Exception as error:
            print(f"kfcheck: a cleanup of '{scenario.sentence}' failed: {error}", file=sys.stderr)
    namespace = getattr(scenario.context, "namespace", None)
    if namespace is None or world.settings.keep_namespaces:
        return
    try:
        namespaces.delete(world.kube, namespace)
    except Exception as error:
        print(f"kfcheck: could not delete namespace {namespace}: {error}", file=sys.stderr)


@after.all(order=1)  # after radish's own writers (order 100), so their files exist
def finish(features, marker):
    if world.kube is not None and not world.settings.keep_namespaces:
        try:
            left = namespaces.sweep(world.kube)
            if left:
                print(f"kfcheck: deleted leftover namespaces {', '.join(left)}", file=sys.stderr)
        except Exception as error:
            print(f"kfcheck: could not sweep namespaces: {error}", file=sys.stderr)
    if world.config.cucumber_json:
        reports.normalise_file(world.config.cucumber_json)
