"""One labelled namespace per scenario, deleted afterwards whatever happened."""

from __future__ import annotations

import re
import secrets

from kubernetes.client.exceptions import ApiException

from kfcheck import manifests
from kfcheck.kube import Kube

MANAGED_BY = "app.kubernetes.io/managed-by=kfcheck"
RUN_ID = secrets.token_hex(4)  # this process's run; leftovers are swept by it


def slug(text: str, length: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:length].strip("-") or "scenario"


def create(kube: Kube, prefix: str, scenario: str) -> str:
    name = f"{prefix}-{slug(scenario, 40)}-{secrets.token_hex(3)}"
    manifests.apply_fixture(kube, "namespace", None, name=name, run_id=RUN_ID, scenario=scenario[:200])
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
