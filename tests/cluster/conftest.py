"""Fixtures for the tests that run against the real embedded cluster (`make up` first)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from kfcheck.core import diagnostics, namespaces, wait
from kfcheck.core.config import Settings
from kfcheck.core.kube import connect
from kfcheck.core.scenario import Scenario
from kfcheck_cluster.layout import REGISTRY, Layout

MANIFESTS = Path(__file__).parent / "manifests"
CHECK_IMAGE = f"{REGISTRY}/cluster-check:latest"


@dataclass
class Kubectl:
    """kubectl in one test's namespace, for what the tests exercise through kubectl itself (apply of their
    manifests, logs, exec, port checks). The namespace, the waits and the evidence of a failed wait are the
    suite's own (kfcheck.core.namespaces, kfcheck.core.wait, kfcheck.core.diagnostics), as for any scenario."""

    binary: str
    kubeconfig: str
    namespace: str
    scenario: Scenario | None = None

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

    def _evidence(self) -> str:
        if self.scenario is None:
            return ""
        return "\n".join(f"--- {name}\n{text}" for name, text in diagnostics.gather(self.scenario).items())

    def wait_completed(self, pod: str, timeout: int = 120) -> str:
        """The suite's pod wait (a watch, failing at once on a visible cause); its log, or the evidence."""
        assert self.scenario is not None, "wait_completed needs the test's scenario (the kubectl fixture)"
        kube = self.scenario.kube
        try:
            wait.wait_for(
                kube, f"pod {self.namespace}/{pod} to complete", kube.core.list_namespaced_pod, self.namespace, pod,
                done=wait.pod_succeeded, failed=wait.pod_failure, timeout=timeout,
            )  # fmt: skip
        except wait.WaitFailed as error:
            raise AssertionError(f"{error}\n{self._evidence()}") from None
        return self("logs", pod)

    def wait(self, target: str, condition: str, timeout: int = 120) -> None:
        """`kubectl wait` watches the object until the condition holds or the deadline passes; a miss is
        reported with the suite's evidence of the namespace (events, pod logs, objects)."""
        try:
            self("wait", target, f"--for={condition}", f"--timeout={timeout}s", timeout=timeout + 10)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self._evidence()}") from None


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


@pytest.fixture(scope="session")
def settings(kubeconfig: str) -> Settings:
    return Settings.from_user_data({"kubeconfig": kubeconfig})


@pytest.fixture
def kubectl(layout: Layout, settings: Settings, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    """kubectl bound to the test's own namespace, made and removed as a scenario's (kfcheck.core.namespaces:
    labelled with the run, deleted after the test whatever happened, swept if the run dies)."""
    with namespace_for_test(layout, settings, f"check {request.node.name}") as bound:
        yield bound


@contextlib.contextmanager
def namespace_for_test(layout: Layout, settings: Settings, title: str,
                       labels: Callable[[str], dict[str, str]] | None = None) -> Iterator[Kubectl]:  # fmt: skip
    """A namespace made as a scenario's (with `labels(name)` added), ready for pods; deleted afterwards."""
    kube = connect(settings)
    scenario = namespaces.start(kube, settings, title)
    try:
        if labels is not None:
            kube.core.patch_namespace(scenario.namespace, {"metadata": {"labels": labels(scenario.namespace)}})
        # pods are refused until the namespace's default ServiceAccount exists (made asynchronously)
        wait.wait_for(
            kube, f"the default ServiceAccount of {scenario.namespace}", kube.core.list_namespaced_service_account,
            scenario.namespace, "default", done=lambda _account: True, timeout=30, watch_pods=False,
        )  # fmt: skip
        yield Kubectl(str(layout.binary("kubernetes", "kubectl")), settings.kubeconfig, scenario.namespace, scenario)
    finally:
        namespaces.finish(scenario)
