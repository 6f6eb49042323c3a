"""Bad input ends fast with the fix named: no kubeconfig, a cluster that does not answer."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from kfcheck.core.config import Settings
from kfcheck.core.kube import ClusterUnavailable, connect

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: abc}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
"""


def test_missing_kubeconfig_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ClusterUnavailable, match=r"no kubeconfig at .*make up"):
        connect(Settings.from_user_data({"kubeconfig": str(tmp_path / "absent")}))


def test_unreachable_cluster_is_reported_in_seconds(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG.format(port=port))
    started = time.monotonic()
    with pytest.raises(ClusterUnavailable, match=rf"127.0.0.1:{port} .* does not answer.*make up"):
        connect(Settings.from_user_data({"kubeconfig": str(config)}), request_timeout=2)
    assert time.monotonic() - started < 15


def test_unknown_context_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(KUBECONFIG.format(port=1))
    with pytest.raises(ClusterUnavailable, match="context"):
        connect(Settings.from_user_data({"kubeconfig": str(config), "context": "nope"}))
