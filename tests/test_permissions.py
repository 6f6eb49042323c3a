"""deploy/rbac/ grants exactly what kfcheck/core/permissions.py says the features need, per scope."""

from __future__ import annotations

from pathlib import Path

import yaml

from kfcheck.core import permissions
from kfcheck.core.permissions import CLUSTER, COMPONENTS, SCENARIO, Permission

MANIFEST = Path(__file__).resolve().parents[1] / "deploy" / "rbac" / "kfcheck-rbac.yaml"
ROLE_SCOPE = {"kfcheck-scenario": SCENARIO, "kfcheck-namespaces": CLUSTER, "kfcheck-helm-upgrade": COMPONENTS}


def granted() -> set[Permission]:
    found: set[Permission] = set()
    for role in yaml.safe_load_all(MANIFEST.read_text()):
        if not role:
            continue
        scope = ROLE_SCOPE[role["metadata"]["name"]]
        for rule in role["rules"]:
            found.update(
                Permission(group, resource, verb, scope)
                for group in rule["apiGroups"]
                for resource in rule["resources"]
                for verb in rule["verbs"]
            )
    return found


def test_the_shipped_roles_grant_exactly_what_the_features_need() -> None:
    tags = set(permissions.BY_FEATURE_TAG) | set(permissions.BY_SCENARIO_TAG)
    needed = set(permissions.needed(tags)) | set(permissions.NAMESPACE_PER_SCENARIO)
    assert granted() == needed


def test_every_feature_needs_what_every_scenario_needs() -> None:
    for tag in permissions.BY_FEATURE_TAG:
        assert set(permissions.EVERY_SCENARIO) <= set(permissions.needed({tag}))
