"""What a real installation meets, on the embedded cluster: the suite's images in another registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from kfcheck.embedded import images
from kfcheck.embedded.layout import REGISTRY, REPO_ROOT

pytestmark = pytest.mark.cluster
RADISH = Path(sys.executable).with_name("radish")
MIRROR = f"{REGISTRY}/mirror-{os.getpid()}"


def test_the_suite_runs_from_images_pushed_to_another_registry(kubeconfig: str, tmp_path: Path) -> None:
    copied = images.push_suite_images(MIRROR, tls_verify=False)
    assert f"{MIRROR}/tf-mnist:latest" in copied
    path = MIRROR.split("/", 1)[1]
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/{path}/tf-mnist/tags/list", timeout=10) as response:
        assert json.load(response)["tags"] == ["latest"]
    report = tmp_path / "cucumber.json"
    result = subprocess.run(
        [str(RADISH), "features/tfjob.feature", "-b", "radish", "--no-ansi", "--tags", "smoke",
         "--cucumber-json", str(report), "-u", f"registry={MIRROR}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "KUBECONFIG": kubeconfig},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [step for element in json.loads(report.read_text())[0]["elements"] for step in element["steps"]]
    assert steps and all(step["result"]["status"] == "passed" for step in steps)
