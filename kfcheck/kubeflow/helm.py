"""Helm upgrades of the Kubeflow release and checks of the components' resources afterwards."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from typing import Any

from kfcheck.core.capabilities import Unavailable
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube
from kfcheck.core.scenario import Scenario


class HelmError(RuntimeError):
    pass


def require_release(scenario: Scenario) -> None:
    """capabilities.Unavailable unless a Helm release manages Kubeflow here (kubeflow/manifests installs
    with kustomize: no release, nothing for the Helm feature to upgrade)."""
    settings = scenario.settings
    if not settings.helm:
        raise Unavailable("no helm binary to find a Kubeflow release with (give -u helm=PATH)")
    try:
        revision(settings)
    except HelmError as error:
        if "not found" not in str(error):
            raise
        raise Unavailable(
            f"no Helm release {settings.helm_release} in namespace {settings.kubeflow_namespace}: Kubeflow is not "
            "installed with Helm here (kubeflow/manifests installs with kustomize); "
            "-u helm_release= and -u kubeflow_namespace= name one"
        ) from None


def chart(settings: Settings) -> str:
    if not settings.chart:
        raise HelmError("no chart to upgrade the release with: give -u chart=PATH (the embedded cluster's is known)")
    return settings.chart


def _helm(settings: Settings, *args: str, timeout: int) -> str:
    if not settings.helm:
        raise HelmError("no helm binary: give -u helm=PATH, put helm on PATH, or run `make up` (it records its own)")
    argv = [settings.helm, f"--kubeconfig={settings.kubeconfig}", f"--namespace={settings.kubeflow_namespace}", *args]
    if settings.context:
        argv.append(f"--kube-context={settings.context}")
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        try:
            out, err = child.communicate(timeout=timeout + 60)
        except BaseException:  # interrupted (Ctrl-C, a CI timeout): stop helm so the release can be rolled back
            child.send_signal(signal.SIGTERM)  # helm marks an interrupted upgrade failed, not pending
            child.communicate(timeout=120)
            raise
    if child.returncode != 0:
        raise HelmError(f"helm {' '.join(args[:2])} failed:\n{(out + err)[-3000:]}")
    return out


def upgrade(settings: Settings, sets: list[str], timeout: int | None = None) -> None:
    """helm upgrade <release> <chart> --reuse-values --set ... --wait: the operator's values stay."""
    seconds = timeout or settings.timeout
    arguments = [item for value in sets for item in ("--set", value)]
    _helm(settings, "upgrade", settings.helm_release, chart(settings), "--reuse-values", *arguments, "--wait",
          f"--timeout={seconds}s", timeout=seconds)  # fmt: skip


def upgrade_component_resources(scenario: Scenario) -> None:
    """The release upgraded with the step table's componentResources; afterwards it is rolled back to the
    revision it had now (a registered cleanup), which keeps every value the operator set."""
    scenario.on_cleanup(restorer(scenario.settings))
    upgrade_resources(scenario.settings, parse_table(scenario.table()))


def upgrade_resources(settings: Settings, resources: dict[str, dict[str, str]]) -> None:
    """The release upgraded with componentResources.<kind>.<name>=... (every other value as it was)."""
    upgrade(settings, [f"componentResources.{kind}.{name}={value}" for kind, values in resources.items()
                       for name, value in values.items()])  # fmt: skip


def revision(settings: Settings) -> int:
    """The release's current revision (`helm status`)."""
    status = json.loads(_helm(settings, "status", settings.helm_release, "--output=json", timeout=60))
    return int(status["version"])


def restorer(settings: Settings) -> Callable[[], None]:
    """Records the release's revision now; the returned cleanup rolls the release back to it, which keeps
    every value the operator had set (an upgrade with --reset-values would drop them)."""
    before = revision(settings)

    def restore() -> None:
        if revision(settings) == before:
            return
        try:
            _helm(settings, "rollback", settings.helm_release, str(before), "--wait",
                  f"--timeout={settings.timeout}s", timeout=settings.timeout)  # fmt: skip
        except HelmError as error:
            try:
                now = f"revision {revision(settings)}"
            except HelmError:
                now = "an unknown revision"
            raise HelmError(f"the Helm release {settings.helm_release} in {settings.kubeflow_namespace} is left at "
                            f"{now}: rolling it back to revision {before} failed: {error}") from error  # fmt: skip

    return restore


def component_resources(kube: Kube, settings: Settings) -> dict[str, dict[str, Any]]:
    selector = settings.component_selector
    deployments = kube.apps.list_namespaced_deployment(settings.kubeflow_namespace, label_selector=selector)
    found = {}
    for deployment in deployments.items:
        for container in deployment.spec.template.spec.containers:
            found[f"{deployment.metadata.name}/{container.name}"] = kube.api.sanitize_for_serialization(
                container.resources
            )
    if not found:
        raise AssertionError(
            f"no Kubeflow component Deployments ({selector}) in {settings.kubeflow_namespace}: "
            "name them with -u component_selector=LABEL-SELECTOR (and -u kubeflow_namespace=NAMESPACE)"
        )
    return found


def check_resources(scenario: Scenario) -> None:
    """Every component container has the step table's requests and limits."""
    expected = parse_table(scenario.table())
    wrong = {
        name: resources
        for name, resources in component_resources(scenario.kube, scenario.settings).items()
        if any(
            resources.get(kind, {}).get(key) != value
            for kind, values in expected.items()
            for key, value in values.items()
        )
    }
    assert not wrong, f"component containers without {json.dumps(expected)}: {json.dumps(wrong)}"


def check_rolled_out(scenario: Scenario) -> None:
    deployments = scenario.kube.apps.list_namespaced_deployment(
        scenario.settings.kubeflow_namespace, label_selector=scenario.settings.component_selector
    )
    for deployment in deployments.items:
        status = deployment.status
        replicas = deployment.spec.replicas or 0
        assert status.observed_generation >= deployment.metadata.generation, f"{deployment.metadata.name} not observed"
        updated, available = status.updated_replicas or 0, status.available_replicas or 0
        assert updated == replicas and available == replicas, (
            f"{deployment.metadata.name}: {updated}/{replicas} updated, {available} available"
        )


def parse_table(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """A Gherkin table | kind | cpu | memory | into {"requests": {...}, "limits": {...}}."""
    return {row["kind"]: {key: value for key, value in row.items() if key != "kind"} for row in rows}
