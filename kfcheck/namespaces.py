"""One labelled namespace per scenario, deleted afterwards whatever happened."""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck import manifests, wait
from kfcheck.config import ConfigError
from kfcheck.kube import Kube

MANAGED_BY = "app.kubernetes.io/managed-by=kfcheck"
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


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


OWNER_HOST = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname())[:63].strip("-.") or "unknown"


def slug(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


def namespace_object(prefix: str, scenario: str, *, keep: bool = False, run: str | None = None) -> dict[str, Any]:
    """The Namespace of one scenario, from fixtures/namespace.yaml (the scenario's name as given)."""
    name = f"{prefix}-{slug(scenario, 40)}-{secrets.token_hex(3)}"
    (namespace,) = manifests.render(
        "namespace", name=name, run_id=run or run_id(), scenario=scenario[:200],
        owner_host=OWNER_HOST, owner_pid=str(os.getpid()), keep=str(keep).lower(),
    )  # fmt: skip
    return namespace


def create(kube: Kube, prefix: str, scenario: str, *, keep: bool = False) -> str:
    namespace = namespace_object(prefix, scenario, keep=keep)
    manifests.create(kube, [namespace], None)
    return str(namespace["metadata"]["name"])


CLEANUP_SECONDS = 90  # how long a cleanup rides out an API outage before leaving it to the next run's sweep


def delete(kube: Kube, name: str, timeout: float = CLEANUP_SECONDS) -> None:
    """Deletes the namespace (in the background), through API outages of up to `timeout` seconds."""

    def request() -> None:
        try:
            kube.core.delete_namespace(name, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    wait.retrying(f"deleting namespace {name}", request, timeout)


def sweep(kube: Kube) -> list[str]:
    """Deletes every namespace this run created that is still there (after an interrupt)."""
    selector = f"{MANAGED_BY},kfcheck/run-id={run_id()}"
    listed = wait.retrying(
        "listing this run's namespaces", lambda: kube.core.list_namespace(label_selector=selector), CLEANUP_SECONDS
    )
    names = [
        ns.metadata.name
        for ns in listed.items
        if ns.metadata.deletion_timestamp is None  # already being deleted by its scenario's cleanup
    ]
    for name in names:
        delete(kube, name)
    return names


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(kube: Kube) -> list[str]:
    """Deletes the namespaces of earlier runs on this host whose process is gone (killed with SIGKILL,
    a crashed CI job), unless they were kept on purpose (`-u keep_namespaces=true`). Runs on other hosts
    and runs still alive are left alone."""
    selector = f"{MANAGED_BY},kfcheck/owner-host={OWNER_HOST},kfcheck/keep!=true"
    orphans = []
    for ns in kube.core.list_namespace(label_selector=selector).items:
        owner = (ns.metadata.labels or {}).get("kfcheck/owner-pid", "")
        if ns.metadata.deletion_timestamp is None and owner.isdigit() and not _process_alive(int(owner)):
            orphans.append(ns.metadata.name)
    for name in orphans:
        delete(kube, name)
    return orphans
