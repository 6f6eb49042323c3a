"""Access to the cluster under test: one client per run, with clear errors before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from kfcheck.core.config import Settings


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be used; the message names the cause and the fix."""


@dataclass
class Kube:
    api: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    custom: client.CustomObjectsApi
    dynamic: DynamicClient


def connect(settings: Settings, request_timeout: float = 5.0) -> Kube:
    path = Path(settings.kubeconfig)
    if not path.exists():
        raise ClusterUnavailable(
            f"no kubeconfig at {path}: bring up the embedded cluster with `make up`, or name a cluster with "
            "KUBECONFIG=... or -u kubeconfig=..."
        )
    try:
        api = config.new_client_from_config(config_file=str(path), context=settings.context or None)
    except config.ConfigException as error:
        raise ClusterUnavailable(f"kubeconfig {path} is unusable ({error}); check -u context=...") from None
    version = client.VersionApi(api)
    try:
        version.get_code(_request_timeout=request_timeout)
    except (urllib3.exceptions.HTTPError, OSError, ApiException) as error:
        server = api.configuration.host
        raise ClusterUnavailable(
            f"the cluster at {server} (kubeconfig {path}) does not answer: {error.__class__.__name__}: "
            f"{str(error)[:200]}. Start it with `make up`, or point -u kubeconfig=/-u context= at a running one"
        ) from None
    dynamic = DynamicClient(api)
    # The client keeps what discovery found in a file shared by every run against this server address
    # (tempdir/osrcp-<hash>.json) and trusts it: an API removed since (a CRD deleted, Kubeflow upgraded)
    # would still look served. A run discovers what the cluster serves now.
    dynamic.resources.invalidate_cache()
    return Kube(
        api=api,
        core=client.CoreV1Api(api),
        apps=client.AppsV1Api(api),
        custom=client.CustomObjectsApi(api),
        dynamic=dynamic,
    )
