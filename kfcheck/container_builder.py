"""Container Builder: Kaniko builds a Dockerfile from a ReadWriteMany volume and pushes the image."""

from __future__ import annotations

from kfcheck import manifests, pods
from kfcheck.config import Settings
from kfcheck.kube import Kube

CLAIM = "build-context"
NO_CREDENTIALS = "kfcheck-no-registry-credentials"  # names no Secret: the optional volume stays empty


def greeting(namespace: str) -> str:
    return f"hello from an image Kaniko built in {namespace}"


def prepare_context(kube: Kube, settings: Settings, namespace: str) -> None:
    """The claim and the context written into it by a pod. The claim is not waited on by itself: a
    WaitForFirstConsumer class binds it only once that pod exists; the pod's wait covers both."""
    objects = manifests.render(
        "build-context", claim=CLAIM, base_image=settings.builder_base_image, image=settings.busybox_image,
        greeting=greeting(namespace),
    )  # fmt: skip
    if settings.storage_class:
        objects[0]["spec"]["storageClassName"] = settings.storage_class
    manifests.create(kube, objects, namespace)
    pods.wait_succeeded(kube, namespace, f"{CLAIM}-writer", settings.timeout)
    claim = kube.core.read_namespaced_persistent_volume_claim(CLAIM, namespace)
    assert "ReadWriteMany" in (claim.status.access_modes or []), f"claim {CLAIM} is {claim.status.access_modes}"


def destination(settings: Settings, namespace: str, name: str) -> str:
    return f"{settings.push_registry}/kfcheck-{name}:{namespace}"


def build_and_push(kube: Kube, settings: Settings, namespace: str, name: str) -> str:
    image = destination(settings, namespace, name)
    manifests.apply_fixture(
        kube, "kaniko-build", namespace, name=f"build-{name}", image=settings.kaniko_image, destination=image,
        claim=CLAIM, registry_secret=settings.registry_secret or NO_CREDENTIALS,
    )  # fmt: skip
    pods.wait_succeeded(kube, namespace, f"build-{name}", settings.timeout)
    build_log = pods.log(kube, namespace, f"build-{name}")
    assert f"Pushed {image.rsplit(':', 1)[0]}" in build_log, f"Kaniko did not report the push:\n{build_log[-1500:]}"
    return image


def run_built_image(kube: Kube, settings: Settings, namespace: str, name: str) -> str:
    manifests.apply_fixture(
        kube, "run-image", namespace, name=f"run-{name}", image=destination(settings, namespace, name)
    )
    pods.wait_succeeded(kube, namespace, f"run-{name}", settings.timeout)
    return pods.log(kube, namespace, f"run-{name}")


def check_output(output: str, namespace: str) -> None:
    expected = greeting(namespace)
    assert expected in output, f"the built image printed {output!r}, expected {expected!r}"
    assert "(uid 0)" not in output, f"the built image runs as root: {output!r}"
