"""Objects the old version of Kubeflow made, read back at every version their CRD serves after the upgrade and
after the rollback (features/upgrade.feature): the same object (its UID), at the version asked for, with the spec
it had when it was made.

The versions a CRD serves are read from the CRD (apiextensions: spec.versions served=true, with its storage version
and conversion strategy); a user who may not read CRDs (a Profile user with kubeflow-edit) gets them from API
discovery instead, which lists exactly the versions served for a resource."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kfcheck.core import manifests, wait
from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import in_flight, in_flight_work, notebook, poddefault, pytorchjob, tfjob, trainjob
from kfcheck.kubeflow.in_flight_work import Kind


def _wait(scenario: Scenario, kind: str, name: str, what: str, done: Any) -> None:
    spec, namespace = in_flight_work.kind_of(kind), scenario.namespace

    def list_objects(in_namespace: str, **kwargs: Any) -> Any:
        return scenario.kube.custom.list_namespaced_custom_object(spec.group, spec.version, in_namespace, spec.plural,
                                                                  **kwargs)  # fmt: skip

    wait.until(scenario.kube, wait.Wait(f"{kind} {namespace}/{scenario.name(name)} {what}",
                                        wait.Target(list_objects, namespace, scenario.name(name)), done=done,
                                        timeout=scenario.settings.timeout))  # fmt: skip


def _make(scenario: Scenario, kind: str, name: str) -> None:
    """The object, made as the kind's own feature makes it but as cheaply as it comes, and reconciled by the old
    version where a controller acts on it: the jobs that only report their wiring, done; a suspended TrainJob,
    reporting itself suspended (no pod); a stopped Notebook with its status written (no pod); a PodDefault."""
    if kind in ("PyTorchJob", "TFJob"):
        module = pytorchjob if kind == "PyTorchJob" else tfjob
        module.submit_wiring_check(scenario, name, 1)
        module.wait_succeeded(scenario, name)
    elif kind == "TrainJob":
        trainjob.submit_wiring_check(scenario, name, 1, suspend=True)
        _wait(scenario, kind, name, "to report itself suspended", lambda found: wait.has_condition(found, "Suspended"))
    elif kind == "Notebook":
        objects = manifests.render("notebook", name=scenario.name(name), labels={"app": name},
                                   image=scenario.settings.notebook_image)  # fmt: skip
        objects[0]["metadata"]["annotations"] = {notebook.STOP_ANNOTATION: in_flight.server_now(scenario)}
        scenario.create_objects(objects)
        _wait(scenario, kind, name, "to have its status written (stopped)",
              lambda found: "readyReplicas" in (found.get("status") or {}))  # fmt: skip
    else:
        scenario.create("poddefault-annotations", name=scenario.name(name), label=poddefault.selector_label(scenario))


def make_readable(scenario: Scenario, kind: str, name: str) -> None:
    """'a <kind> "<name>" was made before the upgrade': made (and reconciled) by the old version; its spec as made
    is recorded."""
    spec = in_flight_work.kind_of(kind)
    in_flight_work.uses(scenario, spec)

    def act() -> dict[str, Any]:
        _make(scenario, kind, name)
        return {"version": spec.api.api_version, "spec": in_flight_work.get(scenario, kind, name).get("spec")}

    in_flight.once(scenario, f"readable {kind} {name}", act)


def served_versions(scenario: Scenario, spec: Kind) -> tuple[list[str], str]:
    """The versions the kind's CRD serves, and where that was read (with the CRD's storage version and conversion)."""
    crd_name = f"{spec.plural}.{spec.group}"
    try:
        crd = client.ApiextensionsV1Api(scenario.kube.api).read_custom_resource_definition(crd_name)
    except ApiException as error:
        if error.status != 403:
            raise
    else:
        versions = [version.name for version in crd.spec.versions if version.served]
        storage = next((version.name for version in crd.spec.versions if version.storage), "?")
        strategy = crd.spec.conversion.strategy if crd.spec.conversion else "None"
        return versions, (f"the versions CRD {crd_name} serves (storage version {storage}, stored versions "
                          f"{crd.status.stored_versions}, conversion {strategy})")  # fmt: skip
    found = scenario.kube.dynamic.resources.search(group=spec.group, kind=spec.api.kind)
    versions = sorted({resource.api_version for resource in found if resource.name == spec.plural})
    return versions, f"the versions API discovery lists for {spec.plural}.{spec.group} (this user may not read CRDs)"


def differences(found: Any, made: Any, path: str = "spec") -> list[str]:
    """Where `found` lacks or changed what `made` had (fields `found` has besides are defaults, not differences)."""
    if isinstance(made, dict):
        if not isinstance(found, dict):
            return [f"{path}: {found!r}, made as a mapping"]
        return [text for key, value in made.items() for text in differences(found.get(key), value, f"{path}.{key}")]
    if isinstance(made, list):
        if not isinstance(found, list) or len(found) != len(made):
            return [f"{path}: {found!r}, made as {made!r}"]
        return [text for index, pair in enumerate(zip(found, made, strict=True))
                for text in differences(*pair, f"{path}[{index}]")]  # fmt: skip
    return [] if found == made else [f"{path}: {found!r}, made as {made!r}"]


def check_readable(scenario: Scenario, kind: str, name: str) -> None:
    """The object made before the upgrade reads back at every version its CRD serves now: the same UID, the
    apiVersion asked for, and everything its spec had when it was made."""
    spec = in_flight_work.kind_of(kind)
    entry = in_flight.recorded(scenario, f"readable {kind} {name}")
    made = next(reference for reference in entry["objects"] if reference["kind"] == kind)
    versions, source = served_versions(scenario, spec)
    problems, read = [], []
    for version in versions:
        asked = f"{spec.group}/{version}"
        try:
            found = in_flight_work.get(scenario, kind, name, version)
        except ApiException as error:
            problems.append(f"{asked}: {error.status} {wait.status_message(error)}")
            continue
        uid = found["metadata"].get("uid")
        if uid != made["uid"]:
            problems.append(f"{asked}: UID {uid}, not {made['uid']} as made before the upgrade")
        if found.get("apiVersion") != asked:
            problems.append(f"{asked}: answered as {found.get('apiVersion')}")
        problems += [f"{asked}: {text}" for text in differences(found.get("spec"), entry["facts"]["spec"])]
        read.append(asked)
    subject = f"{kind} {scenario.namespace}/{made['name']}"
    assert versions, f"the cluster serves no version of {spec.plural}.{spec.group} ({source})"
    assert not problems, f"{subject}, made at {entry['facts']['version']} before the upgrade, does not read back " + (
        f"at every version served ({source}):\n  " + "\n  ".join(problems))  # fmt: skip
    scenario.attach(
        f"{subject}, made at {entry['facts']['version']} before the upgrade (UID {made['uid']}), read back "
        f"with that UID and its spec at {', '.join(read)}: {source}"
    )
