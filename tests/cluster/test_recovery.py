"""`make up` recovers from `kill -9` of every host process, and names the cause of a port clash.

The kill test is disruptive by design: it is marked so, runs after every other test (conftest.py) and
leaves the cluster up again, with every admission webhook serving, or brought up again if it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kfcheck_cluster import cluster, images
from kfcheck_cluster.layout import REPO_ROOT, Layout
from kfcheck_cluster.processes import ClusterError, running_pid

from .conftest import Kubectl

pytestmark = pytest.mark.cluster


def _up() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kfcheck_cluster", "up", "--no-build"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_port_clash_is_reported_with_its_cause(monkeypatch: pytest.MonkeyPatch, layout: Layout) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        monkeypatch.setitem(cluster.PORTS, "kube-scheduler", [("127.0.0.1", port)])
        with pytest.raises(ClusterError, match=rf"port 127.0.0.1:{port} is in use by another program"):
            cluster.check_port_free("kube-scheduler", layout)


@pytest.fixture
def cluster_brought_back() -> Iterator[None]:
    """Whatever the test's outcome, the cluster runs again afterwards for the tests and runs that follow."""
    yield
    result = _up()
    assert result.returncode == 0, f"the cluster could not be brought back: {result.stdout}{result.stderr}"


@pytest.mark.disruptive
@pytest.mark.usefixtures("cluster_brought_back")
def test_up_recovers_after_kill_9_of_everything(layout: Layout, kubectl: Kubectl) -> None:
    tracked = {**cluster.processes(layout), "registry": images.registry_process(layout)}
    pids = {name: running_pid(process, layout) for name, process in tracked.items()}
    assert all(pids.values()), f"not everything runs before the test: {pids}"
    for pid in pids.values():
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    for pid in cluster._shim_processes(layout):  # the pods' shims die with a crashed machine too
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(running_pid(process, layout) for process in tracked.values()):  # SIGKILL lands asynchronously
        assert time.monotonic() < deadline, "processes survived SIGKILL for 10 s"
        time.sleep(0.1)
    assert Path(layout.state).exists()  # state is left as a crash leaves it

    result = _up()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"export KUBECONFIG={layout.kubeconfig}"
    assert all(running_pid(process, layout) for process in tracked.values())

    # up returns once Kubeflow's admission webhooks serve again: the API server admits a TFJob at once
    assert "created (server dry run)" in kubectl.apply("tfjob.yaml", "--dry-run=server", name="after-crash")
    kubectl.apply("client.yaml", name="after-crash", script="echo alive after kill -9")
    assert "alive after kill -9" in kubectl.wait_completed("after-crash")
