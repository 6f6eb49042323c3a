"""What features/upgrade.feature keeps in flight through a Kubeflow upgrade, and checks after it and after the
rollback: training jobs caught training, a suspended TrainJob, a Ready notebook server with its PodDefault, a
PodDefault for pods made later. Each step that makes something reuses its component's own step (fixture and
settings of that feature's scenario) through in_flight.once, and records what the later phases compare with: the
pods and when they started, and the pods the controllers acting for it ran in then (in_flight_timeline)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from kfcheck.core import namespaces, wait
from kfcheck.core.capabilities import Api
from kfcheck.core.scenario import Controller, Scenario
from kfcheck.kubeflow import in_flight, jobs, notebook, poddefault, pytorchjob, tfjob, trainjob
from kfcheck.kubeflow import in_flight_timeline as timeline


@dataclass(frozen=True)
class Kind:
    """A Kubeflow kind the feature keeps in flight: its API, its plural, the controllers acting for it and, for a
    job, the condition it reports when it has finished well."""

    api: Api
    plural: str
    controllers: tuple[Controller, ...]
    finished: str = ""

    @property
    def group(self) -> str:
        return self.api.api_version.split("/")[0]

    @property
    def version(self) -> str:
        return self.api.api_version.split("/")[1]


KINDS = {
    "PyTorchJob": Kind(pytorchjob.API, pytorchjob.PLURAL, (jobs.TRAINING_OPERATOR,), "Succeeded"),
    "TFJob": Kind(tfjob.API, tfjob.PLURAL, (jobs.TRAINING_OPERATOR,), "Succeeded"),
    "TrainJob": Kind(trainjob.API, trainjob.PLURAL, (trainjob.TRAINER, trainjob.JOBSET), "Complete"),
    "Notebook": Kind(notebook.API, "notebooks", (notebook.CONTROLLER,)),
    "PodDefault": Kind(poddefault.API, poddefault.PLURAL, (poddefault.WEBHOOK,)),
}
TRAINER_JOB = "node"  # the replicated job of the torch runtimes' trainer: its Job is <trainjob>-node-0


def kind_of(kind: str) -> Kind:
    if kind not in KINDS:
        raise AssertionError(f"features/upgrade.feature names the kind {kind!r}; the kinds known: {', '.join(KINDS)}")
    return KINDS[kind]


def uses(scenario: Scenario, kind: Kind) -> None:
    for controller in kind.controllers:
        scenario.uses(controller)


def require_served(scenario: Scenario, kind: str) -> None:
    """'the cluster has served <kind>s since before the upgrade' (in_flight.require)."""
    in_flight.require(scenario, kind_of(kind).api)


def get(scenario: Scenario, kind: str, name: str, version: str = "") -> dict[str, Any]:
    """The scenario's object `name` of the kind, as the cluster holds it (at `version`, else the kind's own)."""
    spec = kind_of(kind)
    return dict(scenario.kube.custom.get_namespaced_custom_object(
        spec.group, version or spec.version, scenario.namespace, spec.plural, scenario.name(name)))  # fmt: skip


def _json(scenario: Scenario, obj: Any) -> dict[str, Any]:
    return dict(scenario.kube.api.sanitize_for_serialization(obj))


# --- training jobs caught training -------------------------------------------------------------------------------


def pytorchjob_training(scenario: Scenario, name: str, workers: int) -> None:
    _training(scenario, "PyTorchJob", name, lambda: pytorchjob.submit_training(scenario, name, workers))


def tfjob_training(scenario: Scenario, name: str, workers: int) -> None:
    _training(scenario, "TFJob", name, lambda: tfjob.submit_training(scenario, name, workers))


def trainjob_training(scenario: Scenario, name: str, nodes: int) -> None:
    _training(scenario, "TrainJob", name, lambda: trainjob.submit_training(scenario, name, nodes))


def _training(scenario: Scenario, kind: str, name: str, submit: Callable[[], dict[str, Any]]) -> None:
    """Submits the job as its own feature's MNIST scenario does and waits until every pod of it runs (is training);
    the pods and the controllers' pods of that moment are recorded for the later phases."""
    spec = kind_of(kind)
    uses(scenario, spec)

    def act() -> dict[str, Any]:
        job = submit()
        pods = [timeline.pod_facts(pod) for pod in _wait_training(scenario, kind, job)]
        started = ", ".join(f"{pod['name']} (started {pod['started']})" for pod in pods)
        scenario.attach(f"{kind} {scenario.namespace}/{job['metadata']['name']} is training: {started}")
        return {"created": timeline.iso(job["metadata"]["creationTimestamp"]), "pods": pods,
                "controllers": timeline.controller_pods(scenario, spec.controllers),
                "recorded": in_flight.server_now(scenario)}  # fmt: skip

    in_flight.once(scenario, f"training {name}", act)


def _wait_training(scenario: Scenario, kind: str, job: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pod of the job, once each runs: by the training operator's names (<job>-<type>-<index>), or for a
    TrainJob once its trainer Job has all its pods ready (their names are the Job's)."""
    name = job["metadata"]["name"]
    if kind == "TrainJob":
        nodes = int(job["spec"]["trainer"]["numNodes"])
        _wait_job_ready(scenario, f"{name}-{TRAINER_JOB}-0", name, nodes)
        names = [pod.metadata.name for pod in trainjob.node_pods(scenario, name)]
    else:
        specs = next(value for key, value in job["spec"].items() if key.endswith("ReplicaSpecs"))
        names = [f"{name}-{replica_type.lower()}-{index}" for replica_type, replica in specs.items()
                 for index in range(int(replica.get("replicas", 1)))]  # fmt: skip
    return [_wait_running(scenario, pod_name) for pod_name in names]


def _wait_job_ready(scenario: Scenario, job_name: str, trainjob_name: str, pods: int) -> None:
    kube, namespace = scenario.kube, scenario.namespace
    wait.until(kube, wait.Wait(
        f"Job {namespace}/{job_name} of TrainJob {trainjob_name} to have {pods} pods ready",
        wait.Target(client.BatchV1Api(kube.api).list_namespaced_job, namespace, job_name),
        done=lambda job: int((job.get("status") or {}).get("ready") or 0) >= pods, timeout=scenario.settings.timeout,
        pods=wait.Pods.labelled(f"{trainjob.JOBSET_LABEL}={trainjob_name}", scenario.owns),
    ))  # fmt: skip


def _wait_running(scenario: Scenario, pod_name: str) -> dict[str, Any]:
    def not_training(pod: dict[str, Any]) -> str | None:
        if wait.pod_succeeded(pod):
            return (f"pod {pod_name} had finished before it was seen training, so nothing of it would be in flight "
                    "through the upgrade: train longer (-u epochs=, -u tf_train_steps=)")  # fmt: skip
        return wait.pod_failure(pod)

    kube, namespace = scenario.kube, scenario.namespace
    return wait.until(kube, wait.Wait(
        f"pod {namespace}/{pod_name} to be running", wait.Target(kube.core.list_namespaced_pod, namespace, pod_name),
        done=lambda pod: (pod.get("status") or {}).get("phase") == "Running", failed=not_training,
        timeout=scenario.settings.timeout, pods=wait.Pods.the_object(scenario.owns),
    ))  # fmt: skip


def _job_pods(scenario: Scenario, kind: str, job_name: str) -> list[dict[str, Any]]:
    if kind == "TrainJob":
        selector = f"{trainjob.JOBSET_LABEL}={job_name}"
        pods = scenario.kube.core.list_namespaced_pod(scenario.namespace, label_selector=selector).items
    else:
        pods = jobs.replica_pods(scenario, job_name)
    return [_json(scenario, pod) for pod in pods]


def _finished_at(job: dict[str, Any], condition: str) -> str:
    for found in (job.get("status") or {}).get("conditions") or []:
        if found.get("type") == condition and found.get("status") == "True":
            return timeline.iso(found.get("lastTransitionTime"))
    return ""


def check_trained_in_same_pods(scenario: Scenario, kind: str, name: str) -> None:
    """The job finished well in the pods it was training in before the upgrade: no pod of it is new (its training
    was not started again) and none restarted since. Its timeline is attached (in_flight_timeline)."""
    spec, entry = kind_of(kind), in_flight.recorded(scenario, f"training {name}")
    job = get(scenario, kind, name)
    job_name, facts = job["metadata"]["name"], entry["facts"]
    finished = _finished_at(job, spec.finished)
    now = [timeline.pod_facts(pod) for pod in _job_pods(scenario, kind, job_name)]
    before = {pod["uid"]: pod for pod in facts["pods"]}
    events = [(facts["created"], f"{kind} {job_name} created"), (facts["recorded"], "recorded as training, before "
              "the upgrade")] + [(pod["started"], f"pod {pod['name']} started") for pod in facts["pods"]]  # fmt: skip
    events += [(finished, f"{kind} {job_name} {spec.finished}")] if finished else []
    busy = (facts["created"], finished)  # in flight from its making until it finished
    current = timeline.controller_pods(scenario, spec.controllers)
    scenario.attach(timeline.story(f"{kind} {job_name}", events, facts["controllers"], current, busy))
    assert finished, f"{kind} {scenario.namespace}/{job_name} has not {spec.finished.lower()}: {wait.describe(job)}"
    assert now, f"{kind} {job_name} has no pod left to show where it trained"
    new = [pod["name"] for pod in now if pod["uid"] not in before]
    assert not new, (f"{kind} {job_name} has pods it did not have before the upgrade, so its training was started "
                     f"again: {new} (before the upgrade: {[pod['name'] for pod in facts['pods']]})")  # fmt: skip
    restarted = [f"{pod['name']} ({before[pod['uid']]['restarts']} restarts before the upgrade, {pod['restarts']} now)"
                 for pod in now if pod["restarts"] != before[pod["uid"]]["restarts"]]  # fmt: skip
    assert not restarted, f"pods of {kind} {job_name} restarted since before the upgrade: {restarted}"


# --- a TrainJob suspended before the upgrade ----------------------------------------------------------------------


def trainjob_suspended(scenario: Scenario, name: str, nodes: int) -> None:
    uses(scenario, KINDS["TrainJob"])

    def act() -> None:
        trainjob.submit_wiring_check(scenario, name, nodes, suspend=True)
        trainjob.check_suspended(scenario, name)

    in_flight.once(scenario, f"suspended trainjob {name}", act)


def resume_trainjob(scenario: Scenario, name: str) -> None:
    """The TrainJob still reports itself suspended and runs no pod after the upgrade; then it is resumed."""
    uses(scenario, KINDS["TrainJob"])

    def act() -> None:
        trainjob.check_suspended(scenario, name)
        trainjob.resume(scenario, name)

    in_flight.once(scenario, f"resume trainjob {name}", act)


def check_trainjob_stays_complete(scenario: Scenario, name: str) -> None:
    """The TrainJob still reports Complete after the rollback, and none of its pods was made after the phase after
    the upgrade handed it over (the rolled-back controllers ran nothing of it again)."""
    found = get(scenario, "TrainJob", name)
    job_name, handed = found["metadata"]["name"], in_flight.handed_over(scenario, "after")
    complete = wait.has_condition(found, "Complete")
    assert complete, f"TrainJob {job_name} no longer reports Complete: {wait.describe(found)}"
    pods = [timeline.pod_facts(pod) for pod in _job_pods(scenario, "TrainJob", job_name)]
    late = [f"{pod['name']} (created {pod['created']})" for pod in pods if pod["created"] > handed]
    assert not late, f"TrainJob {job_name} got pods after the checks after the upgrade ended at {handed}: {late}"
    scenario.attach(
        f"TrainJob {job_name} reports Complete since {_finished_at(found, 'Complete')}; its pods, all made "
        f"before {handed}: {', '.join(pod['name'] for pod in pods) or 'none left'}"
    )


# --- a notebook server and its PodDefault -------------------------------------------------------------------------


def poddefault_made(scenario: Scenario, name: str) -> None:
    """The PodDefault of poddefault.feature (an env var, a secret-backed env var, the shared volume), with its Secret
    and ReadWriteMany volume."""
    uses(scenario, KINDS["PodDefault"])

    def act() -> None:
        poddefault.create_secret_and_volume(scenario)
        poddefault.create(scenario, name)

    in_flight.once(scenario, f"poddefault {name}", act)


def notebook_ready(scenario: Scenario, name: str) -> None:
    """A Notebook selected by the scenario's PodDefault, Ready; its server pod and the controllers' pods recorded."""
    controllers = KINDS["Notebook"].controllers + KINDS["PodDefault"].controllers
    for controller in controllers:
        scenario.uses(controller)

    def act() -> dict[str, Any]:
        notebook.create_selected_by_poddefault(scenario, name)
        notebook.wait_ready(scenario, name)
        return {"server": _server(scenario, name), "controllers": timeline.controller_pods(scenario, controllers),
                "recorded": in_flight.server_now(scenario)}  # fmt: skip

    in_flight.once(scenario, f"notebook {name}", act)


def _ready_since(obj: dict[str, Any]) -> str:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            return timeline.iso(condition.get("lastTransitionTime"))
    return ""


def _server(scenario: Scenario, name: str) -> dict[str, Any]:
    """The Notebook's server pod and readiness: its pod's Ready condition and the one the Notebook mirrors."""
    pod, found = _json(scenario, notebook.server_pod(scenario, name)), get(scenario, "Notebook", name)
    return {**timeline.pod_facts(pod), "ready_since": _ready_since(pod), "notebook_ready_since": _ready_since(found),
            "ready_replicas": (found.get("status") or {}).get("readyReplicas")}  # fmt: skip


def check_notebook_stayed_ready(scenario: Scenario, name: str) -> None:
    """The same server pod as before the upgrade (UID), no restart since, Ready without a transition since then
    (the pod's Ready condition and the Notebook's keep their lastTransitionTime), readyReplicas 1."""
    entry = in_flight.recorded(scenario, f"notebook {name}")
    before, now = entry["facts"]["server"], _server(scenario, name)
    problems = []
    if now["uid"] != before["uid"]:
        problems.append(f"it runs in pod {now['name']} (UID {now['uid']}), not in the pod it was Ready in before the "
                        f"upgrade (UID {before['uid']})")  # fmt: skip
    if now["restarts"] != before["restarts"]:
        problems.append(f"its pod restarted: {now['restarts']} restarts, {before['restarts']} before the upgrade")
    for key, what in (("ready_since", "its pod's Ready condition"), ("notebook_ready_since", "the Notebook's Ready")):
        if now[key] != before[key]:
            problems.append(f"{what} says Ready since {now[key] or '(not Ready now)'}, before the upgrade since "
                            f"{before[key] or '(not Ready then)'}")  # fmt: skip
    if now["ready_replicas"] != 1:
        problems.append(f"the Notebook reports readyReplicas={now['ready_replicas']}")
    facts = entry["facts"]
    current = timeline.controller_pods(scenario, KINDS["Notebook"].controllers + KINDS["PodDefault"].controllers)
    events = [(before["started"], f"pod {before['name']} started"), (before["ready_since"], "Ready"),
              (facts["recorded"], "recorded as Ready, before the upgrade")]  # fmt: skip
    subject = f"Notebook {scenario.namespace}/{scenario.name(name)}"
    scenario.attach(timeline.story(subject, events, facts["controllers"], current, (before["ready_since"], "")))
    assert not problems, f"{subject} did not stay Ready in the same pod since before the upgrade:\n  " + "\n  ".join(
        problems)  # fmt: skip


def check_new_pod_injected(scenario: Scenario, poddefault_name: str) -> None:
    """A pod created now, selected by the scenario's PodDefault, carries what the PodDefault injects; it is deleted
    once checked (a failed check leaves it as evidence, deleted with the scenario's work)."""
    base = f"new-{scenario.settings.upgrade_phase}-{secrets.token_hex(2)}"
    poddefault.create_pod(scenario, base, selected=True)
    poddefault.check_injected(scenario, base, poddefault_name)
    namespaces.delete_object(scenario.kube, "v1", "Pod", scenario.name(base), scenario.namespace)
