"""One labelled namespace per scenario, deleted afterwards whatever happened."""

from __future__ import annotations

import os
import re
import secrets
import socket

from kubernetes.client.exceptions import ApiException

from kfcheck import manifests
from kfcheck.kube import Kube

MANAGED_BY = "app.kubernetes.io/managed-by=kfcheck"
RUN_ID = secrets.token_hex(4)  # this process's run; leftovers are swept by it
OWNER_HOST = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname())[:63].strip("-.") or "unknown"


def slug(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


def create(kube: Kube, prefix: str, scenario: str, *, keep: bool = False) -> str:
    name = f"{prefix}-{slug(scenario, 40)}-{secrets.token_hex(3)}"
    manifests.apply_fixture(
        kube, "namespace", None, name=name, run_id=RUN_ID, scenario=scenario[:200],
        owner_host=OWNER_HOST, owner_pid=os.getpid(), keep=str(keep).lower(),
    )  # fmt: skip
    return name


def delete(kube: Kube, name: str) -> None:
    try:
        kube.core.delete_namespace(name, propagation_policy="Background")
    except ApiException as error:
        if error.status != 404:
            raise


def sweep(kube: Kube, run_id: str = RUN_ID) -> list[str]:
    """Deletes every namespace this run created that is still there (after an interrupt)."""
    selector = f"{MANAGED_BY},kfcheck/run-id={run_id}"
    names = [
        ns.metadata.name
        for ns in kube.core.list_namespace(label_selector=selector).items
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
