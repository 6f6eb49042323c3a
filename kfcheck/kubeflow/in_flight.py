"""Work in flight across a Kubeflow release upgrade and its rollback (features/upgrade.feature): the one mechanism
every scenario of that feature goes through its phases with.

The release gate runs the feature three times, each a radish process of its own: `-u upgrade_phase=start` just
before the upgrade of Kubeflow's controllers, `after` after it, `rollback` after the rollback. Two marker steps
split each scenario into three sections, one per phase:

    section start      made (and checked) just before the upgrade
    When the Kubeflow release has been upgraded
    section after      checked after the upgrade
    When the Kubeflow release has been rolled back
    section rollback   checked after the rollback

- A run goes through the sections up to its own phase's: the marker that ends it hands the scenario over to the
  next phase and skips the rest, with the reason ("continues after the upgrade").
- A step that makes or changes something goes through `once`: it acts in its own section's phase and records what
  it made (kind, name, UID) and what it saw (facts); in a later phase it finds what it made, by that UID, or
  fails ("made before the upgrade, gone after it"), and the checks read the facts. The record is a ConfigMap of
  the scenario beside its work, so that the phases may run from different processes, even machines.
- Every other step is a check, checked again in each later phase: what held after the upgrade must still hold
  after the rollback.
- Where: the namespace `<namespace_prefix>-in-flight`, labelled kfcheck/in-flight=true, which the start phase
  makes; with -u namespace=NS, NS itself. Every object carries kfcheck/in-flight=true and the scenario's own label,
  none of the run labels the suite's sweeps go by, so no phase's end-of-run sweep takes another phase's work.
- Nothing is removed at the end of a phase the scenario continues in. At the end of its last phase (rollback), or
  of any phase it failed or was stopped in, everything of the scenario goes (by its label), and the in-flight
  namespace too once nothing is left in flight there.
- A scenario skipped before the upgrade because the cluster lacked an API (`require`) keeps that reason in its
  record, and the later phases skip it with it, although the upgrade may have brought the API: nothing of it was
  in flight.
Without a phase (`radish features/`) every scenario is skipped with the reason NO_PHASE.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kfcheck.core import capabilities, manifests, namespaces, wait
from kfcheck.core.capabilities import Api, Unavailable
from kfcheck.core.config import UPGRADE_PHASES, ConfigError
from kfcheck.core.scenario import MANAGED_BY, Scenario

NO_PHASE = (
    "runs in the release gate around an upgrade: `kfcheck release-gate` (or -u upgrade_phase=start|after|rollback)"
)
CONTINUES = {"start": "continues after the upgrade", "after": "continues after the rollback"}
MARKERS = {"start": "the Kubeflow release has been upgraded", "after": "the Kubeflow release has been rolled back"}
MADE = {"start": "before the upgrade", "after": "after the upgrade"}
LABEL, SCENARIO_LABEL = "kfcheck/in-flight", "kfcheck/in-flight-scenario"
RECORD = "in-flight-record"  # the base name of a scenario's record (scenario.name adds its suffix)
SKIPPED, HANDED_OVER = "skipped", "handed-over"  # record keys: why it was skipped; when a phase handed it over
OUTCOME = "in_flight"  # the scenario's Flight, in scenario.outcomes
_DATA_KEY = re.compile(r"[^-._a-zA-Z0-9]+")


@dataclass
class Flight:
    """One scenario's work in flight, as the run's phase sees it."""

    phase: str  # the run's phase
    key: str  # the scenario's label value (scenario_key)
    own_namespace: bool  # the work lives in the suite's in-flight namespace, not in the user's -u namespace=
    record: str = ""  # the name of its record ConfigMap
    recorded: dict[str, str] = field(default_factory=dict)  # the record's data
    section: str = "start"  # the section of the steps running now; the markers move it on
    continues: bool = False  # the scenario goes on in a later phase: its work is kept at the end of this one


def scenario_key(title: str) -> str:
    """The label value that names a scenario's work in every phase: its title's start and a digest of all of it."""
    return f"{namespaces.slug(title, 40)}-{hashlib.sha256(title.encode()).hexdigest()[:8]}"


def in_flight_namespace(scenario: Scenario) -> str:
    return scenario.settings.namespace or f"{scenario.settings.namespace_prefix}-in-flight"


def gone(section: str, phase: str) -> str:
    """What a `phase` says of something a step of `section` made that it does not find: "made before the upgrade,
    gone after it"."""
    later = "after it" if (section, phase) == ("start", "after") else "after the rollback"
    return f"made {MADE[section]}, gone {later}"


def current(scenario: Scenario) -> Flight:
    flight = scenario.outcomes.get(OUTCOME)
    if not isinstance(flight, Flight):
        raise AssertionError(
            "this step is one of features/upgrade.feature's, whose Background must begin with 'the release gate runs "
            "this scenario before the upgrade, after it and after the rollback'"
        )
    return flight


def server_now(scenario: Scenario) -> str:
    """The API server's time now (its Date header), as the cluster's timestamps are written: the phases' records
    are compared with those, whatever the clock of the machine each phase runs on says."""
    _, _, headers = client.VersionApi(scenario.kube.api).get_code_with_http_info()
    when = email.utils.parsedate_to_datetime(headers["Date"])
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def enter(scenario: Scenario) -> None:
    """The feature's Background step: skipped without a phase (NO_PHASE); otherwise the scenario's work moves to the
    in-flight namespace, under its own label, with its record: made afresh before the upgrade (what an earlier run
    left of the scenario is deleted first), found in the later phases. Its cleanup decides, at the end of the phase,
    whether the work is kept or goes (_finish)."""
    phase = scenario.settings.upgrade_phase
    if not phase:
        raise Unavailable(NO_PHASE)
    flight = Flight(phase, scenario_key(scenario.title), own_namespace=not scenario.settings.namespace)
    target = in_flight_namespace(scenario)
    if phase == "start" and flight.own_namespace:
        _ensure_namespace(scenario, target)
    made_for_it = None if scenario.shared_namespace else scenario.namespace
    scenario.namespace, scenario.shared_namespace = target, True
    scenario.labels = {MANAGED_BY: "kfcheck", LABEL: "true", SCENARIO_LABEL: flight.key}
    scenario.outcomes[OUTCOME] = flight
    scenario.on_cleanup(functools.partial(_finish, scenario, flight))
    if made_for_it:  # the namespace the run made for the scenario: empty, its work lives in the in-flight one
        namespaces.delete(scenario.kube, made_for_it)
    if phase == "start":
        _start_record(scenario, flight)
    else:
        _load_record(scenario, flight)


def _ensure_namespace(scenario: Scenario, name: str) -> None:
    kube, timeout = scenario.kube, float(scenario.settings.timeout)

    def list_namespaces(_namespace: str, **kwargs: Any) -> Any:
        return kube.core.list_namespace(**kwargs)

    found = wait.retrying(f"looking for namespace {name}", lambda: list_namespaces("", field_selector=(
        f"metadata.name={name}")).items, timeout, kube)  # fmt: skip
    if found and found[0].metadata.deletion_timestamp is not None:  # the last scenario's cleanup deleted it
        wait.wait_until_gone(kube, f"namespace {name} to be gone", list_namespaces, "", name, timeout)
        found = []
    if found:
        if (found[0].metadata.labels or {}).get(LABEL) != "true":
            raise ConfigError(
                f"namespace {name} exists but is not the suite's in-flight namespace (it lacks the label {LABEL}="
                "true): delete it, or give -u namespace_prefix= to work in <prefix>-in-flight instead"
            )
        return
    try:
        manifests.create(kube, manifests.render("in-flight-namespace", name=name), None)
    except ApiException as error:
        if error.status != 409:  # made meanwhile (by another run): as good
            raise


def _start_record(scenario: Scenario, flight: Flight) -> None:
    left = _delete_work(scenario, flight.key)
    if left:
        scenario.attach(f"deleted what an earlier run left of this scenario: {', '.join(left)}")
    data = {"suffix": scenario.suffix, "started": server_now(scenario)}
    name = scenario.name(RECORD)
    (record,) = scenario.create("in-flight-record", name=name, scenario=scenario.title[:200], data=data)
    flight.record, flight.recorded = str(record["metadata"]["name"]), dict(data)


def _load_record(scenario: Scenario, flight: Flight) -> None:
    """The record the start phase made; the scenario's names take its suffix again."""
    kube, namespace = scenario.kube, scenario.namespace
    listed = wait.retrying(f"reading the record of '{scenario.title}'", functools.partial(
        kube.core.list_namespaced_config_map, namespace, label_selector=f"{SCENARIO_LABEL}={flight.key}"),
        float(scenario.settings.timeout), kube).items  # fmt: skip
    records = [item for item in listed
               if item.metadata.name.startswith(RECORD) and not item.metadata.deletion_timestamp]  # fmt: skip
    if not records:
        raise AssertionError(
            f"the work of this scenario was {gone('start', flight.phase)}: namespace {namespace} holds no record of it "
            f"(a ConfigMap labelled {SCENARIO_LABEL}={flight.key}); did the start phase (-u upgrade_phase=start) run, "
            "and did this scenario pass there?"
        )
    newest = max(records, key=lambda item: item.metadata.creation_timestamp)
    flight.record, flight.recorded = newest.metadata.name, dict(newest.data or {})
    scenario.suffix = flight.recorded["suffix"]


def _write(scenario: Scenario, flight: Flight, key: str, value: str) -> None:
    """One record of the scenario: a key of its ConfigMap (a merge patch: the others stay as they are)."""
    kube = scenario.kube
    patch = functools.partial(kube.core.patch_namespaced_config_map, flight.record, scenario.namespace,
                              {"data": {key: value}})  # fmt: skip
    wait.retrying(f"recording {key} of '{scenario.title}'", patch, float(scenario.settings.timeout), kube)
    flight.recorded[key] = value


def _keep(scenario: Scenario, flight: Flight) -> None:
    """The scenario continues in a later phase: nothing of it goes at the end of this one."""
    flight.continues = True
    scenario.created.clear()  # the run's own cleanup (kfcheck.core.namespaces.finish) deletes what is listed there


def require(scenario: Scenario, api: Api) -> None:
    """A step: the cluster serves the API, and did before the upgrade. Before the upgrade, a cluster without it skips
    the scenario (capabilities.Unavailable) and the reason is recorded, so that the later phases skip it with that
    reason too; a later phase fails where the API was served before the upgrade and is not now."""
    flight = current(scenario)
    skipped = flight.recorded.get(SKIPPED)
    if skipped is not None:
        if flight.phase != UPGRADE_PHASES[-1]:
            _keep(scenario, flight)
        raise Unavailable(f"nothing of it was in flight: before the upgrade, {skipped}")
    if flight.phase == "start":
        try:
            capabilities.require(scenario.kube, api)
        except Unavailable as absent:
            _write(scenario, flight, SKIPPED, str(absent))
            _keep(scenario, flight)
            raise
        return
    if not capabilities.serves(scenario.kube, api):
        raise AssertionError(
            f"the cluster served {api} before the upgrade and does not serve it now, in the {flight.phase} phase"
        )


def upgraded(scenario: Scenario) -> None:
    """The marker 'the Kubeflow release has been upgraded': ends section start."""
    _marker(scenario, "start")


def rolled_back(scenario: Scenario) -> None:
    """The marker 'the Kubeflow release has been rolled back': ends section after."""
    _marker(scenario, "after")


def _marker(scenario: Scenario, ends: str) -> None:
    """In the phase of the section it ends: the scenario is handed over to the next phase and the rest of it skipped
    (CONTINUES). In a later phase: the record must say that phase handed it over; the next section begins."""
    flight = current(scenario)
    if flight.section != ends:
        raise AssertionError(
            f"'{MARKERS[ends]}' comes after the section {flight.section} of this scenario, not after "
            f"the section {ends}: features/upgrade.feature has its markers in the wrong order"
        )
    if flight.phase == ends:
        _write(scenario, flight, f"{HANDED_OVER}.{ends}", server_now(scenario))
        _keep(scenario, flight)
        raise Unavailable(CONTINUES[ends])
    handed = flight.recorded.get(f"{HANDED_OVER}.{ends}")
    if handed is None:
        raise AssertionError(
            f"the {ends} phase never got to '{MARKERS[ends]}': this scenario's record has no "
            f"hand-over from it; did -u upgrade_phase={ends} run, and did this scenario pass there?"
        )
    flight.section = UPGRADE_PHASES[UPGRADE_PHASES.index(ends) + 1]
    scenario.attach(f"phase {flight.phase}: the {ends} phase handed this scenario over at {handed} (API server time)")


def handed_over(scenario: Scenario, phase: str) -> str:
    """When (API server time) the phase handed this scenario over to the next one."""
    handed = current(scenario).recorded.get(f"{HANDED_OVER}.{phase}")
    if handed is None:
        raise AssertionError(f"this scenario's record has no hand-over from the {phase} phase")
    return handed


def once(scenario: Scenario, what: str, act: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """An in-flight step that makes or changes something: in its own section's phase, act() runs and what it made
    (the objects the scenario created meanwhile) and its facts are recorded; in a later phase the objects are found
    again, by the same UIDs, instead. Either way the record is returned: {"at", "objects", "facts"}."""
    flight = current(scenario)
    key = f"{flight.section}.{_DATA_KEY.sub('-', what)}"
    if flight.section == flight.phase:
        before = len(scenario.created)
        facts = act() or {}
        made = [_reference(obj) for obj in scenario.created[before:]]
        done = {"at": server_now(scenario), "objects": made, "facts": facts}
        _write(scenario, flight, key, json.dumps(done, sort_keys=True))
        return done
    if key not in flight.recorded:
        raise AssertionError(
            f"{what}: {gone(flight.section, flight.phase)}: this scenario's record has no {key}; did "
            f"the {flight.section} phase get to this step?"
        )
    done = json.loads(flight.recorded[key])
    for reference in done["objects"]:
        _find(scenario, flight, reference)
    found = ", ".join(f"{ref['kind']} {ref['name']}" for ref in done["objects"]) or "nothing to find"
    scenario.attach(
        f"{what}: done {MADE[flight.section]} (phase {flight.section}, {done['at']} API server time); "
        f"found again by UID: {found}"
    )
    return dict(done)


def recorded(scenario: Scenario, what: str) -> dict[str, Any]:
    """The record of the in-flight step `what` ({"at", "objects", "facts"}), whichever section it belongs to."""
    flight = current(scenario)
    for section in UPGRADE_PHASES:
        entry = flight.recorded.get(f"{section}.{_DATA_KEY.sub('-', what)}")
        if entry is not None:
            return dict(json.loads(entry))
    raise AssertionError(f"this scenario's record holds nothing of '{what}': a step of the feature must make it first")


def _reference(obj: dict[str, Any]) -> dict[str, str]:
    metadata = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": metadata["name"], "uid": metadata["uid"]}


def _find(scenario: Scenario, flight: Flight, reference: dict[str, str]) -> None:
    kind, name, namespace = reference["kind"], reference["name"], scenario.namespace
    lost = f"{kind} {namespace}/{name} was {gone(flight.section, flight.phase)}"
    try:
        resource = scenario.kube.dynamic.resources.get(api_version=reference["apiVersion"], kind=kind)
        found = resource.get(name=name, namespace=namespace)
    except ResourceNotFoundError:
        raise AssertionError(f"{lost}: the cluster no longer serves {reference['apiVersion']} {kind}") from None
    except ApiException as error:
        if error.status == 404:
            raise AssertionError(lost) from None
        raise
    if found.metadata.uid != reference["uid"]:
        raise AssertionError(f"{lost} and made again: its UID is {found.metadata.uid}, not {reference['uid']}")
    scenario.evidence_kinds.add((reference["apiVersion"], kind))


def _delete_work(scenario: Scenario, key: str) -> list[str]:
    """Deletes every object of the namespace labelled as the scenario's work (what it owns goes with it)."""
    kube, namespace, deleted = scenario.kube, scenario.namespace, []
    for api_version, kind in namespaces.SWEPT_KINDS:
        try:
            resource = kube.dynamic.resources.get(api_version=api_version, kind=kind)
        except ResourceNotFoundError:
            continue
        listing = functools.partial(resource.get, namespace=namespace, label_selector=f"{SCENARIO_LABEL}={key}")
        for item in wait.retrying(f"listing {kind}s in flight", listing, namespaces.CLEANUP_SECONDS, kube).items:
            if item.metadata.deletionTimestamp is None:
                namespaces.delete_object(kube, api_version, kind, item.metadata.name, namespace)
                deleted.append(f"{kind} {item.metadata.name}")
    return deleted


def _finish(scenario: Scenario, flight: Flight) -> None:
    """The scenario's cleanup: keeps its work for the next phase, or deletes it (its last phase, or a failure); the
    in-flight namespace goes too once no scenario's record is left in it."""
    where = f"namespace {scenario.namespace}"
    if flight.continues:
        following = UPGRADE_PHASES[UPGRADE_PHASES.index(flight.phase) + 1]
        print(f"kfcheck: kept the work of '{scenario.title}' in {where} for the {following} phase", file=sys.stderr)
        return
    if scenario.settings.keep_namespaces:
        print(f"kfcheck: kept the work of '{scenario.title}' in {where} (-u keep_namespaces=true)", file=sys.stderr)
        return
    _delete_work(scenario, flight.key)
    if flight.own_namespace and not _anything_in_flight(scenario):
        namespaces.delete(scenario.kube, scenario.namespace)


def _anything_in_flight(scenario: Scenario) -> bool:
    listing = functools.partial(scenario.kube.core.list_namespaced_config_map, scenario.namespace,
                                label_selector=f"{LABEL}=true")  # fmt: skip
    listed = wait.retrying("listing the records in flight", listing, namespaces.CLEANUP_SECONDS, scenario.kube)
    return any(item.metadata.deletion_timestamp is None for item in listed.items)
