"""Dynamic provisioner of the embedded cluster's default StorageClass.

Watches PersistentVolumeClaims of StorageClasses whose provisioner is `kfcheck.local/hostpath`,
makes a directory on the node for each and a hostPath PersistentVolume bound to the claim (any
access mode: on a single node a directory is shared by every pod, so ReadWriteMany holds). A
Released volume of ours is deleted with its directory (reclaim policy Delete).

    python -m kfcheck_cluster.provisioner --kubeconfig FILE --volumes DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import threading
from pathlib import Path
from string import Template
from typing import Any

import yaml
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

PROVISIONER = "kfcheck.local/hostpath"
PV_TEMPLATE = Path(__file__).resolve().parents[1] / "cluster" / "manifests" / "persistent-volume.yaml"
LOG = logging.getLogger("kfcheck.provisioner")


class Provisioner:
    def __init__(self, core: client.CoreV1Api, storage: client.StorageV1Api, volumes: Path) -> None:
        self.core = core
        self.storage = storage
        self.volumes = volumes

    def our_classes(self) -> set[str]:
        return {sc.metadata.name for sc in self.storage.list_storage_class().items if sc.provisioner == PROVISIONER}

    def volume_name(self, claim: Any) -> str:
        return f"pvc-{claim.metadata.uid}"

    def provision(self, claim: Any) -> None:
        name = self.volume_name(claim)
        path = self.volumes / f"{claim.metadata.namespace}-{claim.metadata.name}-{claim.metadata.uid[:8]}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)  # pods run as any user (notebooks as 1000, builders non-root)
        manifest = Template(PV_TEMPLATE.read_text()).substitute(
            name=name,
            storage_class=claim.spec.storage_class_name,
            capacity=claim.spec.resources.requests["storage"],
            access_modes=json.dumps(claim.spec.access_modes or ["ReadWriteOnce"]),
            claim_namespace=claim.metadata.namespace,
            claim_name=claim.metadata.name,
            claim_uid=claim.metadata.uid,
            path=str(path),
        )
        try:
            self.core.create_persistent_volume(yaml.safe_load(manifest))
            LOG.info("provisioned %s for %s/%s at %s", name, claim.metadata.namespace, claim.metadata.name, path)
        except ApiException as error:
            if error.status != 409:
                raise

    def reclaim(self, volume: Any) -> None:
        annotations = volume.metadata.annotations or {}
        if annotations.get("pv.kubernetes.io/provisioned-by") != PROVISIONER:
            return
        if volume.status.phase not in ("Released", "Failed"):
            return
        path = Path(volume.spec.host_path.path)
        if self.volumes in path.parents:
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.core.delete_persistent_volume(volume.metadata.name)
            LOG.info("deleted %s and %s", volume.metadata.name, path)
        except ApiException as error:
            if error.status != 404:
                raise

    def handle_claim(self, claim: Any) -> None:
        if claim.status.phase != "Pending" or claim.spec.volume_name:
            return
        if claim.spec.storage_class_name not in self.our_classes():
            return
        self.provision(claim)

    def watch_claims(self) -> None:
        while True:
            for claim in self.core.list_persistent_volume_claim_for_all_namespaces().items:
                self.handle_claim(claim)
            for event in watch.Watch().stream(
                self.core.list_persistent_volume_claim_for_all_namespaces, timeout_seconds=300
            ):
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.handle_claim(event["object"])

    def watch_volumes(self) -> None:
        while True:
            for volume in self.core.list_persistent_volume().items:
                self.reclaim(volume)
            for event in watch.Watch().stream(self.core.list_persistent_volume, timeout_seconds=300):
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.reclaim(event["object"])

    def run_forever(self) -> None:
        """A watch on claims and one on volumes, each re-listing when its watch expires."""
        threading.Thread(target=self.watch_volumes, name="volumes", daemon=True).start()
        self.watch_claims()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--volumes", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    config.load_kube_config(config_file=args.kubeconfig)
    args.volumes.mkdir(parents=True, exist_ok=True)
    Provisioner(client.CoreV1Api(), client.StorageV1Api(), args.volumes.resolve()).run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
