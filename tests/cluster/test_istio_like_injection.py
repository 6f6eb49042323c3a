"""The suite in a namespace where pods get a sidecar, as in a Kubeflow Profile namespace with Istio: an
Istio-like injector (a mutating webhook served from a pod, tests/cluster/manifests/istio-like-injector*.yaml)
adds a container that never ends to every pod created there without `sidecar.istio.io/inject: "false"`.
First, that it really does (such a pod never completes); then the whole suite passes there in shared mode
(-u namespace=), because every pod it makes for its own checks opts out (tests/test_istio_opt_out.py).
The registration is removed after each test whatever happened; it only selects the test's namespace and
ignores an injector that does not answer, so one left by a killed test harms nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kfcheck import reports
from kfcheck.core import wait
from kfcheck.core.config import Settings
from kfcheck_cluster.layout import REPO_ROOT, Layout

from .conftest import CHECK_IMAGE, Kubectl, namespace_for_test
from .test_cluster import _wait_reachable, _webhook_certificates

pytestmark = pytest.mark.cluster
RADISH = Path(sys.executable).with_name("radish")
PROXY, CHECK_LABEL = "istio-proxy", "kfcheck/istio-like-check"
SUITE_SECONDS = 3600
EMPTY_SELECTOR = "A PodDefault with an empty selector applies to every pod of the namespace"
PROBE = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dry-run"},
                    "spec": {"containers": [{"name": "main", "image": CHECK_IMAGE}]}})  # fmt: skip


@dataclass
class Injection:
    user: Kubectl  # kubectl in the namespace with injection, where the suite runs
    server: Kubectl  # kubectl in the injector's own namespace

    def containers_at_admission(self) -> list[str]:
        """The containers a pod without the opt-out has once admitted (a server-side dry run: nothing made)."""
        out = self.user("create", "--dry-run=server", "-o", "jsonpath={.spec.containers[*].name}", "-f", "-",
                        stdin=PROBE)  # fmt: skip
        return out.split()

    def wait_serving(self, seconds: float = 30) -> None:
        """The API server loads a new registration asynchronously (nothing to watch): dry runs until it calls
        the injector, within a deadline."""
        deadline = time.monotonic() + seconds
        while PROXY not in self.containers_at_admission():
            assert time.monotonic() < deadline, f"the API server did not call the injector within {seconds}s"
            time.sleep(0.5)

    def decisions(self) -> list[dict[str, Any]]:
        """The injector's decisions on pods really created in the user's namespace (dry runs left out)."""
        lines = self.server("logs", "webhook").splitlines()
        found = [json.loads(line.removeprefix("decision ")) for line in lines if line.startswith("decision ")]
        return [d for d in found if d["namespace"] == self.user.namespace and not d["dryRun"]]


@pytest.fixture
def user_namespace(layout: Layout, settings: Settings, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    """A namespace as kfcheck.core.namespaces makes one (deleted afterwards, swept if the run dies), labelled for
    injection, and with a label of its own that the injector's registration selects."""

    def labels(namespace: str) -> dict[str, str]:
        return {"istio-injection": "enabled", CHECK_LABEL: namespace}

    with namespace_for_test(layout, settings, f"istio-injected {request.node.name}", labels) as bound:
        yield bound


@pytest.fixture
def injector(kubectl: Kubectl, user_namespace: Kubectl, settings: Settings, tmp_path: Path) -> Iterator[Injection]:
    """The injector served from a pod of the test's namespace and registered for user_namespace; the
    registration is deleted afterwards, also when the test fails."""
    certificates = _webhook_certificates(kubectl.namespace, tmp_path)
    kubectl.apply("istio-like-injector.yaml", sidecar_image=settings.busybox_image, **certificates)
    kubectl.wait("pod/webhook", "condition=Ready")
    # the API server (on this host) must reach the new Service before it is registered (see test_cluster)
    _wait_reachable(kubectl("get", "service", "webhook", "-o", "jsonpath={.spec.clusterIP}"), 443, 30)
    registration = f"mutatingwebhookconfiguration/kfcheck-istio-like-{kubectl.namespace}"
    try:
        kubectl.apply("istio-like-injector-registration.yaml", target=user_namespace.namespace,
                      ca_bundle=certificates["ca_bundle"])  # fmt: skip
        injection = Injection(user_namespace, kubectl)
        injection.wait_serving()
        yield injection
    finally:
        kubectl("delete", registration, "--ignore-not-found", "--wait=true")
        assert not kubectl("get", registration, "--ignore-not-found", "-o", "name").strip(), "registration left"


def main_container_ended(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(s.get("name") == "main" and (s.get("state") or {}).get("terminated") for s in statuses)


def test_a_pod_without_the_opt_out_gets_a_sidecar_and_never_completes(injector: Injection) -> None:
    user = injector.user
    assert user.scenario is not None
    kube, namespace = user.scenario.kube, user.namespace
    user.apply("istio-like-pods.yaml")
    user.wait_completed("opted-out")
    opted_out = kube.core.read_namespaced_pod("opted-out", namespace)
    assert [c.name for c in opted_out.spec.containers] == ["main"], "the opted-out pod got a sidecar"
    plain = wait.wait_for(
        kube, f"pod {namespace}/plain's main container to end", kube.core.list_namespaced_pod, namespace, "plain",
        done=main_container_ended, failed=wait.pod_failure, timeout=120,
    )  # fmt: skip
    assert [c["name"] for c in plain["spec"]["containers"]] == ["main", PROXY]
    states = {s["name"]: s["state"] for s in plain["status"]["containerStatuses"]}
    assert states["main"]["terminated"]["exitCode"] == 0, states
    assert "running" in states[PROXY], f"the sidecar is not running: {states}"
    assert plain["status"]["phase"] == "Running", "the pod's work is done, but its sidecar keeps it Running"
    assert {(d["pod"], d["injected"]) for d in injector.decisions()} == {("plain", True), ("opted-out", False)}


def run_suite(namespace: str, kubeconfig: str, report: Path) -> tuple[int, str]:
    """The suite as QA runs it inside their Profile namespace, as cluster admin: every feature but the
    Helm upgrade (it restarts Kubeflow's components under everyone else's tests)."""
    argv = [str(RADISH), "features/", "-b", "radish", "--no-ansi", "--tags", "not upgrade and not helm-upgrade",
            "-u", f"namespace={namespace}", "--cucumber-json", str(report)]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=SUITE_SECONDS, check=False,
                          env={**os.environ, "KUBECONFIG": kubeconfig})  # fmt: skip
    return done.returncode, done.stdout + done.stderr


def test_the_suite_passes_in_a_shared_namespace_whose_pods_get_sidecars(
    injector: Injection, kubeconfig: str, tmp_path: Path
) -> None:
    report = tmp_path / "cucumber.json"
    admin = injector.user("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").strip()
    injector.user.apply("profile-namespace.yaml", user=admin)  # a Profile's namespace, as the web app expects
    started = time.monotonic()
    returncode, output = run_suite(injector.user.namespace, kubeconfig, report)
    print(f"the suite ran {time.monotonic() - started:.0f}s, exit code {returncode}")
    assert returncode == 0, f"the suite failed in {injector.user.namespace}:\n{output[-6000:]}"
    results = reports.read_results(report)
    assert len(results) >= 15, f"only {len(results)} scenarios ran"
    not_passed = [(result.name, result.status) for result in results if result.status != "passed"]
    assert not_passed == [(EMPTY_SELECTOR, "skipped")], f"expected only the empty selector's skip: {not_passed}"
    assert f"skipped '{EMPTY_SELECTOR}': would inject into every pod of the user's namespace" in output
    decisions = injector.decisions()
    injected = [d for d in decisions if d["injected"]]
    # the injector served the whole run: the Notebook servers' pods (Kubeflow's, which carry the sidecar on
    # any Kubeflow with Istio) got one; no pod of the suite's own checks did
    assert injected, f"the injector gave no pod a sidecar during the run ({len(decisions)} decisions)"
    assert all(d["owners"] == ["StatefulSet"] for d in injected), f"suite pods got a sidecar: {injected}"
    assert len(decisions) - len(injected) >= 10, f"the injector saw few of the suite's pods: {decisions}"
    print(f"{len(results)} scenarios; the injector admitted {len(decisions)} pods, gave a sidecar to "
          f"{sorted(d['pod'] for d in injected)}")  # fmt: skip
