"""PodDefault (kubeflow.org/v1alpha1): what the admission webhook injects into the pods it selects."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck import manifests, wait
from kfcheck.config import Settings
from kfcheck.kube import Kube

CLAIM, LABEL, ENV_NAME, ENV_VALUE, MOUNT_PATH = (
    "workspace",
    "add-poddefault",
    "POD_DEFAULT",
    "Testing is enabled",
    "/shared",
)
ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org/poddefault-"
EXCLUDE_ANNOTATION = "poddefault.admission.kubeflow.org/exclude"  # Kubeflow's webhook leaves such pods alone
EVERYONE_ENV_NAME, EVERYONE_ENV_VALUE = "FOR_EVERY_POD", "yes"


@dataclass
class Refusal:
    """How the API server refused a pod: the HTTP status and the message (the webhook's reason in it)."""

    status: int
    message: str


def create_secret_and_volume(kube: Kube, settings: Settings, namespace: str) -> None:
    objects = manifests.render("poddefault-secret", claim=CLAIM, secret_value=secrets.token_hex(8))
    if settings.storage_class:
        objects[1]["spec"]["storageClassName"] = settings.storage_class
    manifests.create(kube, objects, namespace)
    wait.wait_for(
        kube, f"claim {CLAIM} to be bound", kube.core.list_namespaced_persistent_volume_claim, namespace, CLAIM,
        done=lambda claim: (claim.get("status") or {}).get("phase") == "Bound", timeout=settings.timeout,
        watch_pods=False,
    )  # fmt: skip
    claim = kube.core.read_namespaced_persistent_volume_claim(CLAIM, namespace)
    assert "ReadWriteMany" in (claim.status.access_modes or []), f"claim {CLAIM} is {claim.status.access_modes}"


def create(kube: Kube, namespace: str, name: str) -> None:
    manifests.apply_fixture(
        kube, "poddefault", namespace, name=name, description=f"{name} for kfcheck", label=LABEL, env_name=ENV_NAME,
        env_value=ENV_VALUE, claim=CLAIM, mount_path=MOUNT_PATH,
    )  # fmt: skip


def create_second(kube: Kube, namespace: str, name: str) -> None:
    manifests.apply_fixture(kube, "poddefault-annotations", namespace, name=name, label=LABEL)


def create_for_every_pod(kube: Kube, namespace: str, name: str) -> None:
    """A PodDefault whose selector is empty: it applies to every pod created in the namespace."""
    manifests.apply_fixture(
        kube, "poddefault-everyone", namespace, name=name, env_name=EVERYONE_ENV_NAME, env_value=EVERYONE_ENV_VALUE
    )


def create_pod(
    kube: Kube, settings: Settings, namespace: str, name: str, selected: bool, excluded: bool = False
) -> None:
    labels = {"app": name, **({LABEL: "true"} if selected else {})}
    annotations = {EXCLUDE_ANNOTATION: "true"} if excluded else {}
    manifests.apply_fixture(
        kube, "labelled-pod", namespace, name=name, labels=labels, annotations=annotations, image=settings.busybox_image
    )


def pod(kube: Kube, namespace: str, name: str) -> Any:
    return kube.core.read_namespaced_pod(name, namespace)


def check_injected(pod_object: Any, poddefault_names: list[str]) -> None:
    """The pod carries exactly the PodDefault's env (plain and secret-backed), volume and mount."""
    container = pod_object.spec.containers[0]
    env = {e.name: e for e in container.env or []}
    assert ENV_NAME in env and env[ENV_NAME].value == ENV_VALUE, f"env {ENV_NAME} missing or wrong: {env.get(ENV_NAME)}"
    secret_env = env.get("POD_DEFAULT_SECRET")
    assert secret_env is not None and secret_env.value_from is not None, "env POD_DEFAULT_SECRET is not injected"
    reference = secret_env.value_from.secret_key_ref
    assert (reference.name, reference.key) == ("test-secret", "secret_key"), f"POD_DEFAULT_SECRET refers to {reference}"
    volumes = {v.name: v for v in pod_object.spec.volumes or []}
    assert CLAIM in volumes and volumes[CLAIM].persistent_volume_claim.claim_name == CLAIM, "volume not injected"
    mounts = {m.name: m.mount_path for m in container.volume_mounts or []}
    assert mounts.get(CLAIM) == MOUNT_PATH, f"volume mount {CLAIM} at {mounts.get(CLAIM)}, expected {MOUNT_PATH}"
    annotations = pod_object.metadata.annotations or {}
    for name in poddefault_names:
        assert ANNOTATION_PREFIX + name in annotations, f"pod lacks the annotation of PodDefault {name}"


def check_untouched(pod_object: Any) -> None:
    container = pod_object.spec.containers[0]
    injected_env = [e.name for e in container.env or [] if e.name in (ENV_NAME, "POD_DEFAULT_SECRET", "TEAM")]
    assert not injected_env, f"a pod the PodDefault does not select got env {injected_env}"
    assert CLAIM not in [v.name for v in pod_object.spec.volumes or []], "an unselected pod got the volume"
    annotations = [a for a in (pod_object.metadata.annotations or {}) if a.startswith(ANNOTATION_PREFIX)]
    assert not annotations, f"an unselected pod got PodDefault annotations {annotations}"


def check_everyone_applied(pod_object: Any, name: str) -> None:
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get(EVERYONE_ENV_NAME) == EVERYONE_ENV_VALUE, f"env {EVERYONE_ENV_NAME} from PodDefault {name}: {env}"
    assert ANNOTATION_PREFIX + name in (pod_object.metadata.annotations or {}), f"no annotation of PodDefault {name}"


def check_second_applied(pod_object: Any, name: str) -> None:
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get("TEAM") == "qa", f"env TEAM from PodDefault {name} missing: {env}"
    assert (pod_object.metadata.labels or {}).get("team") == "qa", "label team=qa missing"
    assert (pod_object.metadata.annotations or {}).get("kfcheck/injected-by") == name, "annotation missing"


def create_pod_expecting_refusal(kube: Kube, settings: Settings, namespace: str, name: str) -> Refusal:
    """A selected pod that defines POD_DEFAULT differently: the webhook must refuse it."""
    objects = manifests.render(
        "labelled-pod", name=name, labels={"app": name, LABEL: "true"}, annotations={}, image=settings.busybox_image
    )
    objects[0]["spec"]["containers"][0]["env"] = [{"name": ENV_NAME, "value": "something else"}]
    try:
        manifests.create(kube, objects, namespace)
    except ApiException as error:
        body = error.body.decode() if isinstance(error.body, bytes) else str(error.body or "")
        message = str(json.loads(body).get("message", body)) if body.startswith("{") else body
        return Refusal(status=int(error.status or 0), message=message)
    raise AssertionError(f"pod {name} with a conflicting {ENV_NAME} was admitted")


def check_refused_for_conflict(refusal: Refusal, poddefault_name: str) -> None:
    """Kubeflow refuses such a pod at admission (a 4xx), saying which PodDefault conflicts on which env var."""
    assert 400 <= refusal.status < 500, f"expected a 4xx refusal, got HTTP {refusal.status}: {refusal.message}"
    message = refusal.message
    assert "conflict" in message.lower(), f"the refusal does not speak of a conflict: {message}"
    assert poddefault_name in message, f"the refusal does not name PodDefault {poddefault_name}: {message}"
    assert ENV_NAME in message, f"the refusal does not name the conflicting env var {ENV_NAME}: {message}"
