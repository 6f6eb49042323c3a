"""Fault tests share the real cluster's fixtures (tests/cluster/conftest.py)."""

from tests.cluster.conftest import kubeconfig, kubectl, layout  # noqa: F401 - pytest fixtures
