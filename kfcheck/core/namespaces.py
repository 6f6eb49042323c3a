"""Where a scenario's objects live, and that they are gone afterwards whatever happened.

- A namespace of its own (the default): labelled with the run, created before the scenario and deleted
  after it.
- A namespace the user names (`-u namespace=NAME`, e.g. a Kubeflow Profile namespace where the user has
  kubeflow-edit rights and may not create namespaces): nothing is created or deleted outside it; each
  scenario's objects get unique names and the run's labels, and are deleted after the scenario.
Either way, what an interrupted run left is swept by this run at its end, and what a killed run left is
swept by the next run on the same host.
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kfcheck.core import manifests, wait
from kfcheck.core.config import ConfigError, Settings
from kfcheck.core.kube import Kube
from kfcheck.core.scenario import MANAGED_BY, Scenario

MANAGED = f"{MANAGED_BY}=kfcheck"
CLEANUP_SECONDS = 90  # how long a cleanup rides out an API outage before leaving it to the next run's sweep
# What scenarios create in a shared namespace (kinds a cluster does not serve are passed over).
SWEPT_KINDS = (
    ("kubeflow.org/v1", "PyTorchJob"), ("kubeflow.org/v1", "TFJob"), ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
    ("kubeflow.org/v1", "Notebook"), ("kubeflow.org/v1alpha1", "PodDefault"), ("v1", "Pod"),
    ("v1", "PersistentVolumeClaim"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
)  # fmt: skip
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
OWNER_HOST = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname())[:63].strip("-.") or "unknown"


@functools.cache
def run_id() -> str:
    """This process's run id (a label on everything it creates; leftovers are swept by it): random, or
    KFCHECK_RUN_ID to name a run (e.g. after a CI job id). Two live runs must not share one."""
    chosen = os.environ.get("KFCHECK_RUN_ID", "")
    if not chosen:
        return secrets.token_hex(4)
    if not _LABEL_VALUE.match(chosen):
        raise ConfigError(
            f"KFCHECK_RUN_ID={chosen!r} is not a Kubernetes label value: use at most 63 letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit"
        )
    return chosen


def owner_labels() -> dict[str, str]:
    return {MANAGED_BY: "kfcheck", "kfcheck/run-id": run_id(), "kfcheck/owner-host": OWNER_HOST,
            "kfcheck/owner-pid": str(os.getpid())}  # fmt: skip


def slug(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


def namespace_object(prefix: str, scenario: str, *, keep: bool = False, run: str | None = None) -> dict[str, Any]:
    """The Namespace of one scenario, from kfcheck/kubeflow/fixtures/namespace.yaml (the scenario's name as given)."""
    name = f"{prefix}-{slug(scenario, 40)}-{secrets.token_hex(3)}"
    (namespace,) = manifests.render(
        "namespace", name=name, run_id=run or run_id(), scenario=scenario[:200],
        owner_host=OWNER_HOST, owner_pid=str(os.getpid()), keep=str(keep).lower(),
    )  # fmt: skip
    return namespace


def start(kube: Kube, settings: Settings, title: str) -> Scenario:
    """The scenario, with its namespace ready: its own, created now, or the one the user named."""
    scenario = Scenario(kube, settings, title, labels=owner_labels())
    if settings.namespace:
        scenario.namespace, scenario.shared_namespace = settings.namespace, True
        return scenario
    namespace = namespace_object(settings.namespace_prefix, title, keep=settings.keep_namespaces)
    manifests.create(kube, [namespace], None)
    scenario.namespace = str(namespace["metadata"]["name"])
    return scenario


class CleanupFailed(RuntimeError):
    """What a scenario's cleanup left behind, each with its error: the scenario fails with it."""

    def __init__(self, left: list[str]) -> None:
        self.left = left
        super().__init__("left behind: " + "; ".join(left))


def finish(scenario: Scenario) -> None:
    """Runs the scenario's cleanups, then removes what it created; everything is tried, and what could not be
    undone or removed is raised as CleanupFailed (the next run on this host sweeps leftover objects)."""
    left = []
    for undo in reversed(scenario.cleanups):
        try:
            undo()
        except Exception as error:
            left.append(f"a cleanup of '{scenario.title}' failed: {error}")
    if not scenario.settings.keep_namespaces and scenario.namespace:
        left += _remove_created(scenario)
    if left:
        raise CleanupFailed(left)


def _remove_created(scenario: Scenario) -> list[str]:
    """Deletes the scenario's namespace, or in a shared namespace each object it created; what could not be
    deleted, with the error."""
    if not scenario.shared_namespace:
        targets = [("v1", "Namespace", scenario.namespace, "")]
    else:
        targets = [(obj["apiVersion"], obj["kind"], obj["metadata"]["name"], scenario.namespace)
                   for obj in reversed(scenario.created)]  # fmt: skip
    left = []
    for api_version, kind, name, namespace in targets:
        try:
            if kind == "Namespace" and not namespace:
                delete(scenario.kube, name)
            else:
                delete_object(scenario.kube, api_version, kind, name, namespace)
        except Exception as error:
            why = f"{error.status} {wait.status_message(error)}" if isinstance(error, ApiException) else str(error)
            left.append(f"{kind} {namespace + '/' if namespace else ''}{name} (not deleted: {why})")
    return left


def delete(kube: Kube, name: str, timeout: float = CLEANUP_SECONDS) -> None:
    """Deletes the namespace (in the background), through API outages of up to `timeout` seconds."""

    def request() -> None:
        try:
            kube.core.delete_namespace(name, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    wait.retrying(f"deleting namespace {name}", request, timeout, kube)


def delete_object(kube: Kube, api_version: str, kind: str, name: str, namespace: str) -> None:
    """Deletes one object and what it owns (in the background), through API outages."""
    resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)

    def request() -> None:
        try:
            resource.delete(name=name, namespace=namespace, body={"propagationPolicy": "Background"})
        except ApiException as error:
            if error.status != 404:
                raise

    wait.retrying(f"deleting {kind} {namespace}/{name}", request, CLEANUP_SECONDS, kube)


def sweep(kube: Kube, settings: Settings) -> list[str]:
    """Deletes what this run created that is still there (after an interrupt)."""
    return _sweep(kube, settings, f"{MANAGED},kfcheck/run-id={run_id()}", lambda _labels: True)


def sweep_orphans(kube: Kube, settings: Settings) -> list[str]:
    """Deletes what earlier runs on this host left when their process died (killed with SIGKILL, a crashed CI
    job), unless kept on purpose (`-u keep_namespaces=true`). Runs on other hosts and live runs are left alone."""

    def dead_owner(labels: dict[str, str]) -> bool:
        owner = labels.get("kfcheck/owner-pid", "")
        return owner.isdigit() and not _process_alive(int(owner))

    return _sweep(kube, settings, f"{MANAGED},kfcheck/owner-host={OWNER_HOST},kfcheck/keep!=true", dead_owner)


def _sweep(kube: Kube, settings: Settings, selector: str, chosen: Any) -> list[str]:
    if not settings.namespace:  # namespaces of their own: a namespace goes with everything in it
        listing = functools.partial(kube.core.list_namespace, label_selector=selector)
        listed = wait.retrying("listing the suite's namespaces", listing, CLEANUP_SECONDS, kube)
        names = [
            ns.metadata.name
            for ns in listed.items
            if ns.metadata.deletion_timestamp is None and chosen(ns.metadata.labels or {})
        ]
        for name in names:
            delete(kube, name)
        return names
    swept = []
    for api_version, kind in SWEPT_KINDS:
        try:
            resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            continue
        for item in resource.get(namespace=settings.namespace, label_selector=selector).items:
            metadata = item.metadata
            if metadata.deletionTimestamp is None and chosen(dict(metadata.labels or {})):
                delete_object(kube, api_version, kind, metadata.name, settings.namespace)
                swept.append(f"{kind} {settings.namespace}/{metadata.name}")
    return swept


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
