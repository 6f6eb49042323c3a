"""Least privilege, checked first: the permissions each feature needs, asked of the API server with
SelfSubjectAccessReviews before anything runs.

A feature whose permissions are missing is skipped with the missing ones and the fix named; the run goes
on. The permissions of the run itself (a namespace per scenario) are required: without them nothing runs.
deploy/rbac/ holds the matching Role and ClusterRole (tests/test_permissions.py keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client

from kfcheck.core.kube import Kube

READ = ("get", "list", "watch")
WRITE = ("create", "delete")


SCENARIO, COMPONENTS, CLUSTER = "the scenario's namespace", "the Kubeflow components' namespace", "the cluster"


@dataclass(frozen=True, order=True)
class Permission:
    group: str
    resource: str
    verb: str
    scope: str = SCENARIO

    def __str__(self) -> str:
        return f"{self.verb} {self.resource}" + (f".{self.group}" if self.group else "") + f" in {self.scope}"


def _grant(group: str, resources: tuple[str, ...], verbs: tuple[str, ...], scope: str = SCENARIO) -> list[Permission]:
    return [Permission(group, resource, verb, scope) for resource in resources for verb in verbs]


# What every scenario does in its namespace: run pods and read them, and gather evidence when a step fails.
EVERY_SCENARIO = [
    *_grant("", ("pods",), READ + WRITE),
    *_grant("", ("pods/log", "services", "events", "persistentvolumeclaims", "configmaps", "secrets"), READ),
]
TRAINING = _grant("kubeflow.org", ("pytorchjobs", "tfjobs"), READ)
BY_FEATURE_TAG: dict[str, list[Permission]] = {
    "pytorch": _grant("kubeflow.org", ("pytorchjobs",), READ + WRITE) + TRAINING,
    "tfjob": _grant("kubeflow.org", ("tfjobs",), READ + WRITE) + TRAINING,
    "notebook": [
        *_grant("kubeflow.org", ("notebooks", "poddefaults"), READ + WRITE),
        *_grant("", ("secrets", "persistentvolumeclaims"), WRITE),
    ],
    "kaniko": _grant("", ("persistentvolumeclaims", "configmaps"), WRITE),
    "trainer": [
        *_grant("trainer.kubeflow.org", ("trainjobs",), (*READ, *WRITE, "patch")),
        *_grant("batch", ("jobs",), ("list",)),
    ],
    # work in flight through a release upgrade (kfcheck/kubeflow/in_flight.py): every Kubeflow kind above, the
    # record of each scenario (a ConfigMap, patched in each phase) and the wait for a TrainJob's Job to have its pods
    # ready. Reading the CRDs (the versions they serve) and the controllers' pods (the timeline) is not needed: a
    # user without it gets API discovery and a timeline that says so.
    "upgrade": [
        *_grant("kubeflow.org", ("pytorchjobs", "tfjobs", "notebooks", "poddefaults"), READ + WRITE),
        *_grant("trainer.kubeflow.org", ("trainjobs",), (*READ, *WRITE, "patch")),
        *_grant("batch", ("jobs",), ("list", "watch")),
        *_grant("", ("secrets", "persistentvolumeclaims"), WRITE),
        *_grant("", ("configmaps",), (*WRITE, "patch")),
    ],
    # helm upgrade/rollback of the Kubeflow release: its release Secrets and the Deployments of the chart, in
    # the components' namespace; only an administrator of Kubeflow has these
    "helm-upgrade": [
        *_grant("", ("secrets",), ("list", "get", "create", "update", "delete"), COMPONENTS),
        *_grant("apps", ("deployments",), ("list", "get", "patch", "update"), COMPONENTS),
        *_grant("kubeflow.org", ("pytorchjobs",), READ + WRITE),
    ],
}
# Scenarios (by their own tag) that need more than their feature: kubeflow/manifests aggregates TrainJobs into
# kubeflow-edit but not JobSets, so a Profile user runs TrainJobs and only the scenarios reading the JobSet
# Trainer made are skipped.
BY_SCENARIO_TAG: dict[str, list[Permission]] = {"jobset": _grant("jobset.x-k8s.io", ("jobsets",), ("get",))}
NAMESPACE_PER_SCENARIO = _grant("", ("namespaces",), ("create", "delete", "list"), CLUSTER)


def allowed(kube: Kube, permission: Permission, namespace: str | None) -> bool:
    """Whether the user may; `namespace` None asks for every namespace (a ClusterRole's grant)."""
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                group=permission.group,
                resource=permission.resource.split("/")[0],
                subresource=permission.resource.split("/")[1] if "/" in permission.resource else None,
                verb=permission.verb,
                namespace=namespace,
            )
        )
    )
    result = client.AuthorizationV1Api(kube.api).create_self_subject_access_review(review)
    return bool(result.status.allowed)


def needed(tags: set[str]) -> list[Permission]:
    """What features and scenarios with these tags need in a scenario's namespace."""
    found = set(EVERY_SCENARIO)
    for tag in tags:
        found.update(BY_FEATURE_TAG.get(tag, []) + BY_SCENARIO_TAG.get(tag, []))
    return sorted(found)


def scenario_lacks(checker: Checker, tags: set[str]) -> str | None:
    """Why a scenario (its own tags and its feature's) cannot run for lack of permissions, or None. Its
    feature's needs were checked before the run (preflight); the checker asks each permission once."""
    lacking = checker.missing(needed(tags & set(BY_SCENARIO_TAG)))
    return report(lacking) if lacking else None


class Checker:
    """Asks once per permission and namespace (features share most of what they need)."""

    def __init__(self, kube: Kube, scenario_namespace: str | None, components_namespace: str) -> None:
        self.kube, self.answers = kube, dict[tuple[Permission, str | None], bool]()
        self.namespaces = {SCENARIO: scenario_namespace, COMPONENTS: components_namespace, CLUSTER: None}

    def missing(self, permissions: list[Permission]) -> list[Permission]:
        lacking = []
        for permission in permissions:
            key = (permission, self.namespaces[permission.scope])
            if key not in self.answers:
                self.answers[key] = allowed(self.kube, permission, key[1])
            if not self.answers[key]:
                lacking.append(permission)
        return lacking


FIX = "grant them with deploy/rbac/ (see README, section Permissions)"


def report(lacking: list[Permission]) -> str:
    return "missing permissions: " + ", ".join(str(permission) for permission in lacking) + f"; {FIX}"


class Refused(RuntimeError):
    """The run itself may not do what it must (create its namespaces): nothing can run."""


def preflight(checker: Checker, features: dict[str, set[str]]) -> dict[str, str]:
    """Feature name -> why it is skipped, for each selected feature (name -> its tags) lacking permissions;
    Refused when the run's own permissions are missing."""
    lacking = [] if checker.namespaces[SCENARIO] else checker.missing(NAMESPACE_PER_SCENARIO)
    if lacking:
        raise Refused(
            f"the run cannot create a namespace per scenario: {report(lacking)}; or run inside a namespace where "
            "you may work with -u namespace=NAME"
        )
    reasons = {}
    for feature, tags in features.items():
        lacking = checker.missing(needed(tags))
        if lacking:
            reasons[feature] = report(lacking)
    return reasons
