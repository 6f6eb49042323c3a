"""pytest plumbing for the whole checkout: tests that need the real cluster (marked `cluster`, in
tests/cluster and tests/faults) are skipped, naming the fix, when no cluster answers, so a bare `pytest`
runs the unit tests. Fault tests (marked `faults`: they stop the API server) run only under
`make fault-tests` (KFCHECK_FAULT_TESTS=1). Tests marked `disruptive` (they kill the cluster's processes)
run after all others, whatever their file's name. `make` sets KFCHECK_REQUIRE_CLUSTER=1 for the cluster's tests:
there a missing cluster is an error, never a silent skip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kfcheck.core.config import Settings
from kfcheck.core.kube import ClusterUnavailable, connect


def _cluster_missing() -> str | None:
    settings = Settings.from_user_data({})
    if not Path(settings.kubeconfig).exists() and not os.environ.get("KUBECONFIG"):
        return f"no cluster: {settings.kubeconfig} does not exist; run `make up` (or set KUBECONFIG)"
    try:
        connect(settings, request_timeout=3)
    except ClusterUnavailable as error:
        return f"no cluster: {error}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)  # stable: they go last
    if os.environ.get("KFCHECK_FAULT_TESTS") != "1":  # they stop the API server: never by accident
        for item in items:
            if item.get_closest_marker("faults"):
                item.add_marker(pytest.mark.skip(reason="disruptive fault test: run `make fault-tests`"))
    cluster_items = [item for item in items if item.get_closest_marker("cluster")]
    if not cluster_items:
        return
    reason = _cluster_missing()
    if reason and os.environ.get("KFCHECK_REQUIRE_CLUSTER") == "1":
        raise pytest.UsageError(f"{reason} (KFCHECK_REQUIRE_CLUSTER=1: the cluster's tests must run)")
    if reason:
        for item in cluster_items:
            item.add_marker(pytest.mark.skip(reason=reason))
