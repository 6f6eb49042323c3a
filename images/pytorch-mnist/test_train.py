"""train.py learns, for real, when started as either Kubeflow training API starts it, on a subset of MNIST.

These tests run inside the image while it is built (the Dockerfile's `tested` stage), so they test the
Python, PyTorch and torchrun that ship: a failure fails the image build.
- the v1 training operator's PyTorchJob: master + worker processes given MASTER_ADDR/MASTER_PORT,
  WORLD_SIZE and RANK;
- Kubeflow Trainer's TrainJob (torch runtime): each node runs torchrun given only PET_NNODES,
  PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR and PET_MASTER_PORT; torchrun sets the rest.

MNIST_DIR (default /data/mnist, where the image keeps it) names the IDX data.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = str(Path(__file__).resolve().with_name("train.py"))
MNIST_DIR = os.environ.get("MNIST_DIR", "/data/mnist")
SUBSET = ["--data-dir", MNIST_DIR, "--train-limit", "6000", "--test-limit", "2000"]
DISTRIBUTED_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_together(commands: list[tuple[list[str], dict[str, str]]], timeout: int = 600) -> list[str]:
    """Runs the commands at once, each in a clean distributed environment plus its own variables."""
    clean = {key: value for key, value in os.environ.items() if key not in DISTRIBUTED_VARIABLES}
    processes = [
        subprocess.Popen(argv, env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for argv, env in commands
    ]
    outputs = []
    try:
        for process in processes:
            out, _ = process.communicate(timeout=timeout)
            assert process.returncode == 0, f"{process.args} exited with {process.returncode}:\n{out}"
            outputs.append(out)
    finally:
        for process in processes:
            process.kill()
    return outputs


def accuracy_of(output: str) -> float:
    found = re.findall(r"^accuracy=(\d\.\d{4})$", output, re.MULTILINE)
    assert found, output
    return float(found[-1])


def test_master_and_worker_learn_as_a_pytorchjob_starts_them() -> None:
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    master, worker = run_together(
        [
            ([sys.executable, SCRIPT, *SUBSET], {**env, "RANK": "0"}),
            ([sys.executable, SCRIPT, *SUBSET], {**env, "RANK": "1"}),
        ]
    )
    assert "Using distributed PyTorch with gloo backend: rank 0 of 2" in master, master
    assert "rank 1 of 2" in worker, worker
    assert re.search(r"Train Epoch: 1 \[\d+/6000 \(\d+%\)\] loss=\d\.\d{4}", master), master
    assert re.search(r"^data=.* train=6000 test=2000$", master, re.MULTILINE), master
    assert accuracy_of(master) >= 0.85  # chance is 0.10; 3000 digits per replica, one epoch
    assert "accuracy=" not in worker  # only the master reports


def test_two_torchrun_nodes_learn_as_a_trainjob_starts_them() -> None:
    torchrun = [sys.executable, "-m", "torch.distributed.run", SCRIPT, *SUBSET]
    env = {
        "PET_NNODES": "2",
        "PET_NPROC_PER_NODE": "1",
        "PET_MASTER_ADDR": "127.0.0.1",
        "PET_MASTER_PORT": str(free_port()),
        "OMP_NUM_THREADS": "1",
    }
    node0, node1 = run_together([(torchrun, {**env, "PET_NODE_RANK": "0"}), (torchrun, {**env, "PET_NODE_RANK": "1"})])
    assert "Using distributed PyTorch with gloo backend: rank 0 of 2" in node0, node0
    assert "rank 1 of 2" in node1, node1
    assert accuracy_of(node0) >= 0.85, node0
    assert "accuracy=" not in node1  # only global rank 0 reports
