"""PyTorchJob (Kubeflow training operator, kubeflow.org/v1): run, and check what the operator promises.

Names given by the steps ("wiring") are the scenario's names for its jobs (`scenario.name`); counts are
read from the job that was submitted."""

from __future__ import annotations

from typing import Any

from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import jobs, training_logs

API = Api(jobs.API_VERSION, "PyTorchJob", "the Kubeflow training operator")
KIND, PLURAL, CONTAINER, DEFAULT_PORT = "PyTorchJob", "pytorchjobs", "pytorch", 23456
JOB = jobs.JobKind(KIND, PLURAL, "pytorchjob")
submit_wiring_check, wait_succeeded = JOB.submit_wiring_check, JOB.wait_succeeded


def submit_training(scenario: Scenario, name: str, workers: int) -> dict[str, Any]:
    settings = scenario.settings
    return jobs.create(scenario, "pytorchjob", name=scenario.name(name), image=settings.pytorch_image,
                       workers=workers, args=["--epochs", str(settings.epochs)])  # fmt: skip


def _workers(scenario: Scenario, job_name: str) -> int:
    return jobs.replicas(jobs.get(scenario, PLURAL, job_name), "Worker")


def check_replicas_completed(scenario: Scenario, name: str) -> None:
    job_name = scenario.name(name)
    pods = jobs.replica_pods(scenario, job_name)
    kinds = sorted(jobs.replica_type(pod) for pod in pods)
    expected = sorted(["master"] + ["worker"] * _workers(scenario, job_name))
    assert kinds == expected, f"replica pods {[p.metadata.name for p in pods]} are {kinds}, expected {expected}"
    jobs.wait_replicas_completed(scenario, job_name, pods, scenario.settings.timeout)


def check_services(scenario: Scenario, name: str) -> None:
    """One headless Service per replica, named <job>-<type>-<index>, on the job's port."""
    job_name = scenario.name(name)
    found = jobs.services(scenario, job_name)
    expected = [f"{job_name}-master-0"] + [f"{job_name}-worker-{i}" for i in range(_workers(scenario, job_name))]
    missing = [svc for svc in expected if svc not in found]
    assert not missing, f"missing Services {missing}; found {sorted(found)}"
    for svc_name in expected:
        spec = found[svc_name].spec
        assert spec.cluster_ip == "None", f"Service {svc_name} is not headless (clusterIP {spec.cluster_ip})"
        ports = [port.port for port in spec.ports]
        assert DEFAULT_PORT in ports, f"Service {svc_name} ports {ports} lack {DEFAULT_PORT}"


def check_environment(scenario: Scenario, name: str) -> None:
    """Each replica printed MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK as the operator promises."""
    job_name = scenario.name(name)
    world_size = _workers(scenario, job_name) + 1
    for pod in jobs.replica_pods(scenario, job_name):
        log = jobs.pod_log(scenario, pod.metadata.name, CONTAINER)
        env = dict(line.split("=", 1) for line in log.splitlines() if "=" in line)
        replica = jobs.replica_type(pod)
        expected = {
            "MASTER_ADDR": f"{job_name}-master-0",
            "MASTER_PORT": str(DEFAULT_PORT),
            "WORLD_SIZE": str(world_size),
            "RANK": "0" if replica == "master" else str(jobs.replica_index(pod) + 1),
        }
        wrong = {key: env.get(key) for key, value in expected.items() if env.get(key) != value}
        assert not wrong, f"pod {pod.metadata.name} has {wrong}, expected {expected}"
        if replica == "master":
            reached = [f"worker rank {rank} reached the master" for rank in range(1, world_size)]
            missing = [line for line in reached if line not in log]
            assert not missing, f"the master never heard from: {missing}"


def check_accuracy(scenario: Scenario, name: str) -> float:
    """The master's test accuracy, at least the accepted minimum; attached to the report."""
    minimum = scenario.settings.pytorch_min_accuracy
    log = jobs.pod_log(scenario, f"{scenario.name(name)}-master-0", CONTAINER)
    accuracy = training_logs.check_pytorch_accuracy(log, minimum, "the master")
    scenario.attach(f"accuracy={accuracy:.4f} (minimum {minimum})")
    return accuracy
