"""Container Builder: Kaniko builds a Dockerfile from a ReadWriteMany volume and pushes the image."""

from __future__ import annotations

from kfcheck.core.scenario import Scenario
from kfcheck.kubeflow import pods

NO_CREDENTIALS = "kfcheck-no-registry-credentials"  # names no Secret: the optional volume stays empty


def greeting(scenario: Scenario) -> str:
    return f"hello from an image Kaniko built in {scenario.name(scenario.namespace)}"


def prepare_context(scenario: Scenario) -> None:
    """The claim and the context written into it by a pod. The claim is not waited on by itself: a
    WaitForFirstConsumer class binds it only once that pod exists; the pod's wait covers both."""
    settings, claim = scenario.settings, scenario.name("build-context")
    objects = scenario.create(
        "build-context", claim=claim, base_image=settings.builder_base_image, image=settings.busybox_image,
        greeting=greeting(scenario),
    )  # fmt: skip
    writer = next(obj["metadata"]["name"] for obj in objects if obj["kind"] == "Pod")
    pods.wait_succeeded(scenario, writer)
    bound = scenario.kube.core.read_namespaced_persistent_volume_claim(claim, scenario.namespace)
    assert "ReadWriteMany" in (bound.status.access_modes or []), f"claim {claim} is {bound.status.access_modes}"


def destination(scenario: Scenario, name: str) -> str:
    return f"{scenario.settings.push_registry}/kfcheck-{name}:{scenario.name(scenario.namespace)}"


def build_and_push(scenario: Scenario, name: str) -> str:
    image, pod = destination(scenario, name), scenario.name(f"build-{name}")
    scenario.create(
        "kaniko-build", name=pod, image=scenario.settings.kaniko_image, destination=image,
        claim=scenario.name("build-context"), registry_secret=scenario.settings.registry_secret or NO_CREDENTIALS,
    )  # fmt: skip
    pods.wait_succeeded(scenario, pod)
    build_log = pods.log(scenario, pod)
    assert f"Pushed {image.rsplit(':', 1)[0]}" in build_log, f"Kaniko did not report the push:\n{build_log[-1500:]}"
    scenario.attach(f"pushed {image}")
    return image


def run_built_image(scenario: Scenario, name: str) -> None:
    """A pod of the built image prints the greeting, as a user other than root."""
    pod = scenario.name(f"run-{name}")
    scenario.create("run-image", name=pod, image=destination(scenario, name))
    pods.wait_succeeded(scenario, pod)
    output, expected = pods.log(scenario, pod), greeting(scenario)
    assert expected in output, f"the built image printed {output!r}, expected {expected!r}"
    assert "(uid 0)" not in output, f"the built image runs as root: {output!r}"
