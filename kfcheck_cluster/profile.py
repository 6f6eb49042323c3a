"""A Kubeflow Profile-like namespace on the embedded cluster, and a user with kubeflow-edit rights in it
and nothing more: what QA meets on a real Kubeflow. `python -m kfcheck_cluster profile` prepares it and
writes that user's kubeconfig (a ServiceAccount token)."""

from __future__ import annotations

from kfcheck_cluster import kubeflow, trainer
from kfcheck_cluster.layout import NODE_IP, Layout
from kfcheck_cluster.processes import ClusterError
from kfcheck_cluster.tools import apply_manifest, kubectl

NAMESPACE, USER = "kfcheck-profile", "kfcheck-user"
TOKEN_HOURS = 12


def kubeconfig_path(layout: Layout) -> str:
    return str(layout.state / "profile-kubeconfig")


def apply_roles(layout: Layout) -> None:
    """Kubeflow's user roles (kubeflow-edit and what it aggregates: each component's own roles from its module),
    which every Kubeflow install has and a Profile binds its users to."""
    roles = [kubeflow.training_operator_module(layout) / "manifests/overlays/kubeflow/kubeflow-training-roles.yaml"]
    if kubeflow.with_trainer(layout):
        roles.append(
            trainer.trainer_module(layout) / "manifests/overlays/kubeflow-platform/kubeflow-trainer-roles.yaml"
        )
    for path in roles:  # each component's own roles aggregated to kubeflow-edit
        if not path.exists():
            raise ClusterError(f"{path} is missing from its pinned module")
        kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", str(path))
    apply_manifest(layout, "kubeflow-roles.yaml")


def ensure(layout: Layout) -> str:
    """Applies the roles, the namespace and the user; returns the user's kubeconfig."""
    apply_roles(layout)
    apply_manifest(layout, "profile.yaml", profile_namespace=NAMESPACE, profile_user=USER)
    token = kubectl(layout, "create", "token", USER, "-n", NAMESPACE, f"--duration={TOKEN_HOURS}h").strip()
    path = kubeconfig_path(layout)
    context, authority = f"{USER}@kfcheck", f"--certificate-authority={layout.pki / 'ca.crt'}"
    for args in (
        ("set-cluster", "kfcheck", f"--server=https://{NODE_IP}:6443", authority, "--embed-certs=true"),
        ("set-credentials", USER, f"--token={token}"),
        ("set-context", context, "--cluster=kfcheck", f"--user={USER}", f"--namespace={NAMESPACE}"),
        ("use-context", context),
    ):  # fmt: skip
        kubectl(layout, "config", *args, kubeconfig=path)
    return path
