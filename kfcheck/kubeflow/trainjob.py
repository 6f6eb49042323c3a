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

from kfcheck.core import wait
from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Controller, Scenario
from kfcheck.kubeflow import training_logs

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
JOBSET_GROUP, JOBSET_VERSION, JOBSETS = "jobset.x-k8s.io", "v1alpha2", "jobsets"
RUNTIME = "torch-distributed"
CONTAINER = "node"  # the trainer container of the torch runtimes
JOBSET_LABEL = "jobset.sigs.k8s.io/jobset-name"
NODE_INDEX_LABEL = "batch.kubernetes.io/job-completion-index"
TORCHRUN_VARIABLES = ("PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT")
PROCESSES_PER_NODE = 1  # the fixtures' numProcPerNode
API = Api(f"{GROUP}/{VERSION}", KIND, "Kubeflow Trainer v2")
# kubeflow/manifests (kustomize) labels Trainer's pods name=trainer, JobSet's control-plane=controller-manager;
# upstream's Helm charts label them name=kubeflow-trainer and name=jobset.
# Where both run: kubeflow-system (Trainer's own manifests and charts), kubeflow (kubeflow/manifests' platform overlay)
TRAINER_NS = ("trainer_namespace", "kubeflow_namespace")
TRAINER = Controller("kubeflow-trainer", ("app.kubernetes.io/name in (trainer,kubeflow-trainer)",), TRAINER_NS)
JOBSET = Controller("jobset", ("app.kubernetes.io/name=jobset", "control-plane=controller-manager"), TRAINER_NS)
EVIDENCE = ((f"{GROUP}/{VERSION}", KIND), (f"{JOBSET_GROUP}/{JOBSET_VERSION}", "JobSet"), ("batch/v1", "Job"))


def _list(scenario: Scenario) -> Any:
    def list_trainjobs(namespace: str, **kwargs: Any) -> Any:
        return scenario.kube.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kwargs)

    return list_trainjobs


def _submit(scenario: Scenario, fixture: str, **values: Any) -> dict[str, Any]:
    scenario.uses(TRAINER, *EVIDENCE)
    scenario.uses(JOBSET)
    return scenario.create(fixture, runtime=RUNTIME, image=scenario.settings.pytorch_image, **values)[0]


def submit_wiring_check(scenario: Scenario, name: str, nodes: int, *, suspend: bool = False) -> dict[str, Any]:
    return _submit(scenario, "trainjob-wiring", name=scenario.name(name), nodes=nodes, suspend=suspend)


def submit_training(scenario: Scenario, name: str, nodes: int) -> dict[str, Any]:
    args = ["--epochs", str(scenario.settings.epochs)]
    return _submit(scenario, "trainjob", name=scenario.name(name), nodes=nodes, args=args)


def submit_with_unknown_runtime(scenario: Scenario, name: str, runtime: str) -> None:
    """Submits a TrainJob naming `runtime`; keeps {"refused": message} or {"created": the object} for
    check_refused_for_runtime."""
    scenario.uses(TRAINER, *EVIDENCE)
    try:
        created = scenario.create("trainjob-wiring", name=scenario.name(name), runtime=runtime,
                                  image=scenario.settings.pytorch_image, nodes=1, suspend=False)[0]  # fmt: skip
    except ApiException as error:
        if not 400 <= (error.status or 0) < 500:
            raise
        body = error.body.decode() if isinstance(error.body, bytes) else str(error.body or error.reason)
        message = str(json.loads(body).get("message", body)) if body.startswith("{") else body
        scenario.outcomes["trainjob"] = {"refused": f"HTTP {error.status}: {message}"}
        return
    scenario.outcomes["trainjob"] = {"created": created}


def _failure(trainjob: dict[str, Any]) -> str | None:
    for condition in (trainjob.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f"the TrainJob failed: {condition.get('reason')}: {condition.get('message')}"
    return None


def _wait(scenario: Scenario, name: str, what: str, done: Any, failed: Any = _failure, training: bool = False) -> Any:
    settings = scenario.settings
    return wait.until(scenario.kube, wait.Wait(
        f"{KIND} {scenario.namespace}/{name} {what}", wait.Target(_list(scenario), scenario.namespace, name),
        done=done, failed=failed, timeout=settings.training_timeout if training else settings.timeout,
        pods=wait.Pods.labelled(f"{JOBSET_LABEL}={name}", scenario.owns), progress=training,
    ))  # fmt: skip


def wait_complete(scenario: Scenario, name: str, training: bool = False) -> dict[str, Any]:
    done = functools.partial(wait.has_condition, condition_type="Complete")
    return dict(_wait(scenario, scenario.name(name), "to complete", done, training=training))


def check_refused_for_runtime(scenario: Scenario, name: str, runtime: str) -> None:
    """The TrainJob naming a missing runtime was refused by the API, or failed, and the cause names the
    runtime and says it is not found."""
    outcome = scenario.outcomes["trainjob"]
    if "refused" in outcome:
        cause = str(outcome["refused"])
    else:

        def completed(trainjob: dict[str, Any]) -> str | None:
            return (
                "it completed although its runtime does not exist" if wait.has_condition(trainjob, "Complete") else None
            )

        failed = _wait(scenario, scenario.name(name), "(its runtime does not exist) to fail",
                       lambda trainjob: _failure(trainjob) is not None, failed=completed)  # fmt: skip
        cause = str(_failure(failed))
    assert runtime in cause and "not found" in cause.lower(), (
        f"the TrainJob was stopped, but not because runtime '{runtime}' does not exist: {cause}"
    )
    scenario.attach(cause)


def jobset(scenario: Scenario, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = scenario.kube.custom.get_namespaced_custom_object(
            JOBSET_GROUP, JOBSET_VERSION, scenario.namespace, JOBSETS, name
        )
    except ApiException as error:
        if error.status == 404:
            raise AssertionError(f"TrainJob {name} has no JobSet {scenario.namespace}/{name}") from None
        raise
    return found


def check_jobset(scenario: Scenario, name: str) -> None:
    """The TrainJob's JobSet exists, is owned by it and says it completed."""
    name = scenario.name(name)
    found = jobset(scenario, name)
    owners = [(ref.get("kind"), ref.get("name")) for ref in found["metadata"].get("ownerReferences") or []]
    assert (KIND, name) in owners, f"JobSet {name} is not owned by TrainJob {name}: owners {owners}"
    assert wait.has_condition(found, "Completed"), f"JobSet {name} did not complete: {wait.describe(found)}"


def _nodes(scenario: Scenario, name: str) -> int:
    """How many nodes the submitted TrainJob asked for."""
    trainjob = scenario.kube.custom.get_namespaced_custom_object(GROUP, VERSION, scenario.namespace, PLURAL, name)
    return int(trainjob["spec"]["trainer"]["numNodes"])


def node_pods(scenario: Scenario, name: str) -> list[Any]:
    """The TrainJob's trainer pods, by node rank (their Job completion index); the last attempt of each."""
    selector = f"{JOBSET_LABEL}={name}"
    pods = scenario.kube.core.list_namespaced_pod(scenario.namespace, label_selector=selector).items
    by_index: dict[int, Any] = {}
    for pod in sorted(pods, key=lambda p: p.metadata.creation_timestamp):
        by_index[int(pod.metadata.labels.get(NODE_INDEX_LABEL, "-1"))] = pod
    return [by_index[index] for index in sorted(by_index)]


def check_nodes_completed(scenario: Scenario, name: str, nodes: int) -> list[Any]:
    pods = node_pods(scenario, name)
    indexes = [int(pod.metadata.labels.get(NODE_INDEX_LABEL, "-1")) for pod in pods]
    assert indexes == list(range(nodes)), f"node pods {[p.metadata.name for p in pods]} have indexes {indexes}"
    phases = {pod.metadata.name: pod.status.phase for pod in pods}
    assert all(phase == "Succeeded" for phase in phases.values()), f"node pods not all Succeeded: {phases}"
    return pods


def _log(scenario: Scenario, pod: Any) -> str:
    return str(scenario.kube.core.read_namespaced_pod_log(pod.metadata.name, scenario.namespace, container=CONTAINER))


def _torchrun_env(scenario: Scenario, pod: Any, log: str, nodes: int, rank: int, master_host: str) -> None:
    env = dict(line.split("=", 1) for line in log.splitlines() if line.startswith("PET_") and "=" in line)
    expected = {"PET_NNODES": str(nodes), "PET_NPROC_PER_NODE": str(PROCESSES_PER_NODE), "PET_NODE_RANK": str(rank)}
    wrong = {key: env.get(key) for key, value in expected.items() if env.get(key) != value}
    assert not wrong, f"pod {pod.metadata.name} has {wrong}, expected {expected}"
    missing = [key for key in TORCHRUN_VARIABLES if not env.get(key)]
    assert not missing, f"pod {pod.metadata.name} was not given {missing}"
    address = env["PET_MASTER_ADDR"]
    assert address == master_host or address.startswith(master_host + "."), (
        f"pod {pod.metadata.name}: PET_MASTER_ADDR={address} does not name node 0's pod ({master_host})"
    )
    assert env["PET_MASTER_PORT"].isdigit(), f"pod {pod.metadata.name}: PET_MASTER_PORT={env['PET_MASTER_PORT']}"


def check_torchrun_environment(scenario: Scenario, name: str) -> None:
    """Each node printed the PET_* variables Trainer promises torchrun; the master address names node 0's
    pod (hostname.subdomain of the JobSet's headless Service); every node's process got the right sum
    from a gloo all_reduce across all nodes, so they really reached each other there."""
    name = scenario.name(name)
    nodes = _nodes(scenario, name)
    pods = check_nodes_completed(scenario, name, nodes)
    master = pods[0].spec
    world_size = nodes * PROCESSES_PER_NODE
    expected_sum = world_size * (world_size + 1) // 2  # each rank contributes rank + 1
    ranks_seen = []
    for rank, pod in enumerate(pods):
        log = _log(scenario, pod)
        _torchrun_env(scenario, pod, log, nodes, rank, f"{master.hostname}.{master.subdomain}")
        results = [line for line in log.splitlines() if line.startswith("all_reduce:")]
        assert results, f"pod {pod.metadata.name} printed no all_reduce result; its log:\n{log[-2000:]}"
        for line in results:
            values = training_logs.metrics(line)
            assert values.get("world_size") == str(world_size), f"pod {pod.metadata.name}: {line}"
            assert values.get("sum") == str(expected_sum), f"{pod.metadata.name}: {line}, expected sum {expected_sum}"
            ranks_seen.append(int(values["rank"]))
    assert sorted(ranks_seen) == list(range(world_size)), f"all_reduce ranks seen {sorted(ranks_seen)}"


def check_accuracy(scenario: Scenario, name: str) -> float:
    """Node 0 (global rank 0) printed training progress and the test accuracy; attached to the report."""
    minimum = scenario.settings.pytorch_min_accuracy
    pods = node_pods(scenario, scenario.name(name))
    assert pods, f"TrainJob {scenario.name(name)} has no node pods"
    accuracy = training_logs.check_pytorch_accuracy(_log(scenario, pods[0]), minimum, "node 0")
    scenario.attach(f"accuracy={accuracy:.4f} (minimum {minimum})")
    return accuracy


def check_suspended(scenario: Scenario, name: str) -> None:
    """A suspended TrainJob reports itself suspended; its JobSet and Jobs are suspended and it has no pod."""
    name = scenario.name(name)
    _wait(
        scenario, name, "to report itself suspended", functools.partial(wait.has_condition, condition_type="Suspended")
    )
    found = jobset(scenario, name)
    suspended = found["spec"].get("suspend")
    assert suspended is True, f"JobSet {name} of the suspended TrainJob is not suspended: spec.suspend={suspended}"
    batch = client.BatchV1Api(scenario.kube.api)
    jobs = batch.list_namespaced_job(scenario.namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    running = [job.metadata.name for job in jobs if not job.spec.suspend]
    assert not running, f"Jobs of the suspended TrainJob are not suspended: {running}"
    pods = scenario.kube.core.list_namespaced_pod(scenario.namespace, label_selector=f"{JOBSET_LABEL}={name}").items
    assert not pods, f"the suspended TrainJob has pods: {[pod.metadata.name for pod in pods]}"


def resume(scenario: Scenario, name: str) -> None:
    scenario.kube.custom.patch_namespaced_custom_object(
        GROUP, VERSION, scenario.namespace, PLURAL, scenario.name(name), {"spec": {"suspend": False}}
    )
