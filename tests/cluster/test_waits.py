"""kfcheck.core.wait against the real cluster: a wait on an object that is already gone ends at once."""

from __future__ import annotations

import time

import pytest

from kfcheck.core import wait
from kfcheck.core.config import Settings
from kfcheck.core.kube import connect

from .conftest import Kubectl

pytestmark = pytest.mark.cluster


def test_a_wait_for_a_pod_that_is_gone_ends_at_once(kubectl: Kubectl, kubeconfig: str) -> None:
    kube = connect(Settings.from_user_data({"kubeconfig": kubeconfig}))
    started = time.monotonic()
    with pytest.raises(wait.WaitFailed, match="the object is gone"):
        wait.wait_for(
            kube, "a deleted pod to complete", kube.core.list_namespaced_pod, kubectl.namespace, "no-such-pod",
            done=lambda _pod: True, timeout=120, exists=True,
        )  # fmt: skip
    assert time.monotonic() - started < 60, "the wait ran on although the pod was gone"
