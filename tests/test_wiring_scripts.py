"""The wiring fixtures' container scripts, run here with bash and busybox as the pods run them: each worker
reaches the master (PyTorchJob) or the parameter server (TFJob) at the address the operator's environment
names, and the receiving side prints every worker it heard from."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from typing import Any

import pytest

from kfcheck.core import manifests

pytestmark = pytest.mark.skipif(
    subprocess.run(["busybox", "nc", "--help"], capture_output=True, check=False).returncode not in (0, 1),
    reason="busybox with nc is needed (make setup installs busybox-static)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def script(job: dict[str, Any], specs: str, replica: str) -> str:
    container = job["spec"][specs][replica]["template"]["spec"]["containers"][0]
    assert container["command"] == ["bash", "-c"]
    return str(container["args"][0])


def run_side_by_side(receiver: tuple[str, dict[str, str]], senders: list[tuple[str, dict[str, str]]]) -> str:
    """Starts the receiving replica, then the senders; returns the receiver's output once all have exited."""
    started = [subprocess.Popen(["bash", "-c", code], env={**os.environ, **env}, stdout=subprocess.PIPE, text=True,
                                start_new_session=True) for code, env in [receiver, *senders]]  # fmt: skip
    try:
        outputs = [process.communicate(timeout=30)[0] for process in started]
    finally:
        for process in started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the script and what it started (nc)
    assert [process.returncode for process in started] == [0] * len(started), outputs
    return outputs[0]


def test_tfjob_workers_reach_the_parameter_server_at_their_tf_config_address() -> None:
    (job,) = manifests.render("tfjob-wiring", name="wiring", image="busybox", workers=2, deadline=60)
    port = free_port()
    cluster = {"ps": [f"127.0.0.1:{port}"], "worker": ["wiring-worker-0.ns.svc:2222", "wiring-worker-1.ns.svc:2222"]}

    def tf_config(kind: str, index: int) -> dict[str, str]:  # as the operator marshals it (no spaces)
        config = {"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"}
        return {"TF_CONFIG": json.dumps(config, separators=(",", ":"))}

    workers = [(script(job, "tfReplicaSpecs", "Worker"), tf_config("worker", index)) for index in (0, 1)]
    output = run_side_by_side((script(job, "tfReplicaSpecs", "PS"), tf_config("ps", 0)), workers)
    assert "worker 0 reached the ps" in output and "worker 1 reached the ps" in output, output
    assert "ps: all 2 worker(s) connected" in output, output


def test_pytorchjob_workers_reach_the_master_at_master_addr() -> None:
    (job,) = manifests.render("pytorchjob-wiring", name="wiring", image="busybox", workers=2, deadline=60)
    common = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "3"}
    workers = [(script(job, "pytorchReplicaSpecs", "Worker"), {**common, "RANK": str(rank)}) for rank in (1, 2)]
    output = run_side_by_side((script(job, "pytorchReplicaSpecs", "Master"), {**common, "RANK": "0"}), workers)
    assert "worker rank 1 reached the master" in output and "worker rank 2 reached the master" in output, output
    assert "master: all 2 worker(s) connected" in output, output
