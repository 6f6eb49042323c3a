"""What the cluster under test offers, found by API discovery (no CRD reads: a user with Kubeflow's
kubeflow-edit rights in a Profile namespace may not read CustomResourceDefinitions, but everyone may
discover). A feature whose API is absent is skipped with the reason; the run goes on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubernetes.dynamic.exceptions import ResourceNotFoundError

from kfcheck.core.kube import Kube

if TYPE_CHECKING:
    from kfcheck.core.scenario import Scenario


@dataclass(frozen=True)
class Api:
    api_version: str
    kind: str
    provided_by: str  # the Kubeflow component that serves it, for the reason a feature is skipped

    def __str__(self) -> str:
        return f"{self.kind} ({self.api_version}, from {self.provided_by})"


class Unavailable(Exception):
    """The cluster lacks what a feature needs: its scenarios are skipped with this reason."""


def serves(kube: Kube, api: Api) -> bool:
    try:
        kube.dynamic.resources.get(api_version=api.api_version, kind=api.kind)
    except ResourceNotFoundError:
        return False
    return True


def require(kube: Kube, *apis: Api) -> None:
    missing = [str(api) for api in apis if not serves(kube, api)]
    if missing:
        raise Unavailable(f"the cluster does not serve {', '.join(missing)}")


def requirement(*apis: Api) -> Callable[[Scenario], None]:
    """A step that skips its scenario (Unavailable) unless the cluster serves every one of the APIs."""

    def check(scenario: Scenario) -> None:
        require(scenario.kube, *apis)

    return check
