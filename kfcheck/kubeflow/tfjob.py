"""TFJob (Kubeflow training operator, kubeflow.org/v1): run, and check TF_CONFIG and the results.

A job the steps call "wiring" is named by the scenario (`scenario.name`); how many workers and parameter
servers to expect is read from the TFJob as it was submitted."""

from __future__ import annotations

import json
from typing import Any

from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import jobs, training_logs

API = Api(jobs.API_VERSION, "TFJob", "the Kubeflow training operator")
KIND, PLURAL, CONTAINER, DEFAULT_PORT = "TFJob", "tfjobs", "tensorflow", 2222
JOB = jobs.JobKind(KIND, PLURAL, "tfjob")
submit_wiring_check, wait_succeeded = JOB.submit_wiring_check, JOB.wait_succeeded


def submit_training(scenario: Scenario, name: str, workers: int) -> dict[str, Any]:
    settings = scenario.settings
    return jobs.create(scenario, "tfjob", name=scenario.name(name), image=settings.tf_image, workers=workers,
                       args=["--train-steps", str(settings.tf_train_steps)])  # fmt: skip


def check_workers_completed(scenario: Scenario, name: str) -> None:
    job_name = scenario.name(name)
    workers = jobs.replicas(jobs.get(scenario, PLURAL, job_name), "Worker")
    pods = [pod for pod in jobs.replica_pods(scenario, job_name) if jobs.replica_type(pod) == "worker"]
    assert len(pods) == workers, f"{len(pods)} worker pods, expected {workers}"
    jobs.wait_replicas_completed(scenario, job_name, pods, scenario.settings.timeout)


def check_tf_config(scenario: Scenario, name: str) -> None:
    """Every replica's TF_CONFIG lists every replica's Service host:port and names its own task."""
    job_name, namespace = scenario.name(name), scenario.namespace
    workers = jobs.replicas(jobs.get(scenario, PLURAL, job_name), "Worker")
    expected_cluster = {
        "ps": [f"{job_name}-ps-0.{namespace}.svc:{DEFAULT_PORT}"],
        "worker": [f"{job_name}-worker-{i}.{namespace}.svc:{DEFAULT_PORT}" for i in range(workers)],
    }
    pods = jobs.replica_pods(scenario, job_name)
    assert len(pods) == workers + 1, f"{len(pods)} replica pods, expected {workers + 1}"
    found = jobs.services(scenario, job_name)
    for pod in pods:
        log = jobs.pod_log(scenario, pod.metadata.name, CONTAINER)
        config = json.loads(training_logs.last_line_with(log, "TF_CONFIG").split("=", 1)[1])
        replica, index = jobs.replica_type(pod), jobs.replica_index(pod)
        assert config.get("cluster") == expected_cluster, f"{pod.metadata.name}: cluster {config.get('cluster')}"
        assert config.get("task") == {"type": replica, "index": index}, (
            f"{pod.metadata.name}: task {config.get('task')}"
        )
        assert f"{job_name}-{replica}-{index}" in found, (
            f"no Service {job_name}-{replica}-{index}; found {sorted(found)}"
        )


def check_workers_reached_ps(scenario: Scenario, name: str) -> None:
    """Every worker reached the parameter server at the host:port its TF_CONFIG names: the parameter server, once
    all replicas have completed (the job succeeds when worker 0 does), printed what each worker sent."""
    job_name = scenario.name(name)
    jobs.wait_replicas_completed(scenario, job_name, jobs.replica_pods(scenario, job_name), scenario.settings.timeout)
    workers = jobs.replicas(jobs.get(scenario, PLURAL, job_name), "Worker")
    log = jobs.pod_log(scenario, f"{job_name}-ps-0", CONTAINER)
    missing = [line for line in (f"worker {index} reached the ps" for index in range(workers)) if line not in log]
    assert not missing, f"the parameter server never heard from: {missing}"


def check_results(scenario: Scenario, name: str) -> dict[str, float]:
    """The chief's (worker 0's) validation cross entropy and accuracy within the limits; attached to the report."""
    settings = scenario.settings
    log = jobs.pod_log(scenario, f"{scenario.name(name)}-worker-0", CONTAINER)
    results = training_logs.tensorflow_results(log)
    data = training_logs.data_description(log)
    assert results["cross_entropy"] <= settings.tf_max_cross_entropy, (
        f"validation cross entropy {results['cross_entropy']:.4f} is above {settings.tf_max_cross_entropy:.4f} "
        f"(measured on {data})"
    )
    assert results["accuracy"] >= settings.tf_min_accuracy, (
        f"validation accuracy {results['accuracy']:.4f} is below {settings.tf_min_accuracy:.4f} (measured on {data})"
    )
    scenario.attach(
        f"validation_cross_entropy={results['cross_entropy']:.4f} (max {settings.tf_max_cross_entropy}) "
        f"accuracy={results['accuracy']:.4f} (min {settings.tf_min_accuracy})"
    )
    return results
