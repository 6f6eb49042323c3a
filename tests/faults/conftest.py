"""Fault tests share the real cluster's fixtures (tests/cluster/conftest.py)."""

from tests.cluster.conftest import kubeconfig, kubectl, layout, settings  # noqa: F401 - pytest fixtures
