"""The phases of features/upgrade.feature (kfcheck/kubeflow/in_flight.py), without a cluster: the setting, the skip
without a phase, what a step that makes something does in its own phase and in a later one, the markers' hand-over,
a missing API before the upgrade, the cleanup's choice; and the pieces the checks are made of (the timeline's
verdicts, the spec comparison, the pods a job finished in)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kfcheck.core.capabilities import Api, Unavailable
from kfcheck.core.config import ConfigError, Settings
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import in_flight, in_flight_timeline, in_flight_versions, in_flight_work
from kfcheck.kubeflow.in_flight import Flight

ROOT = Path(__file__).resolve().parents[1]
API = Api("example.org/v1", "Thing", "an example controller")


def scenario(phase: str = "", **settings: str) -> Scenario:
    settings_given = Settings.from_user_data({"kubeconfig": "/nonexistent", "upgrade_phase": phase, **settings})
    made = Scenario(None, settings_given, "A thing made before the upgrade", {"kfcheck/run-id": "r1"})  # type: ignore[arg-type]
    made.namespace, made.suffix = "kfcheck-a-thing-abc123", "abc123"
    return made


class Cluster:
    """What the fakes of in_flight's cluster calls see and do: the objects there (kind, name) -> UID, the record."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, served: bool = True) -> None:
        self.objects: dict[tuple[str, str], str] = {}
        self.deleted: list[str] = []
        self.served = served
        self.clock = iter(f"2026-06-01T10:00:{second:02d}Z" for second in range(60))
        monkeypatch.setattr(in_flight, "server_now", lambda _scenario: next(self.clock))
        monkeypatch.setattr(in_flight, "_write", self.write)
        monkeypatch.setattr(in_flight, "_find", self.find)
        monkeypatch.setattr(in_flight, "_delete_work", self.delete_work)
        monkeypatch.setattr(in_flight, "_anything_in_flight", lambda _scenario: False)
        monkeypatch.setattr(in_flight.namespaces, "delete", self.delete_namespace)
        monkeypatch.setattr(in_flight.capabilities, "serves", lambda _kube, _api: self.served)

    @staticmethod
    def write(_scenario: Scenario, flight: Flight, key: str, value: str) -> None:
        flight.recorded[key] = value

    def delete_work(self, _scenario: Scenario, key: str) -> list[str]:
        self.deleted.append(key)
        return []

    def delete_namespace(self, _kube: object, name: str) -> None:
        self.deleted.append(f"namespace {name}")

    def find(self, _scenario: Scenario, flight: Flight, reference: dict[str, str]) -> None:
        if self.objects.get((reference["kind"], reference["name"])) != reference["uid"]:
            lost = in_flight.gone(flight.section, flight.phase)
            raise AssertionError(f"{reference['kind']} {reference['name']} was {lost}")

    def make(self, made: Scenario, kind: str, name: str, uid: str) -> dict[str, Any]:
        """Makes the object as a scenario's step does (listed as created); returns the facts a step records."""
        self.objects[(kind, name)] = uid
        made.created.append({"apiVersion": "example.org/v1", "kind": kind, "metadata": {"name": name, "uid": uid}})
        return {"seen": 1}


def flying(phase: str, recorded: dict[str, str] | None = None) -> Scenario:
    """A scenario that went through the Background step in `phase` (in_flight.enter), its record as given."""
    made = scenario(phase)
    made.namespace, made.shared_namespace = "kfcheck-in-flight", True
    key = in_flight.scenario_key(made.title)
    made.outcomes[in_flight.OUTCOME] = Flight(phase, key, True, "in-flight-record-abc123", dict(recorded or {}))
    return made


def passed_start(cluster: Cluster) -> dict[str, str]:
    """The record the start phase leaves of a scenario that made a Thing and reached the upgrade marker."""
    start = flying("start")
    in_flight.once(start, "thing one", lambda: cluster.make(start, "Thing", "one-abc123", "uid-1"))
    with pytest.raises(Unavailable, match=r"^continues after the upgrade$"):
        in_flight.upgraded(start)
    return in_flight.current(start).recorded


# --- the setting and the skip without a phase ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "phase"), [("start", "start"), ("After", "after"), (" rollback ", "rollback"), ("", "")]
)
def test_the_upgrade_phase_is_one_of_the_gates_three_or_none(given: str, phase: str) -> None:
    assert Settings.from_user_data({"kubeconfig": "/nonexistent", "upgrade_phase": given}).upgrade_phase == phase


def test_an_unknown_upgrade_phase_is_refused_naming_the_phases_and_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"-u upgrade_phase=before: must be start, after or rollback.*kfcheck "
                       r"release-gate.*leave it out to skip that feature"):  # fmt: skip
        Settings.from_user_data({"kubeconfig": "/nonexistent", "upgrade_phase": "before"})


def test_without_a_phase_every_scenario_is_skipped_with_the_reason_and_left_as_the_run_made_it() -> None:
    made = scenario("")
    with pytest.raises(Unavailable) as skipped:
        in_flight.enter(made)
    assert str(skipped.value) == ("runs in the release gate around an upgrade: `kfcheck release-gate` (or -u "
                                  "upgrade_phase=start|after|rollback)")  # fmt: skip
    assert (made.namespace, made.cleanups, made.outcomes) == ("kfcheck-a-thing-abc123", [], {})


def test_a_scenario_is_known_in_every_phase_by_a_label_value_of_its_title() -> None:
    title = "A PyTorchJob made by the old version reads back at every version its CRD serves"
    key = in_flight.scenario_key(title)
    assert key == in_flight.scenario_key(title)
    assert key != in_flight.scenario_key(title.replace("PyTorchJob", "TFJob"))
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", key)


# --- what is made once and found later ----------------------------------------------------------------------------


def test_a_making_step_acts_in_its_phase_and_records_what_it_made_and_saw(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(monkeypatch)
    recorded = passed_start(cluster)
    entry = json.loads(recorded["start.thing-one"])
    made = {"apiVersion": "example.org/v1", "kind": "Thing", "name": "one-abc123", "uid": "uid-1"}
    assert entry == {"at": "2026-06-01T10:00:00Z", "facts": {"seen": 1}, "objects": [made]}
    assert recorded["handed-over.start"] == "2026-06-01T10:00:01Z"


@pytest.mark.parametrize("phase", ["after", "rollback"])
def test_a_later_phase_finds_what_was_made_by_its_uid_instead_of_making_it(monkeypatch: pytest.MonkeyPatch,
                                                                          phase: str) -> None:  # fmt: skip
    cluster = Cluster(monkeypatch)
    later = flying(phase, passed_start(cluster))
    acted: list[str] = []

    def act() -> dict[str, Any]:
        acted.append("again")
        return {}

    entry = in_flight.once(later, "thing one", act)
    assert acted == [] and entry["facts"] == {"seen": 1}
    assert in_flight.recorded(later, "thing one") == entry


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ("after", "made before the upgrade, gone after it"),
        ("rollback", "made before the upgrade, gone after the rollback"),
    ],
)
def test_what_a_later_phase_does_not_find_fails_the_step(monkeypatch: pytest.MonkeyPatch, phase: str,
                                                         message: str) -> None:  # fmt: skip
    cluster = Cluster(monkeypatch)
    recorded = passed_start(cluster)
    cluster.objects[("Thing", "one-abc123")] = "uid-of-another"  # deleted and made again
    with pytest.raises(AssertionError, match=message):
        in_flight.once(flying(phase, recorded), "thing one", dict)


def test_a_step_the_earlier_phase_never_recorded_fails_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    Cluster(monkeypatch)
    with pytest.raises(
        AssertionError, match=r"thing two: made before the upgrade, gone after it: .* no start\.thing-two"
    ):
        in_flight.once(flying("after", {"suffix": "abc123"}), "thing two", dict)


# --- the markers --------------------------------------------------------------------------------------------------


def test_the_start_phase_hands_the_scenario_over_at_the_upgrade_and_keeps_its_work(monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:  # fmt: skip
    Cluster(monkeypatch)
    start = flying("start")
    start.created.append({"kind": "Thing", "metadata": {"name": "x"}})
    with pytest.raises(Unavailable, match=r"^continues after the upgrade$"):
        in_flight.upgraded(start)
    flight = in_flight.current(start)
    assert flight.continues and start.created == [], "the run's own cleanup would delete what is listed there"


def test_the_after_phase_checks_after_the_upgrade_and_hands_over_at_the_rollback(monkeypatch: pytest.MonkeyPatch
                                                                                 ) -> None:  # fmt: skip
    cluster = Cluster(monkeypatch)
    after = flying("after", passed_start(cluster))
    in_flight.upgraded(after)
    assert in_flight.current(after).section == "after"
    with pytest.raises(Unavailable, match=r"^continues after the rollback$"):
        in_flight.rolled_back(after)
    assert in_flight.current(after).recorded["handed-over.after"]


def test_the_rollback_phase_runs_every_section_once_both_phases_handed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(monkeypatch)
    rollback = flying("rollback", {**passed_start(cluster), "handed-over.after": "2026-06-01T10:05:00Z"})
    in_flight.upgraded(rollback)
    in_flight.rolled_back(rollback)
    flight = in_flight.current(rollback)
    assert (flight.section, flight.continues) == ("rollback", False)
    assert in_flight.handed_over(rollback, "after") == "2026-06-01T10:05:00Z"


def test_a_phase_that_never_handed_over_fails_the_next_one(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(monkeypatch)
    rollback = flying("rollback", passed_start(cluster))  # the after phase was never run
    in_flight.upgraded(rollback)
    with pytest.raises(AssertionError, match=r"the after phase never got to 'the Kubeflow release has been rolled "
                       r"back'.*-u upgrade_phase=after"):  # fmt: skip
        in_flight.rolled_back(rollback)


def test_markers_out_of_order_are_the_features_mistake(monkeypatch: pytest.MonkeyPatch) -> None:
    Cluster(monkeypatch)
    with pytest.raises(AssertionError, match="has its markers in the wrong order"):
        in_flight.rolled_back(flying("after", {"handed-over.start": "t"}))


def test_a_step_outside_the_feature_says_what_it_needs() -> None:
    with pytest.raises(AssertionError, match="Background must begin with"):
        in_flight.once(scenario("after"), "thing", dict)


# --- an API missing before the upgrade ----------------------------------------------------------------------------


def test_an_api_missing_before_the_upgrade_skips_the_scenario_in_every_phase(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(monkeypatch, served=False)
    start = flying("start")
    with pytest.raises(Unavailable, match=r"^the cluster does not serve Thing \(example.org/v1"):
        in_flight.require(start, API)
    assert in_flight.current(start).continues
    cluster.served = True  # the upgrade brought it: still nothing of the scenario was in flight
    for phase, kept in (("after", True), ("rollback", False)):
        later = flying(phase, in_flight.current(start).recorded)
        with pytest.raises(Unavailable, match=r"^nothing of it was in flight: before the upgrade, the cluster does not "
                           r"serve Thing"):  # fmt: skip
            in_flight.require(later, API)
        assert in_flight.current(later).continues is kept


def test_an_api_served_before_the_upgrade_and_gone_after_it_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Cluster(monkeypatch)
    in_flight.require(flying("start"), API)
    cluster.served = False
    with pytest.raises(AssertionError, match=r"served Thing .* before the upgrade and does not serve it now, in the "
                       r"after phase"):  # fmt: skip
        in_flight.require(flying("after", {"suffix": "abc123"}), API)


# --- the cleanup at the end of each phase -------------------------------------------------------------------------


@pytest.mark.parametrize(("continues", "namespace", "deleted"), [
    (True, "", []),
    (False, "", ["KEY", "namespace kfcheck-in-flight"]),
    (False, "team-a", ["KEY"]),  # the user's namespace stays
])  # fmt: skip
def test_the_work_goes_at_the_end_of_its_last_phase_or_a_failure_and_stays_while_it_continues(
    monkeypatch: pytest.MonkeyPatch, continues: bool, namespace: str, deleted: list[str]
) -> None:
    cluster = Cluster(monkeypatch)
    made = flying("after")
    made.settings = Settings.from_user_data({"kubeconfig": "/nonexistent", "upgrade_phase": "after",
                                             **({"namespace": namespace} if namespace else {})})  # fmt: skip
    flight = Flight("after", "KEY", own_namespace=not namespace, continues=continues)
    in_flight._finish(made, flight)
    assert cluster.deleted == deleted


# --- the timeline -------------------------------------------------------------------------------------------------


def pods(*names_created: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "uid": f"uid-{name}", "created": created} for name, created in names_created]


@pytest.mark.parametrize(("now", "verdict"), [
    (pods(("op-a", "09:00")), "op was not replaced since then (still op-a (created 09:00)): job was not in flight"),
    (pods(("op-b", "10:03")), "job was in flight when op was replaced at 10:03"),
    (pods(("op-b", "10:09")), "op was replaced at 10:09, after job had finished at 10:05: not in flight then"),
    ("not readable here (403 Forbidden listing pods in kubeflow)", "op: its pods not readable here (403"),
])  # fmt: skip
def test_the_timeline_says_truthfully_whether_the_job_was_in_flight_when_its_controller_was_replaced(
    now: Any, verdict: str
) -> None:
    told = in_flight_timeline.story("job", [("10:01", "job created")], {"op": pods(("op-a", "09:00"))}, {"op": now},
                                    ("10:01", "10:05"))  # fmt: skip
    assert told.splitlines()[0] == "timeline of job (API server time):"
    assert f"=> {verdict}" in told


def test_timestamps_are_written_as_the_api_server_writes_them() -> None:
    assert in_flight_timeline.iso("2026-06-01T10:00:00+00:00") == "2026-06-01T10:00:00Z"
    assert in_flight_timeline.iso("2026-06-01T12:00:00+02:00") == "2026-06-01T10:00:00Z"
    assert in_flight_timeline.iso(None) == ""


# --- the checks ---------------------------------------------------------------------------------------------------


def test_a_spec_reads_back_when_it_holds_everything_it_was_made_with() -> None:
    made = {"replicas": 2, "template": {"containers": [{"name": "a", "args": ["x"]}]}}
    assert in_flight_versions.differences({**made, "defaulted": True}, made) == []
    changed = {"replicas": 2, "template": {"containers": [{"name": "a", "args": ["y"]}]}}
    assert in_flight_versions.differences(changed, made) == ["spec.template.containers[0].args[0]: 'y', made as 'x'"]
    assert in_flight_versions.differences({"replicas": 2}, made) == ["spec.template: None, made as a mapping"]


def job_pod(name: str, uid: str, restarts: int = 0) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "uid": uid, "creationTimestamp": "2026-06-01T10:00:02Z"},
        "status": {"startTime": "2026-06-01T10:00:03Z", "containerStatuses": [{"restartCount": restarts}]},
    }


@pytest.mark.parametrize(("now", "message"), [
    ([job_pod("j-master-0", "m"), job_pod("j-worker-0", "w")], None),
    ([job_pod("j-master-0", "m2"), job_pod("j-worker-0", "w")], r"pods it did not have before the upgrade, so its "
                                                                 r"training was started again: \['j-master-0'\]"),
    ([job_pod("j-master-0", "m", restarts=1)], r"restarted since before the upgrade: \['j-master-0 \(0 restarts"),
    ([], "has no pod left"),
])  # fmt: skip
def test_a_job_in_flight_must_finish_in_the_pods_it_was_training_in(monkeypatch: pytest.MonkeyPatch, now: list[Any],
                                                                    message: str | None) -> None:  # fmt: skip
    made = flying("after")
    facts = {"created": "2026-06-01T10:00:01Z", "recorded": "2026-06-01T10:00:05Z", "controllers": {},
             "pods": [in_flight_timeline.pod_facts(job_pod("j-master-0", "m")),
                      in_flight_timeline.pod_facts(job_pod("j-worker-0", "w"))]}  # fmt: skip
    monkeypatch.setattr(in_flight, "recorded", lambda _scenario, _what: {"facts": facts, "objects": []})
    job = {"metadata": {"name": "j"}, "status": {"conditions": [
        {"type": "Succeeded", "status": "True", "lastTransitionTime": "2026-06-01T10:01:00Z"}]}}  # fmt: skip
    monkeypatch.setattr(in_flight_work, "get", lambda *_args: job)
    monkeypatch.setattr(in_flight_work, "_job_pods", lambda *_args: now)
    monkeypatch.setattr(in_flight_timeline, "controller_pods", lambda *_args: {})
    attached: list[str] = []
    monkeypatch.setattr(made, "attach", attached.append)
    if message is None:
        in_flight_work.check_trained_in_same_pods(made, "PyTorchJob", "j")
    else:
        with pytest.raises(AssertionError, match=message):
            in_flight_work.check_trained_in_same_pods(made, "PyTorchJob", "j")
    assert "2026-06-01T10:01:00Z  PyTorchJob j Succeeded" in attached[0], "the timeline is attached whatever follows"


def test_every_sentence_of_the_feature_has_its_step() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "radish"), "features/upgrade.feature", "-b", "radish",
                           "--dry-run", "--no-ansi"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "KUBECONFIG": "/nonexistent"}, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "11 scenarios (0 passed, 11 skipped)" in done.stdout


class Versions:
    """A CRD as apiextensions gives it (its versions as (name, served, storage)), or a 403 for a Profile user."""

    def __init__(self, versions: list[tuple[str, bool, bool]] | None) -> None:
        self.versions = versions

    def __call__(self, _api: object) -> Versions:
        return self

    def read_custom_resource_definition(self, name: str) -> Any:
        if self.versions is None:
            raise ApiException(status=403, reason="Forbidden")
        spec = SimpleNamespace(versions=[SimpleNamespace(name=n, served=s, storage=t) for n, s, t in self.versions],
                               conversion=None)  # fmt: skip
        return SimpleNamespace(spec=spec, status=SimpleNamespace(stored_versions=["v1"]))


def test_the_versions_read_are_those_the_crd_serves_or_else_those_discovery_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = scenario("after")
    found = [SimpleNamespace(name="notebooks", api_version=version) for version in ("v1beta1", "v1")]
    found.append(SimpleNamespace(name="notebooks/status", api_version="v1"))
    resources = SimpleNamespace(search=lambda **_query: found)
    made.kube = SimpleNamespace(api=None, dynamic=SimpleNamespace(resources=resources))  # type: ignore[assignment]
    kind = in_flight_work.kind_of("Notebook")
    monkeypatch.setattr(
        in_flight_versions.client,
        "ApiextensionsV1Api",
        Versions([("v1", True, True), ("v1alpha1", False, False), ("v1beta1", True, False)]),
    )
    versions, source = in_flight_versions.served_versions(made, kind)
    assert versions == ["v1", "v1beta1"]
    assert source.startswith("the versions CRD notebooks.kubeflow.org serves (storage version v1")
    monkeypatch.setattr(in_flight_versions.client, "ApiextensionsV1Api", Versions(None))
    versions, source = in_flight_versions.served_versions(made, kind)
    assert versions == ["v1", "v1beta1"]
    assert "API discovery" in source and "may not read CRDs" in source
