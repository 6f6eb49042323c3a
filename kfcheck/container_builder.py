"""Container Builder: Kaniko builds a Dockerfile from a ReadWriteMany volume and pushes the image."""

from __future__ import annotations

from kfcheck import manifests, pods, wait
from kfcheck.config import Settings
from kfcheck.kube import Kube

CLAIM = "build-context"


def greeting(namespace: str) -> str:
    return f"hello from an image Kaniko built in {namespace}"


def prepare_context(kube: Kube, settings: Settings, namespace: str) -> None:
    """The claim, bound; the context written into it by a pod."""
    objects = manifests.render(
        "build-context", claim=CLAIM, base_image=settings.builder_base_image, image=settings.busybox_image,
        greeting=greeting(namespace),
    )  # fmt: skip
    if settings.storage_class:
        objects[0]["spec"]["storageClassName"] = settings.storage_class
    manifests.create(kube, objects, namespace)
    wait.wait_for(
        kube, f"claim {CLAIM} to be bound", kube.core.list_namespaced_persistent_volume_claim, namespace, CLAIM,
        done=lambda claim: (claim.get("status") or {}).get("phase") == "Bound", timeout=settings.timeout,
        watch_pods=False,
    )  # fmt: skip
    pods.wait_succeeded(kube, namespace, f"{CLAIM}-writer", settings.timeout)


def destination(settings: Settings, namespace: str, name: str) -> str:
    return f"{settings.push_registry}/kfcheck-{name}:{namespace}"


def build_and_push(kube: Kube, settings: Settings, namespace: str, name: str) -> str:
    image = destination(settings, namespace, name)
    manifests.apply_fixture(
        kube, "kaniko-build", namespace, name=f"build-{name}", image=settings.kaniko_image, destination=image,
        claim=CLAIM,
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
