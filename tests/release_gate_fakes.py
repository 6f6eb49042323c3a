"""Fakes for the release gate's unit tests (no cluster): `kfcheck run` replaced by copies of a recorded run
(tests/data/release-gate/pytorchjob-smoke.ndjson, a real `kfcheck run` of features/pytorchjob.feature --tags smoke)
with the scenarios' outcomes and the components' versions each test needs, and the cluster the gate reads
replaced by CRDs, components and a sweep given as plain data."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kfcheck import reports
from kfcheck.kubeflow import in_flight
from kfcheck.upgrades.crds import CrdVersions

RECORDED = Path(__file__).parent / "data" / "release-gate" / "pytorchjob-smoke.ndjson"
ONE_WORKER = "The operator wires a master and 1 worker(s) together"
TWO_WORKERS = "The operator wires a master and 2 worker(s) together"
FEATURE = "Distributed PyTorch training with PyTorchJob"
IN_FLIGHT_FEATURE = "Work in flight survives an upgrade"
IMAGES = {
    "training-operator": "training-operator",
    "kubeflow-trainer": "trainer-controller-manager",
    "jobset": "jobset-controller",
}
APIS = {
    "training-operator": "PyTorchJob (kubeflow.org/v1)",
    "kubeflow-trainer": "TrainJob (trainer.kubeflow.org/v1alpha1)",
    "jobset": "JobSet (jobset.x-k8s.io/v1alpha2)",
}
OLD = {"training-operator": "image tag v1.9.2", "kubeflow-trainer": "2.1.0", "jobset": "0.10.1"}
NEW = {"training-operator": "image tag v1.9.2", "kubeflow-trainer": "2.2.0", "jobset": "0.11.1"}


@dataclass
class Outcome:
    """What one fake `kfcheck run` records."""

    failed: set[str] = field(default_factory=set)  # scenario names whose last step fails
    skipped: set[str] = field(default_factory=set)  # scenario names whose steps are all skipped
    handed_over: str = ""  # in-flight: every scenario's steps after its second are skipped with this reason
    versions: dict[str, str] = field(default_factory=lambda: dict(OLD))  # component -> version it reports
    feature: str = FEATURE  # the in-flight runs name their own feature
    did_not_start: bool = False


def provenance_entries(versions: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "api": APIS[component],
            "component": component,
            "served": True,
            "deployment": f"kubeflow-system/{IMAGES[component]}",
            "stand_in": "",
            "note": "",
            "images": [f"127.0.0.1:5000/{IMAGES[component]}:{version.split()[-1]} (sha256:{'ab' * 32})"],
            "version": version,
        }
        for component, version in versions.items()
    ]


def write_run(messages: Path, outcome: Outcome) -> None:
    """The recorded run, with the outcome's failures, skips, feature name and versions."""
    messages.parent.mkdir(parents=True, exist_ok=True)
    if outcome.did_not_start:
        reports.write_start_failure(messages, "the cluster cannot be used", "the cluster does not answer", "make up")
        return
    envelopes = [json.loads(line) for line in RECORDED.read_text().splitlines() if line.strip()]
    names = {e["pickle"]["id"]: e["pickle"]["name"] for e in envelopes if "pickle" in e}
    cases = {e["testCase"]["id"]: e["testCase"] for e in envelopes if "testCase" in e}
    started = {
        e["testCaseStarted"]["id"]: cases[e["testCaseStarted"]["testCaseId"]]
        for e in envelopes
        if "testCaseStarted" in e
    }
    for envelope in envelopes:
        if "gherkinDocument" in envelope:
            envelope["gherkinDocument"]["feature"]["name"] = outcome.feature
        elif "testStepFinished" in envelope:
            _set_outcome(envelope["testStepFinished"], started, names, outcome)
        elif "kfcheck/provenance" in envelope.get("attachment", {}).get("body", ""):  # the run hook's JSON
            body = {"kind": "kfcheck/provenance", "apis": provenance_entries(outcome.versions)}
            envelope["attachment"]["body"] = json.dumps(body)
    messages.write_text("".join(json.dumps(envelope) + "\n" for envelope in envelopes))


def _set_outcome(finished: dict[str, Any], started: dict[str, Any], names: dict[str, str], outcome: Outcome) -> None:
    case = started[finished["testCaseStartedId"]]
    name = names[case["pickleId"]]
    steps = [step["id"] for step in case["testSteps"] if "pickleStepId" in step]
    if finished["testStepId"] not in steps:
        return  # a hook
    if name in outcome.skipped:
        finished["testStepResult"] = {**finished["testStepResult"], "status": "SKIPPED", "message": "not served"}
    elif outcome.handed_over and steps.index(finished["testStepId"]) >= 2:
        finished["testStepResult"] = {**finished["testStepResult"], "status": "SKIPPED", "message": outcome.handed_over}
    elif name in outcome.failed and finished["testStepId"] == steps[-1]:
        failure = "AssertionError: MASTER_ADDR is missing"
        finished["testStepResult"] = {
            **finished["testStepResult"],
            "status": "FAILED",
            "message": failure,
            "exception": {"type": "AssertionError", "message": failure},
        }


def default_outcome(phase: str) -> Outcome:
    """Everything passes; the in-flight scenarios hand their work over to the next phase, as
    kfcheck.kubeflow.in_flight does, until the rollback phase."""
    handovers = {"in-flight-start": in_flight.CONTINUES["start"], "in-flight-after": in_flight.CONTINUES["after"]}
    if phase.startswith("in-flight"):
        return Outcome(feature=IN_FLIGHT_FEATURE, handed_over=handovers.get(phase, ""))
    return Outcome()


class FakeRuns:
    """`kfcheck run` as the gate calls it: writes the phase's outcome (by its directory's name) and an HTML page;
    `events` (shared with the fake commands) records the order of everything."""

    def __init__(self, events: Path, outcomes: dict[str, Outcome] | None = None, interrupt_in: str = "") -> None:
        self.events, self.outcomes, self.interrupt_in = events, outcomes or {}, interrupt_in
        self.calls: dict[str, list[str]] = {}

    def __call__(self, directory: Path, radish_args: list[str]) -> int:
        phase = directory.name
        self.calls[phase] = radish_args
        with self.events.open("a") as events:
            events.write(f"run {phase}\n")
        outcome = self.outcomes.get(phase, default_outcome(phase))
        write_run(directory / "messages.ndjson", outcome)
        (directory / "cucumber.html").write_text("<html><body><main>report</main></body></html>")
        if phase == self.interrupt_in:
            raise KeyboardInterrupt("received signal SIGINT")
        return 1 if outcome.failed else 0


def crd(name: str, served: list[str], stored: list[str], kind: str = "", storage: str = "") -> dict[str, Any]:
    """A CRD as the API server returns it."""
    plural, group = name.split(".", 1)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {
            "group": group,
            "names": {"kind": kind or plural[:-1].capitalize(), "plural": plural},
            "versions": [
                {"name": version, "served": True, "storage": version == (storage or served[-1])} for version in served
            ],
        },
        "status": {"storedVersions": stored},
    }


OLD_CRDS = [
    crd("jobsets.jobset.x-k8s.io", ["v1alpha2"], ["v1alpha2"], "JobSet"),
    crd("pytorchjobs.kubeflow.org", ["v1"], ["v1"], "PyTorchJob"),
    crd("certificates.cert-manager.io", ["v1"], ["v1"], "Certificate"),
]


@dataclass
class FakeCluster:
    """The gate's ClusterAccess: `crd_reads` are returned in turn (the snapshot at the start, then the check
    before the rollback), or raised when one is an exception."""

    crd_reads: list[list[dict[str, Any]] | Exception]
    objects: list[str] = field(default_factory=lambda: ["team-a/mnist", "team-b/resnet"])
    versions_now: dict[str, str] = field(default_factory=lambda: dict(OLD))
    sweep_error: Exception | None = None
    swept: list[str] = field(default_factory=lambda: ["namespace kfcheck-in-flight-1a2b3c"])
    sweeps: int = 0
    on_sweep: Callable[[], None] | None = None

    def crds(self) -> list[dict[str, Any]]:
        read = self.crd_reads.pop(0) if len(self.crd_reads) > 1 else self.crd_reads[0]
        if isinstance(read, Exception):
            raise read
        return read

    def list_objects(self, crd: CrdVersions, limit: int) -> tuple[list[str], bool]:
        return self.objects[:limit], len(self.objects) > limit

    def components(self) -> list[dict[str, Any]]:
        return provenance_entries(self.versions_now)

    def sweep_in_flight(self) -> list[str]:
        self.sweeps += 1
        if self.sweep_error is not None:
            raise self.sweep_error
        return self.swept
