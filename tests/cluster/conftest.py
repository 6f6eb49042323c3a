"""Fixtures for the tests that run against the real embedded cluster (`make up` first)."""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from kfcheck.embedded.layout import REGISTRY, Layout

MANIFESTS = Path(__file__).parent / "manifests"
CHECK_IMAGE = f"{REGISTRY}/cluster-check:latest"


@dataclass
class Kubectl:
    binary: str
    kubeconfig: str
    namespace: str

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        timeout: float = 180,
        until: tuple[str, ...] = (),
    ) -> str:
        argv = [self.binary, f"--kubeconfig={self.kubeconfig}", f"--namespace={self.namespace}", *args]
        if until:
            return _read_until(argv, until, timeout)
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout + (result.stderr if not check else "")

    def apply(self, manifest: str, *flags: str, **values: str) -> str:
        text = Template((MANIFESTS / manifest).read_text()).substitute(
            {"image": CHECK_IMAGE, "namespace": self.namespace, **values}
        )
        return self("apply", *flags, "-f", "-", stdin=text)

    def wait_completed(self, pod: str, timeout: int = 120) -> str:
        """Watches the pod until it Succeeded or Failed; a failure is reported with its logs at once."""
        out = self(
            "get", f"pod/{pod}", "--watch", "--output-watch-events=false",
            "-o", "jsonpath={.status.phase}{'\\n'}", f"--request-timeout={timeout}s",
            check=False, timeout=timeout + 5, until=("Succeeded", "Failed"),
        )  # fmt: skip
        phase = out.strip().splitlines()[-1] if out.strip() else "(none)"
        if phase != "Succeeded":
            logs = self("logs", pod, check=False)
            raise AssertionError(f"pod {pod} ended {phase}; logs:\n{logs}")
        return self("logs", pod)

    def wait(self, target: str, condition: str, timeout: int = 120) -> None:
        """`kubectl wait` watches the object until the condition holds or the deadline passes."""
        try:
            self("wait", target, f"--for={condition}", f"--timeout={timeout}s", timeout=timeout + 10)
        except AssertionError as error:
            described = self("describe", target, check=False)
            events = self("get", "events", "--sort-by=.lastTimestamp", check=False)
            raise AssertionError(f"{error}\n--- describe\n{described}\n--- events\n{events}") from None


def _read_until(argv: list[str], words: tuple[str, ...], timeout: float) -> str:
    """Reads a `kubectl --watch` stream line by line and stops at the first line that is one of words."""
    lines: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as watch:
        assert watch.stdout is not None
        try:
            for line in watch.stdout:
                lines.append(line.rstrip())
                if line.strip() in words:
                    break
        finally:
            watch.kill()
    return "\n".join(lines)


@pytest.fixture(scope="session")
def layout() -> Layout:
    return Layout.from_env()


@pytest.fixture(scope="session")
def kubeconfig(layout: Layout) -> str:
    path = os.environ.get("KUBECONFIG") or str(layout.kubeconfig)
    if not Path(path).exists():
        pytest.fail(f"no cluster: {path} does not exist; run `make up` first")
    return path


@pytest.fixture
def kubectl(layout: Layout, kubeconfig: str, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    """kubectl bound to a fresh namespace that is deleted after the test, whatever happened."""
    binary = str(layout.binary("kubernetes", "kubectl"))
    slug = request.node.name.replace("_", "-").lower()[:40].strip("-")
    namespace = f"check-{slug}-{secrets.token_hex(3)}"
    cluster_scope = Kubectl(binary, kubeconfig, "default")
    cluster_scope("create", "namespace", namespace)
    cluster_scope("label", "namespace", namespace, "app.kubernetes.io/managed-by=kfcheck-tests")
    # Pods are refused until the namespace's default ServiceAccount exists (made asynchronously).
    cluster_scope("wait", f"--namespace={namespace}", "--for=create", "serviceaccount/default", "--timeout=30s")
    try:
        yield Kubectl(binary, kubeconfig, namespace)
    finally:
        cluster_scope("delete", "namespace", namespace, "--wait=false", check=False)
