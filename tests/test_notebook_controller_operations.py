"""Operations of kfcheck's notebook controller (components/kubeflow_lite) against Kubeflow's at
kubeflow/kubeflow v1.10.0: Prometheus metrics, health probes, flags, the work queue, and what both installs
(the chart and the kubeflow/manifests tree) set. Each test cites the upstream file:line it pins (nc.go =
components/notebook-controller/controllers/notebook_controller.go; paths under components/notebook-controller
otherwise).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import notebook_manager as manager
from kubeflow_lite import notebook_metrics as metrics
from kubeflow_lite.workqueue import WorkQueue

from tests.notebook_controller_fakes import NAMESPACE, FakeApi, controller_on, notebook

ROOT = Path(__file__).resolve().parents[1]


# --- metrics and probes ------------------------------------------------------------------------------------


def stateful_set_item(name: str, namespace: str, notebook_name: str | None) -> dict:
    labels = {} if notebook_name is None else {"notebook-name": notebook_name}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"template": {"metadata": {"labels": labels}}}}


def test_metrics_exposition_has_upstreams_names_labels_and_help() -> None:
    """pkg/metrics/metrics.go:25-45 (names, help, label `namespace`), 67-79 (only these three are collected:
    the culling ones never are), 82-99 (notebook_running per namespace at scrape time, never reset)."""
    listed = [stateful_set_item("a", "team", "a"), stateful_set_item("b", "team", "b"),
              stateful_set_item("c", "other", "c"), stateful_set_item("d", "other", "x"),
              stateful_set_item("e", "other", None)]  # fmt: skip
    exported = metrics.NotebookMetrics(lambda: listed)
    exported.inc("notebook_create_total", "team")
    exported.inc("notebook_create_total", "team")
    exported.inc("notebook_create_failed_total", 'we"ird\\')
    assert exported.exposition() == (
        "# HELP notebook_create_failed_total Total failure times of creating notebooks\n"
        "# TYPE notebook_create_failed_total counter\n"
        'notebook_create_failed_total{namespace="we\\"ird\\\\"} 1\n'
        "# HELP notebook_create_total Total times of creating notebooks\n"
        "# TYPE notebook_create_total counter\n"
        'notebook_create_total{namespace="team"} 2\n'
        "# HELP notebook_running Current running notebooks in the cluster\n"
        "# TYPE notebook_running gauge\n"
        'notebook_running{namespace="other"} 1\n'
        'notebook_running{namespace="team"} 2\n'
    )
    listed[:] = [stateful_set_item("a", "team", "a")]
    assert 'notebook_running{namespace="other"} 1\n' in exported.exposition(), "a gauge is set, never reset"
    assert "culling" not in exported.exposition()
    assert metrics.NotebookMetrics(lambda: []).exposition() == "", "families without samples are left out"


def test_a_create_counts_and_a_failed_create_counts_twice() -> None:
    """nc.go:147-156: notebook_create_total before the create, notebook_create_failed_total when it fails."""
    api = FakeApi(notebook())
    controller = controller_on(api)
    controller.metrics = metrics.NotebookMetrics()
    api.failing.add("create StatefulSet")
    with pytest.raises(ApiException):
        controller.reconcile(NAMESPACE, "nb")
    api.failing.clear()
    controller.reconcile(NAMESPACE, "nb")
    controller.reconcile(NAMESPACE, "nb")
    assert controller.metrics.samples["notebook_create_total"] == {(NAMESPACE,): 2}
    assert controller.metrics.samples["notebook_create_failed_total"] == {(NAMESPACE,): 1}


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (http to 127.0.0.1)
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_metrics_and_probes_are_served_over_http() -> None:
    """main.go:64-65,124-132 (healthz and readyz, always passing); controller-runtime v0.11.0
    pkg/healthz/healthz.go (answers `ok`, verbose lists, sub-paths) and pkg/manager/internal.go:325-356."""
    exported = metrics.NotebookMetrics()
    exported.inc("notebook_create_total", "team")
    served = [metrics.serve("127.0.0.1:0", exported), metrics.serve("127.0.0.1:0", None)]
    try:
        metrics_port, probe_port = (server.server_address[1] for server in served if server is not None)
        status, content_type, body = get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert (status, content_type) == (200, "text/plain; version=0.0.4; charset=utf-8")
        assert 'notebook_create_total{namespace="team"} 1\n' in body
        assert get(f"http://127.0.0.1:{metrics_port}/healthz")[0] == 404
        probe = f"http://127.0.0.1:{probe_port}"
        for path in ("/healthz", "/readyz", "/healthz/", "/healthz/healthz", "/readyz/readyz"):
            assert get(probe + path)[::2] == (200, "ok"), path
        assert get(probe + "/readyz?verbose")[2] == "[+]readyz ok\nhealthz check passed\n"
        for path in ("/metrics", "/healthz/readyz", "/healthzx", "/"):
            assert get(probe + path)[0] == 404, path
    finally:
        for server in served:
            if server is not None:
                server.shutdown()
                server.server_close()
    assert metrics.serve("0", None) is None, "controller-runtime: the address 0 turns a server off"


@pytest.mark.parametrize(
    ("value", "text"), [(3, "3"), (0.5, "0.5"), (123456, "123456"), (1e6, "1e+06"), (1234567, "1.234567e+06"),
                        (1e-5, "1e-05"), (0, "0")]
)  # fmt: skip
def test_sample_values_are_written_as_the_go_client_writes_them(value: float, text: str) -> None:
    """client_golang's expfmt writes strconv.FormatFloat(v, 'g', -1, 64)."""
    assert metrics.go_float(value) == text


def test_flags_are_upstreams_and_leader_election_is_refused() -> None:
    """main.go:64-69: --metrics-addr :8080, --probe-addr :8081; --enable-leader-election defaults to false and
    no manifest of upstream's sets it (config/manager/manager.yaml has no args; config/default/kustomization.yaml
    :31 leaves manager_auth_proxy_patch.yaml, the one patch that passes it, commented out)."""
    defaults = manager.arguments([])
    assert (defaults.metrics_addr, defaults.probe_addr) == (":8080", ":8081")
    assert manager.arguments(["--metrics-addr", "127.0.0.1:8080"]).metrics_addr == "127.0.0.1:8080"
    with pytest.raises(SystemExit):
        manager.arguments(["--enable-leader-election"])


# --- the installs -------------------------------------------------------------------------------------------

CHART = ROOT / "charts/kubeflow/templates/notebook-controller.yaml"
MANIFESTS = ROOT / "cluster/kubeflow-manifests/notebook-controller"


def test_both_installs_probe_serve_metrics_and_may_write_events_and_virtual_services() -> None:
    """config/manager/manager.yaml:61-72 (probes: /healthz and /readyz on 8081, 5 s delay, every 10 s);
    config/rbac/role.yaml:14-23 (events create and patch), 46-51 (virtualservices)."""
    (deployment,) = yaml.safe_load_all((MANIFESTS / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"] == {"httpGet": {"path": "/healthz", "port": 8081}, "initialDelaySeconds": 5,
                                          "periodSeconds": 10}  # fmt: skip
    assert container["readinessProbe"] == {"httpGet": {"path": "/readyz", "port": 8081}, "initialDelaySeconds": 5,
                                           "periodSeconds": 10}  # fmt: skip
    env = {variable["name"] for variable in container["env"]}
    assert env == {"USE_ISTIO", "ISTIO_GATEWAY", "ISTIO_HOST", "CLUSTER_DOMAIN", "ENABLE_CULLING", "CULL_IDLE_TIME",
                   "IDLENESS_CHECK_PERIOD"}  # fmt: skip
    (role,) = yaml.safe_load_all((MANIFESTS / "role.yaml").read_text())
    rules = {tuple(rule["resources"]): set(rule["verbs"]) for rule in role["rules"]}
    assert {"create", "patch"} <= rules[("events",)] and rules[("virtualservices",)] == {"*"}
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    literals = dict(item.split("=", 1) for item in kustomization["configMapGenerator"][0]["literals"])
    assert literals["USE_ISTIO"] == "false" and literals["ENABLE_CULLING"] == "false"
    chart = CHART.read_text()
    for fragment in ("path: /healthz, port: 8081", "path: /readyz, port: 8081", "containerPort: 8080",
                     "resources: [virtualservices]", "verbs: [get, list, watch, create, patch]",
                     "name: USE_ISTIO", "name: ENABLE_CULLING"):  # fmt: skip
        assert fragment in chart, fragment


# --- the work queue -----------------------------------------------------------------------------------------


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_work_queue_holds_a_key_once_and_again_after_processing() -> None:
    """client-go v0.23.0 util/workqueue/queue.go Add/Get/Done: the dirty and processing sets."""
    queue = WorkQueue(Ticks())
    queue.add("a")
    queue.add("a")
    assert queue.get(timeout=0) == "a"
    assert queue.get(timeout=0) is None
    queue.add("a")  # changed while being processed: not handed out twice at once, but again after done
    assert queue.get(timeout=0) is None
    queue.done("a")
    assert queue.get(timeout=0) == "a"


def test_work_queue_delays_keep_the_earliest_and_backoff_doubles() -> None:
    """delaying_queue.go (an earlier add_after wins); default_rate_limiters.go (5 ms * 2^failures, at most
    1000 s, until Forget) -- the backoff controller-runtime gives a reconcile that failed."""
    ticks = Ticks()
    queue = WorkQueue(ticks)
    queue.add_after("a", 60)
    queue.add_after("a", 30)
    queue.add_after("a", 90)
    ticks.now += 29
    assert queue.get(timeout=0) is None
    ticks.now += 1
    assert queue.get(timeout=0) == "a"
    queue.done("a")
    assert [queue.add_rate_limited("b") for _ in range(3)] == [0.005, 0.01, 0.02]
    queue.forget("b")
    assert queue.add_rate_limited("b") == 0.005
    for _ in range(30):
        delay = queue.add_rate_limited("c")
    assert delay == 1000.0


def test_a_failed_reconcile_is_retried_with_backoff_and_requeue_after_is_honoured() -> None:
    """controller-runtime v0.11.0 pkg/internal/controller/controller.go reconcileHandler: error ->
    AddRateLimited; RequeueAfter -> Forget and AddAfter."""
    ticks = Ticks()
    queue = WorkQueue(ticks)
    queue.add("k")
    outcomes = iter([ApiException(status=500), 42.0])

    def reconcile(key: object) -> float | None:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    class Stop(Exception):
        pass

    delays: list[float] = []
    original_done = queue.done

    def done(key: object) -> None:
        original_done(key)
        delays.append(queue.ready_at[key] - ticks.now)
        ticks.now = queue.ready_at[key]  # time passes until the key is due
        if len(delays) == 2:
            raise Stop

    queue.done = done  # type: ignore[method-assign]
    with pytest.raises(Stop):
        manager.work(queue, reconcile)
    assert delays == [pytest.approx(0.005), pytest.approx(42.0)]
    assert "k" not in queue.failures
