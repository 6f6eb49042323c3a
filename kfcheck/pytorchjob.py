"""PyTorchJob (Kubeflow training operator, kubeflow.org/v1): run, and check what the operator promises."""

from __future__ import annotations

from typing import Any

from kfcheck import jobs, training_logs
from kfcheck.capabilities import Api
from kfcheck.config import Settings
from kfcheck.kube import Kube

API = Api(jobs.API_VERSION, "PyTorchJob", "the Kubeflow training operator")
KIND, PLURAL, CONTAINER, DEFAULT_PORT = "PyTorchJob", "pytorchjobs", "pytorch", 23456


def submit_training(kube: Kube, settings: Settings, namespace: str, name: str, workers: int) -> dict[str, Any]:
    args = ["--epochs", str(settings.epochs)]
    return jobs.create(
        kube, "pytorchjob", namespace, name=name, image=settings.pytorch_image, workers=workers, args=args
    )


def submit_wiring_check(kube: Kube, settings: Settings, namespace: str, name: str, workers: int) -> dict[str, Any]:
    return jobs.create(
        kube, "pytorchjob-wiring", namespace,
        name=name, image=settings.busybox_image, workers=workers, deadline=settings.timeout,
    )  # fmt: skip


def wait_succeeded(kube: Kube, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    return jobs.wait_succeeded(kube, KIND, PLURAL, namespace, name, timeout)


def check_replicas_completed(kube: Kube, namespace: str, name: str, workers: int, timeout: float) -> None:
    pods = jobs.replica_pods(kube, namespace, name)
    kinds = sorted(jobs.replica_type(pod) for pod in pods)
    expected = sorted(["master"] + ["worker"] * workers)
    assert kinds == expected, f"replica pods {[p.metadata.name for p in pods]} are {kinds}, expected {expected}"
    jobs.wait_replicas_completed(kube, namespace, name, pods, timeout)


def check_services(kube: Kube, namespace: str, name: str, workers: int) -> None:
    """One headless Service per replica, named <job>-<type>-<index>, on the job's port."""
    found = jobs.services(kube, namespace, name)
    expected = [f"{name}-master-0"] + [f"{name}-worker-{i}" for i in range(workers)]
    missing = [svc for svc in expected if svc not in found]
    assert not missing, f"missing Services {missing}; found {sorted(found)}"
    for svc_name in expected:
        spec = found[svc_name].spec
        assert spec.cluster_ip == "None", f"Service {svc_name} is not headless (clusterIP {spec.cluster_ip})"
        ports = [port.port for port in spec.ports]
        assert DEFAULT_PORT in ports, f"Service {svc_name} ports {ports} lack {DEFAULT_PORT}"


def check_environment(kube: Kube, namespace: str, name: str, workers: int) -> None:
    """Each replica printed MASTER_ADDR, MASTER_PORT, WORLD_SIZE and RANK as the operator promises."""
    world_size = workers + 1
    for pod in jobs.replica_pods(kube, namespace, name):
        log = jobs.pod_log(kube, namespace, pod.metadata.name, CONTAINER)
        env = dict(line.split("=", 1) for line in log.splitlines() if "=" in line)
        replica = jobs.replica_type(pod)
        index = int(pod.metadata.labels.get("training.kubeflow.org/replica-index", "0"))
        expected = {
            "MASTER_ADDR": f"{name}-master-0",
            "MASTER_PORT": str(DEFAULT_PORT),
            "WORLD_SIZE": str(world_size),
            "RANK": "0" if replica == "master" else str(index + 1),
        }
        wrong = {key: env.get(key) for key, value in expected.items() if env.get(key) != value}
        assert not wrong, f"pod {pod.metadata.name} has {wrong}, expected {expected}"
        if replica == "master":
            reached = [f"worker rank {rank} reached the master" for rank in range(1, world_size)]
            missing = [line for line in reached if line not in log]
            assert not missing, f"the master never heard from: {missing}"


def master_log(kube: Kube, namespace: str, name: str) -> str:
    return jobs.pod_log(kube, namespace, f"{name}-master-0", CONTAINER)


def check_accuracy(kube: Kube, namespace: str, name: str, minimum: float) -> float:
    log = master_log(kube, namespace, name)
    assert training_logs.pytorch_progress_lines(log), "the master printed no 'Train Epoch:' progress lines"
    accuracy = training_logs.pytorch_accuracy(log)
    data = training_logs.data_description(log)
    assert accuracy >= minimum, f"accuracy {accuracy:.4f} is below {minimum:.4f} (measured on {data})"
    return accuracy
