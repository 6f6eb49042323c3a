"""TrainJob (Kubeflow Trainer v2, trainer.kubeflow.org/v1alpha1): run, and check what Trainer promises.

A TrainJob names a training runtime (here upstream's `torch-distributed` ClusterTrainingRuntime);
Trainer turns it into a JobSet (jobset.x-k8s.io) with one indexed Job of `numNodes` pods, whose trainer
container is given torchrun's settings as PET_* variables (PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK,
PET_MASTER_ADDR, PET_MASTER_PORT) and whose node 0 is reachable through the JobSet's headless Service.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kfcheck import manifests, training_logs, wait
from kfcheck.config import Settings
from kfcheck.kube import Kube

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
JOBSET_GROUP, JOBSET_VERSION, JOBSETS = "jobset.x-k8s.io", "v1alpha2", "jobsets"
RUNTIME = "torch-distributed"
CONTAINER = "node"  # the trainer container of the torch runtimes
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"
NODE_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
TORCHRUN_VARIABLES = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT")
PROCESSES_PER_NODE = 1  # the fixtures' numProcPerNode


def api_served(kube: Kube) -> bool:
    """Whether the cluster serves trainer.kubeflow.org/v1alpha1 (API discovery, as kubectl does)."""
    groups = client.ApisApi(kube.api).get_api_versions().groups or []
    return any(
        group.name == GROUP and any(version.version == VERSION for version in group.versions) for group in groups
    )


def _list(kube: Kube, namespace: str, **kwargs: Any) -> Any:
    return kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kwargs)


def _lister(kube: Kube) -> Any:
    return functools.partial(_list, kube)


def submit_wiring_check(
    kube: Kube, settings: Settings, namespace: str, name: str, nodes: int, *, suspend: bool = False
) -> dict[str, Any]:
    return manifests.apply_fixture(
        kube, "trainjob-wiring", namespace,
        name=name, runtime=RUNTIME, image=settings.pytorch_image, nodes=nodes, suspend=suspend,
    )[0]  # fmt: skip


def submit_training(kube: Kube, settings: Settings, namespace: str, name: str, nodes: int) -> dict[str, Any]:
    args = ["--epochs", str(settings.epochs)]
    return manifests.apply_fixture(
        kube, "trainjob", namespace, name=name, runtime=RUNTIME, image=settings.pytorch_image, nodes=nodes, args=args
    )[0]


def submit_with_unknown_runtime(
    kube: Kube, settings: Settings, namespace: str, name: str, runtime: str
) -> dict[str, Any]:
    """Submits a TrainJob naming `runtime`; returns {"refused": message} or {"created": the object}."""
    try:
        created = manifests.apply_fixture(
            kube, "trainjob-wiring", namespace,
            name=name, runtime=runtime, image=settings.pytorch_image, nodes=1, suspend=False,
        )[0]  # fmt: skip
    except ApiException as error:
        if not 400 <= (error.status or 0) < 500:
            raise
        body = error.body.decode() if isinstance(error.body, bytes) else str(error.body or error.reason)
        message = str(json.loads(body).get("message", body)) if body.startswith("{") else body
        return {"refused": f"HTTP {error.status}: {message}"}
    return {"created": created}


def _failure(trainjob: dict[str, Any]) -> str | None:
    for condition in (trainjob.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f"the TrainJob failed: {condition.get('reason')}: {condition.get('message')}"
    return None


def wait_complete(kube: Kube, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    return wait.wait_for(
        kube,
        f"{KIND} {namespace}/{name} to complete",
        _lister(kube),
        namespace,
        name,
        done=lambda trainjob: wait.has_condition(trainjob, "Complete"),
        failed=_failure,
        timeout=timeout,
    )


def refusal_cause(kube: Kube, namespace: str, name: str, outcome: dict[str, Any], timeout: float) -> str:
    """Why a TrainJob naming a missing runtime does not run: the API's refusal, or its Failed condition."""
    if "refused" in outcome:
        return str(outcome["refused"])
    finished = wait.wait_for(
        kube,
        f"{KIND} {namespace}/{name} (its runtime does not exist) to fail",
        _lister(kube),
        namespace,
        name,
        done=lambda trainjob: _failure(trainjob) is not None,
        failed=lambda trainjob: "it completed although its runtime does not exist"
        if wait.has_condition(trainjob, "Complete")
        else None,
        timeout=timeout,
    )
    return str(_failure(finished))


def check_refused_for_runtime(cause: str, runtime: str) -> None:
    """The cause names the missing runtime and says it is not found."""
    assert runtime in cause and "not found" in cause.lower(), (
        f"the TrainJob was stopped, but not because runtime '{runtime}' does not exist: {cause}"
    )


def jobset(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = kube.custom.get_namespaced_custom_object(
            JOBSET_GROUP, JOBSET_VERSION, namespace, JOBSETS, name
        )
    except ApiException as error:
        if error.status == 404:
            raise AssertionError(f"TrainJob {name} has no JobSet {namespace}/{name}") from None
        raise
    return found


def check_jobset(kube: Kube, namespace: str, name: str) -> None:
    """The TrainJob's JobSet exists, is owned by it and says it completed."""
    found = jobset(kube, namespace, name)
    owners = [(ref.get("kind"), ref.get("name")) for ref in found["metadata"].get("ownerReferences") or []]
    assert (KIND, name) in owners, f"JobSet {name} is not owned by TrainJob {name}: owners {owners}"
    assert wait.has_condition(found, "Completed"), f"JobSet {name} did not complete: {wait.describe(found)}"


def node_pods(kube: Kube, namespace: str, name: str) -> list[Any]:
    """The TrainJob's trainer pods, by node rank (their Job completion index); the last attempt of each."""
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    by_index: dict[int, Any] = {}
    for pod in sorted(pods, key=lambda p: p.metadata.creation_timestamp):
        by_index[int(pod.metadata.labels.get(NODE_INDEX_LABEL, "-1"))] = pod
    return [by_index[index] for index in sorted(by_index)]


def check_nodes_completed(kube: Kube, namespace: str, name: str, nodes: int) -> list[Any]:
    pods = node_pods(kube, namespace, name)
    indexes = [int(pod.metadata.labels.get(NODE_INDEX_LABEL, "-1")) for pod in pods]
    assert indexes == list(range(nodes)), f"node pods {[p.metadata.name for p in pods]} have indexes {indexes}"
    phases = {pod.metadata.name: pod.status.phase for pod in pods}
    assert all(phase == "Succeeded" for phase in phases.values()), f"node pods not all Succeeded: {phases}"
    return pods


def _log(kube: Kube, namespace: str, pod: Any) -> str:
    return kube.core.read_namespaced_pod_log(pod.metadata.name, namespace, container=CONTAINER)


def check_torchrun_environment(kube: Kube, namespace: str, name: str, nodes: int) -> None:
    """Each node printed the PET_* variables Trainer promises torchrun; the master address names node 0's
    pod (hostname.subdomain of the JobSet's headless Service); every node's process got the right sum
    from a gloo all_reduce across all nodes, so they really reached each other there."""
    pods = check_nodes_completed(kube, namespace, name, nodes)
    master = pods[0].spec
    master_host = f"{master.hostname}.{master.subdomain}"
    world_size = nodes * PROCESSES_PER_NODE
    expected_sum = world_size * (world_size + 1) // 2  # each rank contributes rank + 1
    ranks_seen = []
    for rank, pod in enumerate(pods):
        log = _log(kube, namespace, pod)
        env = dict(line.split("=", 1) for line in log.splitlines() if line.startswith("PET_") and "=" in line)
        expected = {
            "PET_NNODES": str(nodes),
            "PET_NPROC_PER_NODE": str(PROCESSES_PER_NODE),
            "PET_NODE_RANK": str(rank),
        }
        wrong = {key: env.get(key) for key, value in expected.items() if env.get(key) != value}
        assert not wrong, f"pod {pod.metadata.name} has {wrong}, expected {expected}"
        missing = [key for key in TORCHRUN_VARIABLES if not env.get(key)]
        assert not missing, f"pod {pod.metadata.name} was not given {missing}"
        address = env["PET_MASTER_ADDR"]
        assert address == master_host or address.startswith(master_host + "."), (
            f"pod {pod.metadata.name}: PET_MASTER_ADDR={address} does not name node 0's pod ({master_host})"
        )
        assert env["PET_MASTER_PORT"].isdigit(), f"pod {pod.metadata.name}: PET_MASTER_PORT={env['PET_MASTER_PORT']}"
        results = [line for line in log.splitlines() if line.startswith("all_reduce:")]
        assert results, f"pod {pod.metadata.name} printed no all_reduce result; its log:\n{log[-2000:]}"
        for line in results:
            values = training_logs.metrics(line)
            assert values.get("world_size") == str(world_size), f"pod {pod.metadata.name}: {line}"
            assert values.get("sum") == str(expected_sum), f"{pod.metadata.name}: {line}, expected sum {expected_sum}"
            ranks_seen.append(int(values["rank"]))
    assert sorted(ranks_seen) == list(range(world_size)), f"all_reduce ranks seen {sorted(ranks_seen)}"


def check_accuracy(kube: Kube, namespace: str, name: str, minimum: float) -> float:
    """Node 0 (global rank 0) printed training progress and the test accuracy."""
    pods = node_pods(kube, namespace, name)
    assert pods, f"TrainJob {name} has no node pods"
    log = _log(kube, namespace, pods[0])
    assert training_logs.pytorch_progress_lines(log), "node 0 printed no 'Train Epoch:' progress lines"
    accuracy = training_logs.pytorch_accuracy(log)
    data = training_logs.data_description(log)
    assert accuracy >= minimum, f"accuracy {accuracy:.4f} is below {minimum:.4f} (measured on {data})"
    return accuracy


def wait_suspended(kube: Kube, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    return wait.wait_for(
        kube,
        f"{KIND} {namespace}/{name} to report itself suspended",
        _lister(kube),
        namespace,
        name,
        done=lambda trainjob: wait.has_condition(trainjob, "Suspended"),
        failed=_failure,
        timeout=timeout,
    )


def check_nothing_runs(kube: Kube, namespace: str, name: str) -> None:
    """A suspended TrainJob: its JobSet and Jobs are suspended and it has no pod."""
    found = jobset(kube, namespace, name)
    suspended = found["spec"].get("suspend")
    assert suspended is True, f"JobSet {name} of the suspended TrainJob is not suspended: spec.suspend={suspended}"
    jobs = client.BatchV1Api(kube.api).list_namespaced_job(namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    running = [job.metadata.name for job in jobs if not job.spec.suspend]
    assert not running, f"Jobs of the suspended TrainJob are not suspended: {running}"
    pods = kube.core.list_namespaced_pod(namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    assert not pods, f"the suspended TrainJob has pods: {[pod.metadata.name for pod in pods]}"


def resume(kube: Kube, namespace: str, name: str) -> None:
    kube.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, {"spec": {"suspend": False}})
