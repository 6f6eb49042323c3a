"""kfcheck's PodDefault webhook against upstream's own code on random pods and PodDefaults.

`cases()` makes the same 400 pods-with-PodDefaults every time (random.Random(seed).random() is the one
sequence Python guarantees across versions). Each was run once through upstream Kubeflow v1.10.0's webhook
functions (components/admission-webhook/main.go: filterPodDefaults, safeToApplyPodDefaultsOnPod,
applyPodDefaultsOnPod, the patch of mattbaird/jsonpatch; the steps of mutatePods after the PodDefault list)
by tests/data/poddefault-upstream/harness_test.go; tests/data/poddefault-upstream/outcomes.json holds a
digest of each outcome: admitted or not, the conflicts named in the refusal, the pod the API server would
hold after the patch (or that it cannot apply the patch). Ours must give the same.
tests/data/poddefault-upstream/README.md says how to run upstream's side again.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "components"))

from kubeflow_lite import go_values
from kubeflow_lite import poddefault_webhook as wh

from tests.test_kubeflow_lite import PatchRefused, apply_json_patch, lister_of

DATA = Path(__file__).resolve().parent / "data" / "poddefault-upstream"
SEED, COUNT = 20260110, 400
_CONFLICT = re.compile(r"merging [a-zA-Z ]*?(?:for \S+ )?has (?:a )?conflict on [^:]*")


class Maker:
    """Small random Kubernetes objects, from a vocabulary where names, paths and keys often collide."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311 (a fixed sequence of test cases, not a secret)

    def chance(self, p: float) -> bool:
        return self.random.random() < p

    def pick(self, *choices: Any) -> Any:
        return choices[int(self.random.random() * len(choices))]

    def some(self, make: Callable[[], Any], low: int = 1, high: int = 2) -> list[Any]:
        return [make() for _ in range(low + int(self.random.random() * (high - low + 1)))]

    def env(self) -> dict[str, Any]:
        var: dict[str, Any] = {"name": self.pick("A", "B", "C")}
        kind = self.random.random()
        if kind < 0.4:
            var["value"] = self.pick("1", "2", "")
        elif kind < 0.6:
            optional = {"optional": self.pick(True, False)} if self.chance(0.4) else {}
            var["valueFrom"] = {"configMapKeyRef": {"name": "cm", "key": "k", **optional}}
        elif kind < 0.7:
            var["valueFrom"] = None
        return var

    def mount(self) -> dict[str, Any]:
        mount: dict[str, Any] = {"name": self.pick("v", "w"), "mountPath": self.pick("/a", "/b")}
        if self.chance(0.3):
            mount["readOnly"] = self.pick(True, False)
        if self.chance(0.15):
            mount["subPath"] = self.pick("", "x")
        return mount

    def volume(self) -> dict[str, Any]:
        if self.chance(0.4):
            return {"name": self.pick("v", "w"), "emptyDir": self.pick({}, {"medium": ""}, {"medium": "Memory"})}
        source: dict[str, Any] = {"name": "cm"}
        if self.chance(0.3):
            source["defaultMode"] = self.pick(420, 0)
        if self.chance(0.3):
            source["optional"] = self.pick(True, False)
        return {"name": self.pick("v", "w"), "configMap": source}

    def toleration(self) -> dict[str, Any]:
        toleration: dict[str, Any] = {"key": self.pick("a", "b", ""), "operator": self.pick("Exists", "Equal")}
        if self.chance(0.3):
            toleration["effect"] = self.pick("", "NoSchedule")
        if self.chance(0.2):
            toleration["tolerationSeconds"] = self.pick(0, 5)
        return toleration

    def env_from(self) -> dict[str, Any]:
        config_map = {"configMapRef": {"name": "x"}}
        return dict(self.pick(config_map, {"secretRef": {"name": "y"}}, {**config_map, "prefix": ""},
                              {"prefix": "P_", **config_map}))  # fmt: skip

    def container(self, name: str) -> dict[str, Any]:
        container: dict[str, Any] = {"name": name, "image": self.pick("i", "j")}
        for field, make in (("env", self.env), ("volumeMounts", self.mount), ("envFrom", self.env_from)):
            if self.chance(0.3):
                container[field] = self.some(make, 0, 2)
        if self.chance(0.2):
            container["command"] = self.pick([], ["x"])
        if self.chance(0.1):
            container["tty"] = self.pick(True, False)
        return container

    def pod_lists(self) -> dict[str, Callable[[], Any]]:
        return {"volumes": self.volume, "tolerations": self.toleration,
                "imagePullSecrets": lambda: {"name": self.pick("a", "b")},
                "initContainers": lambda: self.container(self.pick("i1", "i2"))}  # fmt: skip

    def pod(self) -> dict[str, Any]:
        names = [name for name in ("c", "d", "s", "istio-proxy") if self.chance(0.5)] or ["c"]
        spec: dict[str, Any] = {"containers": [self.container(name) for name in names]}
        for field, make in self.pod_lists().items():
            if self.chance(0.3):
                spec[field] = self.some(make)
        labels = {"add": "true", **({"t": self.pick("1", "2")} if self.chance(0.3) else {})}
        metadata: dict[str, Any] = {"name": "p", "namespace": "team", "labels": labels}
        if self.chance(0.4):
            metadata["annotations"] = {self.pick("a", "b"): self.pick("1", "2")}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}

    def poddefault(self, index: int) -> dict[str, Any]:
        selector = self.pick({"matchLabels": {"add": "true"}}, {}, {"matchLabels": {"t": "1"}})
        spec: dict[str, Any] = {"selector": selector}
        lists = {"env": self.env, "volumeMounts": self.mount, "envFrom": self.env_from, **self.pod_lists(),
                 "sidecars": lambda: self.container(self.pick("s", "t"))}  # fmt: skip
        for field, make in lists.items():
            if self.chance(0.25):
                spec[field] = self.some(make)
        for field, make in (("annotations", lambda: {self.pick("a", "b"): self.pick("1", "2")}),
                            ("labels", lambda: {self.pick("t", "u"): self.pick("1", "2")}),
                            ("command", lambda: self.pick(["run"], [])), ("args", lambda: ["--x"]),
                            ("serviceAccountName", lambda: self.pick("sa", ""))):  # fmt: skip
            if self.chance(0.2):
                spec[field] = make()
        if self.chance(0.1):
            spec["automountServiceAccountToken"] = self.pick(True, False)
        metadata = {"name": f"pd{index}", "namespace": "team", "resourceVersion": "7"}
        return {"apiVersion": "kubeflow.org/v1alpha1", "kind": "PodDefault", "metadata": metadata, "spec": spec}


def cases() -> list[dict[str, Any]]:
    maker = Maker(SEED)
    made = []
    for number in range(COUNT):
        pod = maker.pod()
        poddefaults = [maker.poddefault(index) for index in range(1 + int(maker.random.random() * 3))]
        made.append({"name": f"case-{number}", "pod": pod, "poddefaults": poddefaults, "namespace": "team"})
    return made


def outcome_digest(pod: dict[str, Any], allowed: bool, message: str, patch: list[dict[str, Any]] | None) -> str:
    """What the API server makes of the webhook's answer, as a short digest."""
    admitted: Any = None
    if allowed:
        try:
            admitted = go_values.marshalled("Pod", apply_json_patch(pod, patch or []))
        except PatchRefused:
            admitted = "the API server cannot apply the patch"
    outcome = {"allowed": allowed, "conflicts": sorted(_CONFLICT.findall(message)), "admitted": admitted}
    return hashlib.sha256(go_values.canonical(outcome).encode()).hexdigest()[:16]


def test_ours_answers_as_upstream_did() -> None:
    expected = json.loads((DATA / "outcomes.json").read_text())
    assert expected["seed"] == SEED and len(expected["outcomes"]) == COUNT
    different = []
    for case, digest in zip(cases(), expected["outcomes"], strict=True):
        decision = wh.review(case["pod"], case["namespace"], lister_of(case["poddefaults"]))
        if outcome_digest(case["pod"], decision.allowed, decision.message, decision.patch) != digest:
            different.append(case["name"])
    assert not different, f"answered otherwise than upstream v1.10.0: {different}"


if __name__ == "__main__":  # writes the cases for upstream's harness, or the outcomes from its results
    if sys.argv[1] == "cases":
        Path(sys.argv[2]).write_text(json.dumps(cases()))
    else:
        results = json.loads(Path(sys.argv[2]).read_text())
        digests = [outcome_digest(case["pod"], result["allowed"], result["message"], result["patch"])
                   for case, result in zip(cases(), results, strict=True)]  # fmt: skip
        upstream = "kubeflow/kubeflow v1.10.0 components/admission-webhook"
        document = {"seed": SEED, "upstream": upstream, "outcomes": digests}
        (DATA / "outcomes.json").write_text(json.dumps(document, indent=1) + "\n")
