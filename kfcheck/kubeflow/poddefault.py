"""PodDefault (kubeflow.org/v1alpha1): what the admission webhook injects into the pods it selects."""

from __future__ import annotations

import json
import secrets
from typing import Any

from kubernetes.client.exceptions import ApiException

from kfcheck.core import manifests
from kfcheck.core.capabilities import Api, Unavailable
from kfcheck.core.scenario import Controller, Scenario

API = Api("kubeflow.org/v1alpha1", "PodDefault", "the Kubeflow PodDefault admission webhook")

SECRET = "test-secret"  # noqa: S105 - the name of the Secret the scenario creates, not a password
CLAIM, LABEL, ENV_NAME, ENV_VALUE, MOUNT_PATH = (
    "workspace",
    "add-poddefault",
    "POD_DEFAULT",
    "Testing is enabled",
    "/shared",
)
ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org/poddefault-"
# app=poddefaults in kubeflow/manifests (admission-webhook in older ones), app=poddefault-webhook in our chart
WEBHOOK = Controller("poddefault-webhook", ("app in (poddefaults,admission-webhook,poddefault-webhook)",))
EXCLUDE_ANNOTATION = "poddefault.admission.kubeflow.org/exclude"  # Kubeflow's webhook leaves such pods alone
EVERYONE_ENV_NAME, EVERYONE_ENV_VALUE = "FOR_EVERY_POD", "yes"


# In a shared namespace every name is the scenario's own (scenario.name), the selecting label too, so a
# PodDefault of one scenario never selects another's pods (or the namespace owner's).


def selector_label(scenario: Scenario) -> str:
    return scenario.name(LABEL)


def create_secret_and_volume(scenario: Scenario) -> None:
    scenario.create("poddefault-secret", claim=scenario.name(CLAIM), secret=scenario.name(SECRET),
                    secret_value=secrets.token_hex(8))  # fmt: skip


def create(scenario: Scenario, name: str) -> None:
    scenario.uses(WEBHOOK)
    scenario.create(
        "poddefault", name=scenario.name(name), description=f"{name} for kfcheck", label=selector_label(scenario),
        env_name=ENV_NAME, env_value=ENV_VALUE, claim=scenario.name(CLAIM), secret=scenario.name(SECRET),
        mount_path=MOUNT_PATH,
    )  # fmt: skip


def create_second(scenario: Scenario, name: str) -> None:
    scenario.create("poddefault-annotations", name=scenario.name(name), label=selector_label(scenario))


def namespace_wide_refusal(scenario: Scenario) -> str | None:
    """Why a PodDefault that selects every pod must not be made in this scenario's namespace, or None: in a
    shared one (-u namespace=) it would change every pod the user (or anyone) creates there while it exists."""
    if not scenario.shared_namespace or scenario.settings.allow_namespace_wide:
        return None
    return (
        f"would inject into every pod of the user's namespace {scenario.namespace} while it runs (a PodDefault "
        "with an empty selector selects them all, not only the scenario's); give -u allow_namespace_wide=true "
        "to run it there anyway"
    )


def create_for_every_pod(scenario: Scenario, name: str) -> None:
    """A PodDefault whose selector is empty: it applies to every pod created in the namespace. Skipped
    (capabilities.Unavailable) in a shared namespace unless allowed (namespace_wide_refusal)."""
    refusal = namespace_wide_refusal(scenario)
    if refusal:
        raise Unavailable(refusal)
    scenario.uses(WEBHOOK)
    scenario.create("poddefault-everyone", name=scenario.name(name), env_name=EVERYONE_ENV_NAME,
                    env_value=EVERYONE_ENV_VALUE)  # fmt: skip


def labelled_pod(scenario: Scenario, name: str, selected: bool, excluded: bool = False) -> list[dict[str, Any]]:
    """The objects of the labelled-pod fixture (its Istio opt-out kept), selected and excluded as asked."""
    labels = {"app": name, **({selector_label(scenario): "true"} if selected else {})}
    objects = manifests.render("labelled-pod", name=scenario.name(name), labels=labels,
                               image=scenario.settings.busybox_image)  # fmt: skip
    if excluded:
        objects[0]["metadata"]["annotations"][EXCLUDE_ANNOTATION] = "true"
    return objects


def create_pod(scenario: Scenario, name: str, selected: bool, excluded: bool = False) -> None:
    scenario.create_objects(labelled_pod(scenario, name, selected, excluded))


def pod(scenario: Scenario, name: str) -> Any:
    return scenario.kube.core.read_namespaced_pod(scenario.name(name), scenario.namespace)


def check_injected(scenario: Scenario, name: str, poddefault_names: list[str]) -> None:
    """The scenario's pod `name` carries what the PodDefaults inject (check_pod_carries)."""
    check_pod_carries(scenario, pod(scenario, name), poddefault_names)


def check_pod_carries(scenario: Scenario, pod_object: Any, poddefault_names: list[str]) -> None:
    """The pod carries exactly the PodDefault's env (plain and secret-backed), volume and mount."""
    claim, secret = scenario.name(CLAIM), scenario.name(SECRET)
    container = pod_object.spec.containers[0]
    env = {e.name: e for e in container.env or []}
    assert ENV_NAME in env and env[ENV_NAME].value == ENV_VALUE, f"env {ENV_NAME} missing or wrong: {env.get(ENV_NAME)}"
    secret_env = env.get("POD_DEFAULT_SECRET")
    assert secret_env is not None and secret_env.value_from is not None, "env POD_DEFAULT_SECRET is not injected"
    reference = secret_env.value_from.secret_key_ref
    assert (reference.name, reference.key) == (secret, "secret_key"), f"POD_DEFAULT_SECRET refers to {reference}"
    volumes = {v.name: v for v in pod_object.spec.volumes or []}
    assert claim in volumes and volumes[claim].persistent_volume_claim.claim_name == claim, "volume not injected"
    mounts = {m.name: m.mount_path for m in container.volume_mounts or []}
    assert mounts.get(claim) == MOUNT_PATH, f"volume mount {claim} at {mounts.get(claim)}, expected {MOUNT_PATH}"
    annotations = pod_object.metadata.annotations or {}
    for name in poddefault_names:
        annotation = ANNOTATION_PREFIX + scenario.name(name)
        assert annotation in annotations, f"pod lacks the annotation of PodDefault {scenario.name(name)}"


def check_untouched(scenario: Scenario, name: str) -> None:
    pod_object = pod(scenario, name)
    container = pod_object.spec.containers[0]
    injected_env = [e.name for e in container.env or [] if e.name in (ENV_NAME, "POD_DEFAULT_SECRET", "TEAM")]
    assert not injected_env, f"a pod the PodDefault does not select got env {injected_env}"
    claim = scenario.name(CLAIM)
    assert claim not in [v.name for v in pod_object.spec.volumes or []], "an unselected pod got the volume"
    annotations = [a for a in (pod_object.metadata.annotations or {}) if a.startswith(ANNOTATION_PREFIX)]
    assert not annotations, f"an unselected pod got PodDefault annotations {annotations}"


def check_everyone_applied(scenario: Scenario, name: str, poddefault_name: str) -> None:
    pod_object, name = pod(scenario, name), scenario.name(poddefault_name)
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get(EVERYONE_ENV_NAME) == EVERYONE_ENV_VALUE, f"env {EVERYONE_ENV_NAME} from PodDefault {name}: {env}"
    assert ANNOTATION_PREFIX + name in (pod_object.metadata.annotations or {}), f"no annotation of PodDefault {name}"


def check_second_applied(scenario: Scenario, name: str, poddefault_name: str) -> None:
    pod_object, name = pod(scenario, name), scenario.name(poddefault_name)
    env = {e.name: e.value for e in pod_object.spec.containers[0].env or []}
    assert env.get("TEAM") == "qa", f"env TEAM from PodDefault {name} missing: {env}"
    assert (pod_object.metadata.labels or {}).get("team") == "qa", "label team=qa missing"
    assert (pod_object.metadata.annotations or {}).get("kfcheck/injected-by") == name, "annotation missing"


def create_pod_expecting_refusal(scenario: Scenario, name: str) -> None:
    """A selected pod that defines POD_DEFAULT differently; what the API server answered is kept for
    check_refused (the pod being admitted is a failure at once)."""
    objects = labelled_pod(scenario, name, selected=True)
    objects[0]["spec"]["containers"][0]["env"] = [{"name": ENV_NAME, "value": "something else"}]
    try:
        scenario.create_objects(objects)
    except ApiException as error:
        body = error.body.decode() if isinstance(error.body, bytes) else str(error.body)
        message = str(json.loads(body).get("message", body)) if body.startswith("{") else body
        scenario.outcomes["refusal"] = (int(error.status), message)
        return
    raise AssertionError(f"pod {name} with a conflicting {ENV_NAME} was admitted")


def check_refused(scenario: Scenario, poddefault_name: str = "add-secret") -> None:
    """Kubeflow's meaning, not its wording: a 4xx refusal whose message names the PodDefault and the
    conflicting field."""
    status, message = scenario.outcomes["refusal"]
    assert 400 <= status < 500, f"the API server answered {status}, not a refusal (4xx): {message}"
    missing = [word for word in (scenario.name(poddefault_name), ENV_NAME) if word not in message]
    assert not missing, f"the refusal does not name {missing}: {message}"
