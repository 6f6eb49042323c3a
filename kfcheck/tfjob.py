"""TFJob (Kubeflow training operator, kubeflow.org/v1): run, and check TF_CONFIG and the results."""

from __future__ import annotations

import json
from typing import Any

from kfcheck import jobs, training_logs
from kfcheck.capabilities import Api
from kfcheck.config import Settings
from kfcheck.kube import Kube

API = Api(jobs.API_VERSION, "TFJob", "the Kubeflow training operator")
KIND, PLURAL, CONTAINER, DEFAULT_PORT = "TFJob", "tfjobs", "tensorflow", 2222


def submit_training(kube: Kube, settings: Settings, namespace: str, name: str, workers: int) -> dict[str, Any]:
    args = ["--train-steps", str(settings.tf_train_steps)]
    return jobs.create(kube, "tfjob", namespace, name=name, image=settings.tf_image, workers=workers, args=args)


def submit_wiring_check(kube: Kube, settings: Settings, namespace: str, name: str, workers: int) -> dict[str, Any]:
    return jobs.create(kube, "tfjob-wiring", namespace, name=name, image=settings.busybox_image, workers=workers)


def wait_succeeded(kube: Kube, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    return jobs.wait_succeeded(kube, KIND, PLURAL, namespace, name, timeout)


def check_workers_completed(kube: Kube, namespace: str, name: str, workers: int, timeout: float) -> None:
    pods = [pod for pod in jobs.replica_pods(kube, namespace, name) if jobs.replica_type(pod) == "worker"]
    assert len(pods) == workers, f"{len(pods)} worker pods, expected {workers}"
    jobs.wait_replicas_completed(kube, namespace, name, pods, timeout)


def check_tf_config(kube: Kube, namespace: str, name: str, workers: int) -> None:
    """Every replica's TF_CONFIG lists every replica's Service host:port and names its own task."""
    expected_cluster = {
        "ps": [f"{name}-ps-0.{namespace}.svc:{DEFAULT_PORT}"],
        "worker": [f"{name}-worker-{i}.{namespace}.svc:{DEFAULT_PORT}" for i in range(workers)],
    }
    pods = jobs.replica_pods(kube, namespace, name)
    assert len(pods) == workers + 1, f"{len(pods)} replica pods, expected {workers + 1}"
    for pod in pods:
        log = jobs.pod_log(kube, namespace, pod.metadata.name, CONTAINER)
        line = training_logs.last_line_with(log, "TF_CONFIG")
        config = json.loads(line.split("=", 1)[1])
        replica = jobs.replica_type(pod)
        index = int(pod.metadata.labels.get("training.kubeflow.org/replica-index", "0"))
        assert config.get("cluster") == expected_cluster, f"{pod.metadata.name}: cluster {config.get('cluster')}"
        assert config.get("task") == {"type": replica, "index": index}, (
            f"{pod.metadata.name}: task {config.get('task')}"
        )
        found = jobs.services(kube, namespace, name)
        assert f"{name}-{replica}-{index}" in found, f"no Service {name}-{replica}-{index}; found {sorted(found)}"


def check_results(
    kube: Kube, namespace: str, name: str, max_cross_entropy: float, min_accuracy: float
) -> dict[str, float]:
    """The chief's (worker 0's) validation cross entropy and accuracy, checked against the limits."""
    log = jobs.pod_log(kube, namespace, f"{name}-worker-0", CONTAINER)
    results = training_logs.tensorflow_results(log)
    data = training_logs.data_description(log)
    assert results["cross_entropy"] <= max_cross_entropy, (
        f"validation cross entropy {results['cross_entropy']:.4f} is above {max_cross_entropy:.4f} (measured on {data})"
    )
    assert results["accuracy"] >= min_accuracy, (
        f"validation accuracy {results['accuracy']:.4f} is below {min_accuracy:.4f} (measured on {data})"
    )
    return results
