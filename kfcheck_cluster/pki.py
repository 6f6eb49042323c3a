"""The cluster's PKI and kubeconfigs, made by kubeadm's phases (not by code of our own)."""

from __future__ import annotations

import shutil

from kfcheck_cluster.layout import Layout
from kfcheck_cluster.processes import run
from kfcheck_cluster.tools import k8s, write_config

KUBECONFIG_PHASES = ("admin", "super-admin", "kubelet", "controller-manager", "scheduler")
USER_KUBECONFIGS = (("system:kube-proxy", "kube-proxy"), ("system:coredns", "coredns"))


def ensure(layout: Layout) -> None:
    """CA, serving and client certificates and the components' kubeconfigs; what exists is kept."""
    kubeadm = k8s(layout, "kubeadm")
    config = write_config(layout, "config/kubeadm.yaml", layout.config / "kubeadm.yaml")
    kubeconfigs = layout.state / "kubeconfigs"
    kubeconfigs.mkdir(parents=True, exist_ok=True)
    if not (layout.pki / "sa.pub").exists() or not (layout.pki / "apiserver.crt").exists():
        run([kubeadm, "init", "phase", "certs", "all", f"--config={config}"], "kubeadm init phase certs")
    for phase in KUBECONFIG_PHASES:
        if not (kubeconfigs / f"{phase}.conf").exists():
            directory = f"--kubeconfig-dir={kubeconfigs}"
            run([kubeadm, "init", "phase", "kubeconfig", phase, f"--config={config}", directory], f"kubeconfig {phase}")
    for user, name in USER_KUBECONFIGS:
        target = kubeconfigs / f"{name}.conf"
        if not target.exists():
            argv = [kubeadm, "kubeconfig", "user", f"--config={config}", f"--client-name={user}"]
            target.write_text(run(argv, f"kubeadm kubeconfig user {user}"))
            target.chmod(0o600)
    if not layout.kubeconfig.exists():
        shutil.copy(kubeconfigs / "admin.conf", layout.kubeconfig)
        layout.kubeconfig.chmod(0o600)
