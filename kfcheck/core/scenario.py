"""One scenario of a run, handed to every library call: the cluster client, the settings, the namespace
it works in, the objects it created, its cleanups and what to gather as evidence when a step fails.

Two ways to have a namespace (kfcheck/core/namespaces.py): a namespace of its own, created and deleted with
the scenario (the default), or a shared one the user names (`-u namespace=`, e.g. a Kubeflow Profile
namespace), where the scenario's objects get unique names and are deleted one by one afterwards.
"""

from __future__ import annotations

import base64
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kfcheck.core import manifests
from kfcheck.core.config import Settings
from kfcheck.core.kube import Kube

MANAGED_BY = "app.kubernetes.io/managed-by"


@dataclass(frozen=True)
class Controller:
    """A Kubeflow controller or webhook whose log is evidence when a scenario that used it fails."""

    name: str
    # Label selectors of its pods under the installs known (kubeflow/manifests, Helm charts, ours); the
    # first that finds pods names them. Installs label differently, and a selector cannot OR two keys.
    label_selectors: tuple[str, ...]
    # The Settings keys naming the namespaces it may run in, tried in order.
    namespace_settings: tuple[str, ...] = ("kubeflow_namespace",)


@dataclass
class Scenario:
    kube: Kube
    settings: Settings
    title: str
    labels: dict[str, str]  # put on every object the scenario creates (run id, owner), for sweeps
    namespace: str = ""
    shared_namespace: bool = False
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    started: float = field(default_factory=time.time)
    created: list[dict[str, Any]] = field(default_factory=list)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    evidence_kinds: set[tuple[str, str]] = field(default_factory=set)
    controllers: dict[str, Controller] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)  # what a step leaves for a later step to check
    step: Any = None  # the radish step running now: attachments go to it

    def name(self, base: str) -> str:
        """The name of one of the scenario's objects: as written in a namespace of its own, made unique in a
        shared one."""
        return f"{base}-{self.suffix}" if self.shared_namespace else base

    def owns(self, name: str) -> bool:
        """Whether an object (or a pod a controller made for one) is this scenario's, by its name."""
        return not self.shared_namespace or self.suffix in name

    def create(self, fixture: str, **values: Any) -> list[dict[str, Any]]:
        """Creates the objects of the fixture <fixture>.yaml (kfcheck/kubeflow/fixtures/) in the scenario's namespace,
        labelled as its own."""
        return self.create_objects(manifests.render(fixture, **values))

    def create_objects(self, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Creates the objects labelled as the scenario's; claims get the StorageClass of -u storage_class=
        (without it, the cluster's default class)."""
        for obj in objects:
            metadata = obj.setdefault("metadata", {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
            if obj.get("kind") == "PersistentVolumeClaim" and self.settings.storage_class:
                obj["spec"]["storageClassName"] = self.settings.storage_class
        created = manifests.create(self.kube, objects, self.namespace)
        for obj in created:
            self.created.append(obj)
            self.evidence_kinds.add((obj["apiVersion"], obj["kind"]))
        return created

    def uses(self, controller: Controller, *kinds: tuple[str, str]) -> None:
        """Registers a Kubeflow controller that acts for this scenario, and kinds it makes, as evidence."""
        self.controllers[controller.name] = controller
        self.evidence_kinds.update(kinds)

    def on_cleanup(self, undo: Callable[[], None]) -> None:
        """Runs after the scenario, whatever happened (last registered, first run)."""
        self.cleanups.append(undo)

    def table(self) -> list[dict[str, str]]:
        """The running step's data table, one dict per row keyed by the header (none: empty)."""
        return list(getattr(self.step, "table", None) or [])

    def attach_binary(self, data: bytes, media_type: str, caption: str) -> None:
        """A file (a screenshot, ...) with the running step in the reports; the console gets its caption."""
        print(f"kfcheck: {caption} ({len(data)} bytes of {media_type} attached)", file=sys.stderr, flush=True)
        if self.step is not None:
            self.step.embed(base64.b64encode(data).decode(), mime_type=media_type, encode_data_to_base64=False)

    def attach(self, text: str) -> None:
        """Text shown with the running step in the console and the reports."""
        print(f"kfcheck: {text}", file=sys.stderr, flush=True)
        if self.step is not None:
            self.step.embed(text)
