"""Helm upgrades of the Kubeflow release and checks of the components' resources afterwards."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from kfcheck.config import Settings
from kfcheck.kube import Kube

COMPONENT_LABEL = "app.kubernetes.io/part-of=kubeflow"


class HelmError(RuntimeError):
    pass


def helm_binary() -> str:
    if os.environ.get("KFCHECK_HELM"):
        return os.environ["KFCHECK_HELM"]
    from kfcheck.embedded.layout import Layout  # the embedded cluster's Helm, built from its module

    built = Layout.from_env().binary("helm", "helm")
    if built.exists():
        return str(built)
    found = shutil.which("helm")
    if not found:
        raise HelmError("no helm binary: set KFCHECK_HELM, put helm on PATH, or run `make build`")
    return found


def chart(settings: Settings) -> str:
    if settings.chart:
        return settings.chart
    from kfcheck.embedded.kubeflow import staged_chart
    from kfcheck.embedded.layout import Layout

    staged = staged_chart(Layout.from_env())
    if not staged.exists():
        raise HelmError(f"no chart at {staged}: run `make up`, or give -u chart=PATH")
    return str(staged)


def _helm(settings: Settings, *args: str, timeout: int) -> str:
    argv = [helm_binary(), f"--kubeconfig={settings.kubeconfig}", f"--namespace={settings.kubeflow_namespace}", *args]
    if settings.context:
        argv.append(f"--kube-context={settings.context}")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 60, check=False)
    if result.returncode != 0:
        raise HelmError(f"helm {' '.join(args[:2])} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def upgrade_resources(settings: Settings, resources: dict[str, dict[str, str]]) -> None:
    """helm upgrade <release> <chart> --reuse-values --set componentResources.<kind>.<name>=... --wait."""
    sets = [
        f"componentResources.{kind}.{name}={value}"
        for kind, values in resources.items()
        for name, value in values.items()
    ]
    arguments = [item for value in sets for item in ("--set", value)]
    _helm(settings, "upgrade", settings.helm_release, chart(settings), "--reuse-values", *arguments, "--wait",
          f"--timeout={settings.timeout}s", timeout=settings.timeout)  # fmt: skip


def restore_defaults(settings: Settings) -> None:
    _helm(settings, "upgrade", settings.helm_release, chart(settings), "--reset-values", "--wait",
          f"--timeout={settings.timeout}s", timeout=settings.timeout)  # fmt: skip


def component_resources(kube: Kube, settings: Settings) -> dict[str, dict[str, Any]]:
    deployments = kube.apps.list_namespaced_deployment(settings.kubeflow_namespace, label_selector=COMPONENT_LABEL)
    found = {}
    for deployment in deployments.items:
        for container in deployment.spec.template.spec.containers:
            found[f"{deployment.metadata.name}/{container.name}"] = kube.api.sanitize_for_serialization(
                container.resources
            )
    if not found:
        raise AssertionError(f"no Kubeflow component Deployments ({COMPONENT_LABEL}) in {settings.kubeflow_namespace}")
    return found


def check_resources(kube: Kube, settings: Settings, expected: dict[str, dict[str, str]]) -> None:
    wrong = {
        name: resources
        for name, resources in component_resources(kube, settings).items()
        if any(
            resources.get(kind, {}).get(key) != value
            for kind, values in expected.items()
            for key, value in values.items()
        )
    }
    assert not wrong, f"component containers without {json.dumps(expected)}: {json.dumps(wrong)}"


def check_rolled_out(kube: Kube, settings: Settings) -> None:
    deployments = kube.apps.list_namespaced_deployment(settings.kubeflow_namespace, label_selector=COMPONENT_LABEL)
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
