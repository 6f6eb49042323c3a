"""Faults a release gate meets while the control plane changes: the suite must tell a blip from a
Kubeflow regression, and `make up` must recover from any state a component can be in.

Disruptive by design (they stop the API server and the training operator): run them alone, after the
other cluster tests (`make test` runs tests/faults last).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from kubernetes import client, watch

from kfcheck import reports
from kfcheck.bdd.support import STRICT_FAILURE
from kfcheck.core.config import Settings
from kfcheck.core.kube import connect
from kfcheck.kubeflow import helm
from kfcheck_cluster import cluster
from kfcheck_cluster.layout import REPO_ROOT, Layout
from kfcheck_cluster.processes import running_pid, stop_pid
from tests.cluster.conftest import Kubectl

pytestmark = [pytest.mark.cluster, pytest.mark.faults]
RADISH = Path(sys.executable).with_name("radish")
OUTAGE_SECONDS = 20


def _up() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kfcheck_cluster", "up", "--no-build"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def _apiserver_pid(layout: Layout) -> int:
    pid = running_pid(cluster.processes(layout)["kube-apiserver"], layout)
    assert pid is not None, "the API server does not run before the test"
    return pid


def _suite_namespaces(run_id: str, kubectl_binary: str, kubeconfig: str) -> list[str]:
    out = subprocess.run(
        [kubectl_binary, f"--kubeconfig={kubeconfig}", "get", "namespaces", "-l", f"kfcheck/run-id={run_id}",
         "-o", "jsonpath={.items[*].metadata.name}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return out.split()


def test_up_while_the_api_server_is_shutting_down_recovers(layout: Layout) -> None:
    pid = _apiserver_pid(layout)
    os.kill(pid, signal.SIGTERM)  # a graceful stop: it still runs, with its PID file, for a while
    result = _up()
    assert result.returncode == 0, result.stdout + result.stderr
    assert _apiserver_pid(layout) != pid


def test_up_with_a_stale_pid_file_and_an_untracked_instance_recovers(layout: Layout) -> None:
    scheduler = cluster.processes(layout)["kube-scheduler"]
    untracked = running_pid(scheduler, layout)
    assert untracked is not None
    scheduler.pid_file(layout).write_text(f"{os.getpid()}\n")  # names a live process that is not the scheduler
    result = _up()
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"kube-scheduler: an earlier instance (pid {untracked}) is still there" in result.stdout
    now = running_pid(scheduler, layout)
    assert now is not None and now != untracked
    assert not Path(f"/proc/{untracked}").exists()


def test_an_api_server_outage_during_training_does_not_fail_the_scenario(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """The API server is stopped for 20 s while the TFJob MNIST scenario waits for its training."""
    report = tmp_path / "cucumber.json"
    run_id = f"fault{os.getpid()}"
    run = subprocess.Popen(
        [str(RADISH), "features/tfjob.feature", "-b", "radish", "--no-ansi", "--tags", "slow",
         "--cucumber-json", str(report)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KUBECONFIG": kubeconfig, "KFCHECK_RUN_ID": run_id},
    )  # fmt: skip
    assert run.stdout is not None
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert run.stdout is not None
        for line in run.stdout:
            lines.append(line)
            if 'the TFJob "mnist" succeeds within the training timeout' in line:  # the training wait began
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert started.wait(300), "the scenario did not reach its training wait:\n" + "".join(lines)
    stop_pid(_apiserver_pid(layout), grace_seconds=30)
    stopped_at = time.monotonic()
    time.sleep(OUTAGE_SECONDS)  # the fault itself: 20 s without an API server
    result = _up()
    assert result.returncode == 0, result.stdout + result.stderr
    away = time.monotonic() - stopped_at
    code = run.wait(timeout=1800)
    reader.join(timeout=10)
    output = "".join(lines)
    assert code == 0, output
    assert "the API server was away for" in output, output
    scenario = json.loads(report.read_text())[0]["elements"][-1]
    # the report keeps a passed step's evidence in its result's error_message (kfcheck.reports.fold_evidence)
    embedded = [step["result"].get("error_message", "") for step in scenario["steps"]]
    assert any("the API server was away for" in str(data) for data in embedded), scenario
    print(f"API server away for {away:.1f}s; the scenario passed")


def _tfjob_training_until_its_wait(
    kubeconfig: str, run_id: str, report: Path
) -> tuple[subprocess.Popen[str], list[str]]:
    """The TFJob MNIST scenario started as its own radish run, read until its training wait has begun."""
    run = subprocess.Popen(
        [str(RADISH), "features/tfjob.feature", "-b", "radish", "--no-ansi", "--tags", "slow",
         "--cucumber-json", str(report)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KUBECONFIG": kubeconfig, "KFCHECK_RUN_ID": run_id},
    )  # fmt: skip
    assert run.stdout is not None
    lines = []
    for line in run.stdout:
        lines.append(line)
        if 'the TFJob "mnist" succeeds within the training timeout' in line:
            break
    return run, lines


def test_deleting_the_training_operator_pod_during_training_does_not_fail_the_scenario(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    kubectl = str(layout.binary("kubernetes", "kubectl"))
    run_id = f"operator{os.getpid()}"
    run, lines = _tfjob_training_until_its_wait(kubeconfig, run_id, tmp_path / "cucumber.json")
    subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", "delete", "pod", "-n", "kubeflow", "-l",
         "control-plane=kubeflow-training-operator", "--wait=false"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    output = "".join(lines) + run.communicate(timeout=1800)[0]
    assert run.returncode == 0, output
    leftovers = _suite_namespaces(run_id, kubectl, kubeconfig)
    terminating = subprocess.run(
        [kubectl, f"--kubeconfig={kubeconfig}", "wait", "--for=delete", *[f"namespace/{n}" for n in leftovers],
         "--timeout=180s"],
        capture_output=True, text=True, timeout=200, check=False,
    ) if leftovers else None  # fmt: skip
    assert terminating is None or terminating.returncode == 0, terminating.stdout + terminating.stderr


WAITS_FOREVER = {  # each training image started as a replica that waits for its peers until it is stopped
    "tf_image": {
        "TF_CONFIG": json.dumps(
            {"cluster": {"ps": ["localhost:2222"], "worker": ["localhost:2223"]}, "task": {"type": "ps", "index": 0}}
        )
    },
    "pytorch_image": {"MASTER_ADDR": "localhost", "MASTER_PORT": "23456", "WORLD_SIZE": "2", "RANK": "0"},
}


@pytest.mark.parametrize("image_setting", sorted(WAITS_FOREVER))
def test_a_training_container_stops_on_sigterm_instead_of_being_killed(
    image_setting: str, kubectl: Kubectl, kubeconfig: str
) -> None:
    """A training replica that waits (a TF parameter server serving, a PyTorch master waiting for its
    workers) must end by SIGTERM when its pod is deleted (exit 143, forwarded by tini), not by the SIGKILL
    that follows an ignored SIGTERM after the grace period (exit 137)."""
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    kube = connect(settings)
    image = getattr(settings, image_setting)
    env = [{"name": key, "value": value} for key, value in WAITS_FOREVER[image_setting].items()]
    container = {"name": "replica", "image": image, "env": env}
    kubectl("run", "replica", f"--image={image}", "--restart=Never",
            f"--overrides={json.dumps({'spec': {'containers': [container]}})}")  # fmt: skip
    kubectl.wait("pod/replica", "jsonpath={.status.containerStatuses[0].state.running.startedAt}", timeout=300)
    exit_code = None
    stream = watch.Watch()
    for event in stream.stream(kube.core.list_namespaced_pod, kubectl.namespace, field_selector="metadata.name=replica",
                               timeout_seconds=120):  # fmt: skip
        if event["type"] == "ADDED":  # the watch is open: delete now, with the default 30 s grace period
            kube.core.delete_namespaced_pod("replica", kubectl.namespace)
        statuses = event["object"].status.container_statuses or []
        terminated = statuses[0].state.terminated if statuses else None
        if terminated is not None:
            exit_code = terminated.exit_code
            stream.stop()
    assert exit_code == 143, f"the replica ended with exit code {exit_code}, not by SIGTERM (143)"


def _wait_established(kubeconfig: str, crd: str, timeout: int = 120) -> None:
    """Watches the CRD until the API server serves it (`kubectl wait --for=condition=Established` ends in an
    error instead when it meets the CRD before it has any condition)."""
    api = client.ApiextensionsV1Api(connect(Settings.from_user_data({"kubeconfig": kubeconfig})).api)
    for event in watch.Watch().stream(api.list_custom_resource_definition, field_selector=f"metadata.name={crd}",
                                      timeout_seconds=timeout):  # fmt: skip
        conditions = event["object"].status.conditions or []
        if any(condition.type == "Established" and condition.status == "True" for condition in conditions):
            return
    raise AssertionError(f"CRD {crd} not Established within {timeout}s")


def test_a_cluster_without_the_pytorchjob_api_skips_that_feature_and_runs_the_others(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """Kubeflow 1.11 has no v1 training operator: here its PyTorchJob CRD is removed for the test, and
    restored (with the operator restarted) afterwards."""
    kubectl = [str(layout.binary("kubernetes", "kubectl")), f"--kubeconfig={kubeconfig}"]
    crd = layout.state / "chart" / "kubeflow" / "crds" / "kubeflow.org_pytorchjobs.yaml"
    assert crd.exists()
    subprocess.run([*kubectl, "delete", "crd", "pytorchjobs.kubeflow.org", "--wait=true"], check=True, timeout=120)
    try:
        report = tmp_path / "cucumber.json"
        result = subprocess.run(
            [str(RADISH), "features/pytorchjob.feature", "features/tfjob.feature", "-b", "radish", "--no-ansi",
             "--tags", "smoke", "--cucumber-json", str(report)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, "KUBECONFIG": kubeconfig},
        )  # fmt: skip
        strict = subprocess.run(  # as `make validate` runs on the embedded cluster, where everything is served
            [sys.executable, "-m", "kfcheck", "run", "--reports", str(tmp_path / "strict"),
             "features/pytorchjob.feature", "-b", "radish", "--no-ansi", "--tags", "smoke", "-u", "strict=true"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, "KUBECONFIG": kubeconfig},
        )  # fmt: skip
    finally:
        subprocess.run(
            [*kubectl, "apply", "--server-side", "--force-conflicts", "-f", str(crd)], check=True, timeout=120
        )
        _wait_established(kubeconfig, "pytorchjobs.kubeflow.org")
        subprocess.run([*kubectl, "rollout", "restart", "-n", "kubeflow", "deployment/training-operator"], check=True,
                       timeout=60)  # fmt: skip
        subprocess.run([*kubectl, "rollout", "status", "-n", "kubeflow", "deployment/training-operator",
                        "--timeout=300s"], check=True, timeout=320)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    statuses = {
        feature["name"]: {step["result"]["status"] for element in feature["elements"] for step in element["steps"]}
        for feature in json.loads(report.read_text())
    }
    assert statuses["Distributed PyTorch training with PyTorchJob"] == {"skipped"}, statuses
    assert statuses["Distributed TensorFlow training with TFJob"] == {"passed"}, statuses
    assert "the cluster does not serve PyTorchJob (kubeflow.org/v1, from the Kubeflow training operator)" in output
    assert strict.returncode == 1, strict.stdout + strict.stderr
    strict_results = reports.read_results(tmp_path / "strict" / "messages.ndjson")
    assert strict_results and all(scenario.status == "failed" for scenario in strict_results)
    for scenario in strict_results:
        assert f"{STRICT_FAILURE}: the cluster does not serve PyTorchJob (kubeflow.org/v1" in scenario.failure()
    served = reports.run_findings(reports.read_envelopes(tmp_path / "strict" / "messages.ndjson"))
    assert "PyTorchJob (kubeflow.org/v1): not served by this cluster" in served["what served each Kubeflow API"]


FEATURES = ["pytorchjob", "tfjob", "poddefault", "container_builder", "helm_upgrade"]


@pytest.mark.parametrize("feature", FEATURES)
def test_ctrl_c_during_a_feature_leaves_nothing_behind(feature: str, layout: Layout, kubeconfig: str) -> None:
    """Interrupted in its first When step, the run cleans up: its namespaces are deleted and, for the Helm
    feature, the release is back at the revision it had."""
    kubectl = str(layout.binary("kubernetes", "kubectl"))
    settings = Settings.from_user_data({"kubeconfig": kubeconfig})
    revision = helm.revision(settings)
    run_id = f"ctrlc-{feature.replace('_', '-')}-{os.getpid()}"
    run = subprocess.Popen(
        [str(RADISH), f"features/{feature}.feature", "-b", "radish", "--no-ansi"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "KUBECONFIG": kubeconfig, "KFCHECK_RUN_ID": run_id},
    )  # fmt: skip
    assert run.stdout is not None
    lines = []
    for line in run.stdout:
        lines.append(line)
        if line.strip().startswith("When "):  # a scenario is under way
            break
    assert _suite_namespaces(run_id, kubectl, kubeconfig), "no namespace of the run before the interrupt:\n" + "".join(
        lines
    )
    run.send_signal(signal.SIGINT)
    output = "".join(lines) + run.communicate(timeout=600)[0]
    left = _suite_namespaces(run_id, kubectl, kubeconfig)
    if left:  # namespace deletion is asynchronous: wait for it to finish, then nothing may be left
        gone = [kubectl, f"--kubeconfig={kubeconfig}", "wait", "--for=delete", *[f"namespace/{n}" for n in left]]
        subprocess.run([*gone, "--timeout=300s"], capture_output=True, timeout=320, check=False)
    assert _suite_namespaces(run_id, kubectl, kubeconfig) == [], output
    assert helm.revision(settings) in (revision, revision + 2), (
        "the release was not restored"
    )  # rollback = new revision
    values = json.loads(_helm_values(settings)) or {}  # helm prints null when no value was set by hand
    assert "componentResources" not in values, f"the upgrade's values survived the interrupt: {values}"


def _helm_values(settings: Settings) -> str:
    argv = [settings.helm, f"--kubeconfig={settings.kubeconfig}", f"--namespace={settings.kubeflow_namespace}",
            "get", "values", settings.helm_release, "--output=json"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout


def test_the_poddefault_webhook_down_while_a_notebook_is_created_fails_with_the_cause(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """With the webhook gone (failurePolicy Fail), the Notebook's pod cannot be created: the scenario fails
    naming that cause, instead of waiting for its deadline."""
    kubectl = [str(layout.binary("kubernetes", "kubectl")), f"--kubeconfig={kubeconfig}", "-n", "kubeflow"]
    subprocess.run([*kubectl, "scale", "deployment/poddefault-webhook", "--replicas=0"], check=True, timeout=60)
    try:
        subprocess.run([*kubectl, "wait", "--for=delete", "pod", "-l", "app=poddefault-webhook", "--timeout=120s"],
                       check=True, timeout=140)  # fmt: skip
        report = tmp_path / "cucumber.json"
        started = time.monotonic()
        result = subprocess.run(
            [str(RADISH), "features/poddefault.feature", "-b", "radish", "--no-ansi", "--tags", "smoke",
             "--cucumber-json", str(report)],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False,
            env={**os.environ, "KUBECONFIG": kubeconfig},
        )  # fmt: skip
        took = time.monotonic() - started
    finally:
        subprocess.run([*kubectl, "scale", "deployment/poddefault-webhook", "--replicas=1"], check=True, timeout=60)
        subprocess.run([*kubectl, "rollout", "status", "deployment/poddefault-webhook", "--timeout=300s"],
                       check=True, timeout=320)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    errors = [step["result"].get("error_message", "") for element in json.loads(report.read_text())[0]["elements"]
              for step in element["steps"] if step["result"]["status"] == "failed"]  # fmt: skip
    assert errors and "cannot create its pods" in errors[0] and "poddefault" in errors[0], errors
    assert "timed out" not in errors[0], errors
    print(f"the scenario failed with the cause after {took:.0f}s (its wait's deadline is 300 s)")


def test_a_worker_killed_on_the_node_fails_the_job_with_its_cause_and_leaves_nothing(
    layout: Layout, kubeconfig: str, tmp_path: Path
) -> None:
    """A TFJob worker's container is killed by the node's runtime (SIGKILL through containerd) mid-training:
    the job fails (backoffLimit 0), the scenario fails naming the killed replica, and its namespace goes."""
    kubectl = str(layout.binary("kubernetes", "kubectl"))
    run_id = f"kill{os.getpid()}"
    report = tmp_path / "cucumber.json"
    run, lines = _tfjob_training_until_its_wait(kubeconfig, run_id, report)
    (namespace,) = _suite_namespaces(run_id, kubectl, kubeconfig)
    admin = [kubectl, f"--kubeconfig={kubeconfig}", "-n", namespace]
    for condition in ("create", "jsonpath={.status.phase}=Running"):  # the operator may not have made it yet
        subprocess.run([*admin, "wait", f"--for={condition}", "pod/mnist-worker-1", "--timeout=300s"], check=True,
                       timeout=320)  # fmt: skip
    container = subprocess.run(
        [*admin, "get", "pod/mnist-worker-1", "-o", "jsonpath={.status.containerStatuses[0].containerID}"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout.removeprefix("containerd://")  # fmt: skip
    subprocess.run(["ctr", f"--address={layout.containerd_socket}", "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL",
                    container], check=True, timeout=60)  # fmt: skip
    output = "".join(lines) + run.communicate(timeout=900)[0]
    assert run.returncode != 0, output
    errors = [step["result"].get("error_message", "") for element in json.loads(report.read_text())[0]["elements"]
              for step in element["steps"] if step["result"]["status"] == "failed"]  # fmt: skip
    assert errors and "failed" in errors[0] and "timed out" not in errors[0], errors
    left = _suite_namespaces(run_id, kubectl, kubeconfig)
    if left:
        subprocess.run([kubectl, f"--kubeconfig={kubeconfig}", "wait", "--for=delete", f"namespace/{left[0]}",
                        "--timeout=300s"], capture_output=True, timeout=320, check=False)  # fmt: skip
    assert _suite_namespaces(run_id, kubectl, kubeconfig) == []
