"""Whether a rollback can read what the upgrade stored: the CustomResourceDefinitions of Kubeflow's groups,
their served versions when the gate started and their stored versions (`status.storedVersions`) before the
rollback.

An upgrade may make a new version of a CRD its storage version: objects written since are kept in etcd as
that version. The old release's CRD does not serve it, so after a rollback the API server cannot read those
objects back (nor can the old controllers). The check refuses such a rollback, naming the CRD, the versions
stored, the versions the old release served and the objects of that kind. A CRD the upgrade added is listed
(the rollback may remove it, and its objects with it), never refused. A version stored before the upgrade
already (a migration the old release left unfinished) is no reason to refuse either.

The check itself works on plain dicts (CRDs as the API server returns them), so it needs no cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# The API groups of Kubeflow's CRDs (training operator and notebooks; Trainer; JobSet, which Trainer needs).
KUBEFLOW_CRD_GROUPS = ["kubeflow.org", "trainer.kubeflow.org", "jobset.x-k8s.io"]
OBJECTS_LISTED = 20  # objects named per refused CRD


@dataclass
class CrdVersions:
    name: str  # pytorchjobs.kubeflow.org
    group: str
    kind: str
    plural: str
    served: list[str]  # versions the CRD serves
    stored: list[str]  # status.storedVersions: every version objects may be stored as
    storage: str = ""  # the version objects are stored as now

    def summary(self) -> dict[str, list[str]]:
        return {"served": self.served, "stored": self.stored}


@dataclass
class Refusal:
    crd: str
    kind: str
    unreadable: list[str]  # stored now, not served by the release the rollback returns to
    served_before: list[str]
    objects: list[str] = field(default_factory=list)  # namespace/name of objects of that kind
    more_objects: bool = False  # more than those listed

    def message(self) -> str:
        objects = ", ".join(self.objects) if self.objects else "none listed"
        more = " and more" if self.more_objects else ""
        return (
            f"{self.crd}: objects are stored as {', '.join(self.unreadable)}, which the release before the upgrade "
            f"did not serve (it served {', '.join(self.served_before) or 'no version'}): after a rollback the "
            f"{self.kind} objects stored so could not be read. Objects of kind {self.kind}: {objects}{more}"
        )


@dataclass
class RollbackCheck:
    refusals: list[Refusal] = field(default_factory=list)
    added: list[str] = field(default_factory=list)  # CRDs the upgrade added: the rollback may remove them
    removed: list[str] = field(default_factory=list)  # CRDs the upgrade removed: the rollback brings them back

    @property
    def safe(self) -> bool:
        return not self.refusals

    def message(self) -> str:
        if self.safe:
            added = f"; added by the upgrade (the rollback may remove them): {', '.join(self.added)}"
            safe = "every stored version of Kubeflow's CRDs is one the release before the upgrade served"
            return safe + (added if self.added else "")
        return "the rollback is refused: " + " | ".join(refusal.message() for refusal in self.refusals)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": "safe" if self.safe else "refused",
            "message": self.message(),
            "refusals": [asdict(refusal) for refusal in self.refusals],
            "added_by_the_upgrade": self.added,
            "removed_by_the_upgrade": self.removed,
        }


def versions_of(crd: dict[str, Any]) -> CrdVersions:
    """A CRD's versions, from the CRD as the API server returns it (camelCase JSON)."""
    spec, status = crd.get("spec") or {}, crd.get("status") or {}
    versions = spec.get("versions") or []
    return CrdVersions(
        name=str((crd.get("metadata") or {}).get("name", "")),
        group=str(spec.get("group", "")),
        kind=str((spec.get("names") or {}).get("kind", "")),
        plural=str((spec.get("names") or {}).get("plural", "")),
        served=[str(version["name"]) for version in versions if version.get("served")],
        stored=[str(version) for version in status.get("storedVersions") or []],
        storage=next((str(version["name"]) for version in versions if version.get("storage")), ""),
    )


def of_groups(crds: Iterable[dict[str, Any]], groups: Iterable[str] = KUBEFLOW_CRD_GROUPS) -> dict[str, CrdVersions]:
    """The CRDs of the given API groups, by name."""
    wanted = set(groups)
    found = (versions_of(crd) for crd in crds)
    return {crd.name: crd for crd in sorted(found, key=lambda crd: crd.name) if crd.group in wanted}


def check_rollback(before: dict[str, CrdVersions], now: dict[str, CrdVersions]) -> RollbackCheck:
    """`before`: the CRDs when the gate started (the release the rollback returns to); `now`: before the rollback."""
    check = RollbackCheck(removed=sorted(set(before) - set(now)))
    for name, crd in now.items():
        old = before.get(name)
        if old is None:
            check.added.append(name)
            continue
        unreadable = [version for version in crd.stored if version not in old.served and version not in old.stored]
        if unreadable:
            check.refusals.append(Refusal(name, crd.kind, unreadable, old.served))
    return check


ObjectLister = Callable[[CrdVersions, int], tuple[list[str], bool]]  # (namespace/name ..., more than listed)


def name_objects(check: RollbackCheck, now: dict[str, CrdVersions], list_objects: ObjectLister) -> None:
    """Names the objects of each refused CRD's kind (up to OBJECTS_LISTED); what cannot be listed is said."""
    for refusal in check.refusals:
        try:
            refusal.objects, refusal.more_objects = list_objects(now[refusal.crd], OBJECTS_LISTED)
        except Exception as error:
            refusal.objects = [f"(could not be listed: {error.__class__.__name__}: {str(error)[:200]})"]


def summaries(crds: dict[str, CrdVersions]) -> dict[str, dict[str, list[str]]]:
    return {name: crd.summary() for name, crd in crds.items()}
