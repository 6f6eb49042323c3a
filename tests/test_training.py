"""The training program of images/tf-mnist learns, for real, when run as the training operator runs it:
one parameter server and two workers (TF_CONFIG), here as local processes on a subset of the real MNIST
digits. The PyTorch program's tests (images/pytorch-mnist/test_train.py: PyTorchJob's MASTER_ADDR/RANK
and TrainJob's torchrun) run inside its image while it is built, on the PyTorch that ships."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kfcheck_cluster.datasets import MNIST_SOURCE, ensure_mnist

pytestmark = pytest.mark.training
IMAGES = Path(__file__).resolve().parents[1] / "images"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("mnist")
    for item in ensure_mnist().iterdir():
        (directory / item.name).symlink_to(item)
    (directory / "SOURCE").write_text(MNIST_SOURCE + "\n")
    return directory


def run_together(commands: list[tuple[list[str], dict[str, str]]], timeout: int = 300) -> list[str]:
    processes = [
        subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for argv, env in commands
    ]
    outputs = []
    try:
        for process in processes:
            out, _ = process.communicate(timeout=timeout)
            outputs.append(out)
    finally:
        for process in processes:
            process.kill()
    return outputs


def test_tensorflow_parameter_server_and_two_workers_learn(mnist_dir: Path) -> None:
    ps_port, worker0_port, worker1_port = free_ports(3)
    cluster = {"ps": [f"127.0.0.1:{ps_port}"], "worker": [f"127.0.0.1:{worker0_port}", f"127.0.0.1:{worker1_port}"]}
    script = str(IMAGES / "tf-mnist" / "train.py")
    args = ["--data-dir", str(mnist_dir), "--train-steps", "600", "--test-limit", "2000"]

    def env(task_type: str, index: int) -> dict[str, str]:
        return {"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}),
                "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip

    ps = subprocess.Popen([sys.executable, script, *args], env={**os.environ, **env("ps", 0)},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        worker0, worker1 = run_together(
            [([sys.executable, script, *args], env("worker", 0)), ([sys.executable, script, *args], env("worker", 1))]
        )
        assert ps.poll() is None, "the parameter server serves until the job ends"
    finally:
        ps.kill()
        ps_output = ps.communicate()[0]
    assert "job name = ps" in ps_output
    assert "Worker 1: Session initialization complete." in worker1, worker1
    line = re.findall(r"^validation_cross_entropy=.*$", worker0, re.MULTILINE)
    assert line, worker0
    metrics = dict(field.split("=", 1) for field in line[-1].split() if "=" in field)
    assert float(metrics["accuracy"]) >= 0.85, line  # chance is 0.10
    assert float(metrics["validation_cross_entropy"]) < 0.6, line  # an untrained model sits at ~2.30
    assert metrics["workers"] == "2"
    assert "validation_cross_entropy=" not in worker1  # only the chief reports
