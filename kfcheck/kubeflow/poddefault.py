"""PodDefault (kubeflow.org/v1alpha1): what the admission webhook injects into the pods it selects.

The checks read the PodDefault from the cluster by its name and compare what its spec injects with the pod,
field by field as upstream's webhook applies it (injections); they know nothing of the fixtures."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from kfcheck.core import manifests
from kfcheck.core.capabilities import Api, Unavailable
from kfcheck.core.scenario import Controller, Scenario

API = Api("kubeflow.org/v1alpha1", "PodDefault", "the Kubeflow PodDefault admission webhook")
GROUP, VERSION, PLURAL = "kubeflow.org", "v1alpha1", "poddefaults"

SECRET = "test-secret"  # noqa: S105 - the name of the Secret the scenario creates, not a password
CLAIM, LABEL, ENV_NAME, ENV_VALUE, MOUNT_PATH = (
    "workspace",
    "add-poddefault",
    "POD_DEFAULT",
    "Testing is enabled",
    "/shared",
)
ANNOTATION_PREFIX = "poddefault.admission.kubeflow.org/poddefault-"  # + a PodDefault's name: it was applied
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


def pod(scenario: Scenario, name: str) -> dict[str, Any]:
    """The scenario's pod `name` as the API server holds it (JSON field names)."""
    found = scenario.kube.core.read_namespaced_pod(scenario.name(name), scenario.namespace)
    return dict(scenario.kube.api.sanitize_for_serialization(found))


def read(scenario: Scenario, name: str) -> dict[str, Any]:
    """The scenario's PodDefault `name` as the cluster holds it; a name it does not hold fails the step."""
    name = scenario.name(name)
    try:
        return dict(scenario.kube.custom.get_namespaced_custom_object(GROUP, VERSION, scenario.namespace, PLURAL, name))
    except ApiException as error:
        if error.status == 404:
            raise AssertionError(f"there is no PodDefault {name} in namespace {scenario.namespace}") from None
        raise


def in_namespace(scenario: Scenario) -> list[dict[str, Any]]:
    """Every PodDefault of the scenario's namespace (in a shared one, the user's too)."""
    return list(scenario.kube.custom.list_namespaced_custom_object(GROUP, VERSION, scenario.namespace, PLURAL)["items"])


def check_injected(scenario: Scenario, name: str, poddefault_name: str) -> None:
    """The scenario's pod `name` carries what its PodDefault `poddefault_name` injects (check_carries)."""
    check_carries(scenario, pod(scenario, name), poddefault_name)


def check_carries(scenario: Scenario, pod_object: dict[str, Any], poddefault_name: str) -> None:
    """The pod (JSON field names) carries everything the scenario's PodDefault `poddefault_name`, read from the
    cluster, injects (injections, missing_from)."""
    poddefault = read(scenario, poddefault_name)
    pod_name, poddefault_name = pod_object["metadata"]["name"], poddefault["metadata"]["name"]
    missing = missing_from(pod_object, poddefault)
    assert not missing, f"pod {pod_name} lacks what PodDefault {poddefault_name} injects:\n  " + "\n  ".join(missing)
    checked = [injection.what for injection in injections(pod_object, poddefault)]
    scenario.attach(f"pod {pod_name} carries what PodDefault {poddefault_name} injects: " + "; ".join(checked))


def check_untouched(scenario: Scenario, name: str) -> None:
    """The pod has no PodDefault's mark and nothing that any PodDefault of the namespace injects (carried_from)."""
    pod_object = pod(scenario, name)
    pod_name = pod_object["metadata"]["name"]
    marks = [key for key in pod_object["metadata"].get("annotations") or {} if key.startswith(ANNOTATION_PREFIX)]
    assert not marks, f"pod {pod_name} is marked as changed by PodDefaults: {marks}"
    carried = [f"{what} (PodDefault {poddefault['metadata']['name']})" for poddefault in in_namespace(scenario)
               for what in carried_from(pod_object, poddefault)]  # fmt: skip
    assert not carried, f"pod {pod_name} has what PodDefaults inject: {carried}"


# --- what a PodDefault injects, compared with a pod (both as the API server gives them, JSON field names) ---------

ISTIO_PROXY = "istio-proxy"  # Istio's sidecar, added by Istio's own webhook: not one the PodDefault webhook saw
KEYED = (  # (PodDefault field, the pod's field it goes to, the key an item is known by)
    ("volumes", "volumes", "name"),
    ("imagePullSecrets", "imagePullSecrets", "name"),
    ("tolerations", "tolerations", "key"),
    ("initContainers", "initContainers", "name"),
    ("sidecars", "containers", "name"),
)
QUANTITIES = ("limits", "requests")  # maps of quantities: "0.5" and "500m" are one value


@dataclass(frozen=True)
class Injection:
    what: str  # one thing the PodDefault injects, where
    carried: bool  # the pod has it
    found: Any = None  # what the pod has there instead (None: nothing)
    telling: bool = True  # False where a pod may have it of its own (its command, its service account)


def missing_from(pod_object: dict[str, Any], poddefault: dict[str, Any]) -> list[str]:
    """What the PodDefault injects that the pod lacks; empty when the pod carries all of it (injections)."""
    return [f"{i.what}: the pod has {'nothing' if i.found is None else _show(i.found)}"
            for i in injections(pod_object, poddefault) if not i.carried]  # fmt: skip


def carried_from(pod_object: dict[str, Any], poddefault: dict[str, Any]) -> list[str]:
    """What the pod has exactly as the PodDefault injects it, leaving out what a pod may have of its own."""
    return [i.what for i in injections(pod_object, poddefault) if i.carried and i.telling]


def injections(pod_object: dict[str, Any], poddefault: dict[str, Any]) -> Iterator[Injection]:
    """Everything the PodDefault injects, each with whether the pod carries it, as upstream's webhook applies it
    (kubeflow/kubeflow v1.10.0 components/admission-webhook/main.go, applyPodDefaultsOnPod and
    applyPodDefaultsOnContainer): the annotation poddefault.admission.kubeflow.org/poddefault-<name>; its labels and
    annotations; volumes, imagePullSecrets, tolerations, initContainers and sidecars, each known by its name (a
    toleration by its key); serviceAccountName and automountServiceAccountToken (the last PodDefault that sets
    one wins: the others' are missing); and in every container the webhook saw (not the PodDefault's sidecars, nor
    istio-proxy) env and volumeMounts by name, each envFrom source, and command and args where the container has
    none (the webhook only sets them there). An item is carried when every field the PodDefault gives has that
    value in the pod (carries): the API server adds defaults."""
    spec, name = poddefault.get("spec") or {}, poddefault["metadata"]["name"]
    metadata, pod_spec = pod_object.get("metadata") or {}, pod_object.get("spec") or {}
    annotations = metadata.get("annotations") or {}
    yield Injection(f"the annotation {ANNOTATION_PREFIX}{name}", ANNOTATION_PREFIX + name in annotations)
    for field in ("labels", "annotations"):
        found = metadata.get(field) or {}
        for key, value in (spec.get(field) or {}).items():
            yield Injection(f"{field[:-1]} {key}={value}", found.get(key) == value, found.get(key))
    for field, pod_field, key in KEYED:
        yield from _keyed(spec.get(field), pod_spec.get(pod_field), key, f"{field} of the pod")
    for field in ("serviceAccountName", "automountServiceAccountToken"):
        if spec.get(field) is not None and spec.get(field) != "":
            yield Injection(f"{field} {spec[field]}", pod_spec.get(field) == spec[field], pod_spec.get(field), False)
    sidecars = {sidecar.get("name") for sidecar in spec.get("sidecars") or []}
    for container in pod_spec.get("containers") or []:
        if container.get("name") not in sidecars and container.get("name") != ISTIO_PROXY:
            yield from _in_container(container, spec)


def _in_container(container: dict[str, Any], spec: dict[str, Any]) -> Iterator[Injection]:
    where = f"container {container.get('name')}"
    yield from _keyed(spec.get("env"), container.get("env"), "name", f"env of {where}")
    yield from _keyed(spec.get("volumeMounts"), container.get("volumeMounts"), "name", f"volumeMounts of {where}")
    for source in spec.get("envFrom") or []:
        found = container.get("envFrom") or []
        yield Injection(f"envFrom {_show(source)} of {where}", any(carries(item, source) for item in found), found)
    for field in ("command", "args"):
        if spec.get(field):
            yield Injection(f"{field} {spec[field]} of {where}, which has none of its own",
                            container.get(field) is not None, container.get(field), telling=False)  # fmt: skip


def _keyed(injected: list[dict[str, Any]] | None, found: list[dict[str, Any]] | None, key: str, what: str
           ) -> Iterator[Injection]:  # fmt: skip
    by_key = {item.get(key, ""): item for item in found or []}
    for item in injected or []:
        have = by_key.get(item.get(key, ""))
        yield Injection(f"{what}: {_show(item)}", have is not None and carries(have, item), have)


def carries(found: Any, injected: Any) -> bool:
    """Whether `found` holds every field `injected` gives, with the same value: the API server adds defaults (a
    Secret volume's defaultMode, an env's fieldRef apiVersion) and leaves out zero values ("", false, [])."""
    if isinstance(injected, dict):
        return isinstance(found, dict) and all(
            _same_quantities(found.get(key), value) if key in QUANTITIES else carries(found.get(key), value)
            for key, value in injected.items()
        )
    if isinstance(injected, list) and injected:
        return isinstance(found, list) and len(found) == len(injected) and all(map(carries, found, injected))
    if injected is None or injected == "" or injected is False or injected == []:
        return found is None or found == injected
    return bool(found == injected)


def _same_quantities(found: Any, injected: Any) -> bool:
    if not isinstance(injected, dict) or not isinstance(found, dict):
        return carries(found, injected)
    try:
        return all(key in found and parse_quantity(found[key]) == parse_quantity(amount)
                   for key, amount in injected.items())  # fmt: skip
    except ValueError:
        return carries(found, injected)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def selects(poddefault: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether the PodDefault's selector (a LabelSelector; empty selects every pod) selects pods with these labels."""
    selector = (poddefault.get("spec") or {}).get("selector") or {}
    requirements = [(key, "In", [value]) for key, value in (selector.get("matchLabels") or {}).items()]
    requirements += [(e["key"], e["operator"], e.get("values") or []) for e in selector.get("matchExpressions") or []]
    for key, operator, values in requirements:
        present = key in labels
        if not {"In": present and labels.get(key) in values, "NotIn": not present or labels.get(key) not in values,
                "Exists": present, "DoesNotExist": not present}.get(operator, False):  # fmt: skip
            return False
    return True


def create_pod_expecting_refusal(scenario: Scenario, name: str, env_name: str) -> None:
    """A selected pod that sets the env var `env_name` itself, to a value no PodDefault here gives; what the API
    server answered is kept for check_refused (the pod being admitted is a failure at once)."""
    objects = labelled_pod(scenario, name, selected=True)
    objects[0]["spec"]["containers"][0]["env"] = [{"name": env_name, "value": f"set by pod {name} itself"}]
    try:
        scenario.create_objects(objects)
    except ApiException as error:
        body = error.body.decode() if isinstance(error.body, bytes) else str(error.body)
        message = str(json.loads(body).get("message", body)) if body.startswith("{") else body
        labels = dict(objects[0]["metadata"]["labels"])
        scenario.outcomes["refusal"] = {"status": int(error.status), "message": message, "env_name": env_name,
                                        "labels": labels}  # fmt: skip
        return
    raise AssertionError(f"pod {name} that sets {env_name} itself was admitted")


def check_refused(scenario: Scenario) -> None:
    """Kubeflow's meaning, not its wording: a 4xx refusal whose message names the conflicting env var and every
    PodDefault of the namespace that selects the pod and injects that env var."""
    refusal = scenario.outcomes["refusal"]
    status, message, env_name = refusal["status"], refusal["message"], refusal["env_name"]
    assert 400 <= status < 500, f"the API server answered {status}, not a refusal (4xx): {message}"
    conflicting = [poddefault["metadata"]["name"] for poddefault in in_namespace(scenario)
                   if selects(poddefault, refusal["labels"])
                   and any(env.get("name") == env_name for env in poddefault["spec"].get("env") or [])]  # fmt: skip
    assert conflicting, f"no PodDefault of namespace {scenario.namespace} selects the pod and injects {env_name}"
    missing = [word for word in (*conflicting, env_name) if word not in message]
    assert not missing, f"the refusal does not name {missing}: {message}"
