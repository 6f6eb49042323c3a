"""Installs the Kubeflow components into the embedded cluster, in one of two ways (`up --install`):

- `helm` (the default): the project's Helm chart. The training operator's CRDs (PyTorchJob, TFJob) are
  upstream files of its pinned Go module; they are not committed but staged into a copy of the chart under
  the state directory, which is what Helm installs (`$KFCHECK_STATE/chart/kubeflow`, also the chart that
  `helm upgrade` should be given).
- `manifests`: as kubeflow/manifests installs Kubeflow, with kustomize and no Helm release: the training
  operator from the upstream overlay inside its pinned module, the PodDefault webhook and the notebook
  controller under kubeflow/manifests' names, labels and webhook configuration
  (cluster/kubeflow-manifests/, staged to `$KFCHECK_STATE/kubeflow-manifests`).

Both install Kubeflow's own Jupyter web app from its module (kfcheck_cluster/jupyter_web_app.py).

The install in use is recorded in cluster.json; `up` refuses the other one beside it unless told to switch
(`make up KUBEFLOW_INSTALL=... SWITCH=1` takes the cluster down first, as `make down` would).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from kfcheck.core.config import CLUSTER_STATE
from kfcheck_cluster import images, jupyter_web_app, tools, trainer
from kfcheck_cluster.layout import CLUSTER_DIR, IN_CLUSTER_REGISTRY, REGISTRY, REPO_ROOT, Layout
from kfcheck_cluster.processes import ClusterError

CHART_SOURCE = REPO_ROOT / "charts" / "kubeflow"
MANIFESTS_SOURCE = CLUSTER_DIR / "kubeflow-manifests"
INSTALLS = ("helm", "manifests")
# kubeflow/manifests' PodDefault webhook: its Service and the Secret cert-manager would fill upstream.
WEBHOOK_SERVICE, WEBHOOK_SECRET = "admission-webhook-service", "webhook-certs"
# CRDs of our stand-ins (charts/kubeflow/crds) and where the manifests install takes each.
STAND_IN_CRDS = {"poddefaults.yaml": "admission-webhook", "notebooks.yaml": "notebook-controller"}
RELEASE = "kubeflow"
NAMESPACE = "kubeflow"
# kubectl's words when an applied Deployment changes its selector (immutable): the Deployment's name
IMMUTABLE_SELECTOR = re.compile(r'The Deployment "([a-z0-9-]+)" is invalid: spec\.selector: .*field is immutable')
UPSTREAM_CRDS = ("kubeflow.org_pytorchjobs.yaml", "kubeflow.org_tfjobs.yaml")
# Images the components use and images the suite's scenarios run.
COMPONENT_IMAGES = ("busybox", "training-operator", "kubeflow-lite", jupyter_web_app.IMAGE)
WORKLOAD_IMAGES = ("pytorch-mnist", "tf-mnist", "notebook", "builder-base", "kaniko-executor", "cluster-check")


def helm_binary(layout: Layout) -> Path:
    return layout.binary("helm", "helm")


def staged_chart(layout: Layout) -> Path:
    return layout.state / "chart" / "kubeflow"


def training_operator_module(layout: Layout) -> Path:
    version = layout.versions["TRAINING_OPERATOR_VERSION"]
    module = layout.cache / "go" / "mod" / "github.com" / "kubeflow" / f"training-operator@v{version}"
    if not (module / "manifests").is_dir():
        raise ClusterError(f"{module} is missing: run `cluster/build-binaries.sh training-operator`")
    return module


def stage_chart(layout: Layout) -> Path:
    """Copies charts/kubeflow and adds the operator's CRDs from its pinned module and the Jupyter web app's
    configuration files from its module."""
    module = training_operator_module(layout)
    target = staged_chart(layout)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(CHART_SOURCE, target)
    for name in UPSTREAM_CRDS:
        source = module / "manifests" / "base" / "crds" / name
        if not source.exists():
            raise ClusterError(f"{source} is missing: run `cluster/build-binaries.sh training-operator`")
        shutil.copy(source, target / "crds" / name)
    jupyter_web_app.stage_chart_files(layout, target)
    return target


def _recorded(layout: Layout, key: str) -> str | None:
    """One value of cluster.json (None: no cluster, or the value is not recorded)."""
    try:
        recorded = json.loads((layout.state / CLUSTER_STATE).read_text())
    except (OSError, ValueError):
        return None
    value = recorded.get(key) if isinstance(recorded, dict) else None
    return str(value) if value else None


def recorded_install(layout: Layout) -> str | None:
    """How the running cluster's Kubeflow was installed, from cluster.json (None: no Kubeflow recorded)."""
    return _recorded(layout, "kubeflow_install")


def check_install(layout: Layout, wanted: str) -> None:
    """Refuses to put a second install of Kubeflow next to the one the cluster has."""
    if wanted not in INSTALLS:
        raise ClusterError(f"unknown Kubeflow install '{wanted}': use one of {', '.join(INSTALLS)}")
    running = recorded_install(layout)
    if running is not None and running != wanted:
        raise ClusterError(f"this cluster's Kubeflow was installed with '{running}', not '{wanted}': switching is "
                           f"`make down` then `make up KUBEFLOW_INSTALL={wanted}`")  # fmt: skip


def recorded_release(layout: Layout) -> str | None:
    """The Kubeflow release set the running cluster's Kubeflow was last installed or upgraded to."""
    return _recorded(layout, "kubeflow_release")


def record_cluster(layout: Layout, *, kubeflow_install: str | None) -> None:
    """Writes where this cluster and its tools are ($KFCHECK_STATE/cluster.json), which the suite's
    Settings read as their defaults: the suite never needs to know how the embedded cluster is laid out."""
    recorded = {
        "kubeconfig": str(layout.kubeconfig),
        "helm": str(helm_binary(layout)),
        "registry": REGISTRY,
        "push_registry": IN_CLUSTER_REGISTRY,
    }
    if kubeflow_install is not None:
        recorded["kubeflow_install"] = kubeflow_install
        recorded["kubeflow_release"] = layout.release_name
    if kubeflow_install == "helm":
        recorded["chart"] = str(staged_chart(layout))
    web_app = jupyter_web_app.url(layout, NAMESPACE) if kubeflow_install is not None else None
    if web_app:  # the Service's cluster IP, which the host reaches (kube-proxy)
        recorded["jupyter_web_app_url"] = web_app
    (layout.state / CLUSTER_STATE).write_text(json.dumps(recorded, indent=2) + "\n")


def with_trainer(layout: Layout) -> bool:
    return bool(layout.versions["TRAINER_VERSION"])


def pytorch_init_image(layout: Layout) -> str:
    """The image of the init container the operator adds to PyTorchJob workers: a release set may name another
    image of the local registry (PYTORCH_INIT_CONTAINER_IMAGE, default busybox)."""
    return images.reference(layout.versions.get("PYTORCH_INIT_CONTAINER_IMAGE") or "busybox", layout)


def build_images(layout: Layout, how: str) -> list[str]:
    """Builds what the release set's components and the scenarios run; returns the component images rebuilt."""
    components = (*COMPONENT_IMAGES, *(trainer.IMAGES if how == "manifests" and with_trainer(layout) else ()))
    rebuilt = [images.reference(name, layout) for name in components if images.build(name, layout)]
    for name in WORKLOAD_IMAGES:
        images.build(name, layout)
    return rebuilt


def install(layout: Layout, how: str = "helm", *, timeout_seconds: int = 600) -> None:
    """Installs the components of the layout's release set (`helm` or `manifests`), or upgrades or downgrades
    them to it, waiting until every one is available and serves."""
    started = time.monotonic()
    rebuilt = build_images(layout, how)
    generations = tools.deployment_generations(layout, NAMESPACE)
    if how == "manifests":
        install_manifests(layout, timeout_seconds)
    else:
        chart = stage_chart(layout)
        operator, init = images.reference("training-operator", layout), pytorch_init_image(layout)
        operator_values = [f"--set=trainingOperator.image={operator}",
                           f"--set=trainingOperator.pytorchInitContainerImage={init}",
                           *jupyter_web_app.helm_values(layout)]  # fmt: skip
        tools.helm_install(layout, RELEASE, chart, NAMESPACE, [chart / "crds"], timeout_seconds, *operator_values)
    # a component image rebuilt under the same tag changes no Deployment: its running pods are replaced
    tools.restart_deployments_using(layout, NAMESPACE, rebuilt, timeout_seconds, generations)
    print(f"[kfcheck up] Kubeflow components ({how}, release set {layout.release_name}) ready after "
          f"{time.monotonic() - started:.0f}s", flush=True)  # fmt: skip


def staged_manifests(layout: Layout) -> Path:
    return layout.state / "kubeflow-manifests"


def webhook_certificate(layout: Layout) -> tuple[Path, Path]:
    """The PodDefault webhook's serving certificate, self-signed and its own CA as upstream's cert-manager
    Issuer makes it (components/admission-webhook/manifests/overlays/cert-manager/certificate.yaml); made
    once with openssl and kept, so that a repeated `up` changes nothing."""
    directory = layout.state / "admission-webhook-pki"
    certificate, key = directory / "tls.crt", directory / "tls.key"
    if certificate.exists() and key.exists():
        return certificate, key
    directory.mkdir(parents=True, exist_ok=True)
    host = f"{WEBHOOK_SERVICE}.{NAMESPACE}.svc"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650", "-subj", f"/CN={host}",
            "-addext", f"subjectAltName=DNS:{host},DNS:{host}.cluster.local",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-keyout", str(key), "-out", str(certificate)]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"openssl could not make the PodDefault webhook's certificate:\n{result.stderr}")
    return certificate, key


def manifest_values(layout: Layout, ca_bundle: str) -> dict[str, str]:
    """The placeholders of cluster/kubeflow-manifests besides the cluster's own: image tags of the release set."""
    tags = {"ca_bundle": ca_bundle, "training_operator_tag": images.tag_of("training-operator", layout),
            "pytorch_init_image": pytorch_init_image(layout),
            "jupyter_web_app_tag": images.tag_of(jupyter_web_app.IMAGE, layout)}  # fmt: skip
    if with_trainer(layout):
        tags["trainer_tag"] = images.tag_of("trainer-controller-manager", layout)
        tags["jobset_tag"] = images.tag_of("jobset-controller", layout)
    return tags


def stage_manifests(layout: Layout, ca_bundle: str) -> Path:
    """cluster/kubeflow-manifests with its placeholders filled, plus the operator module's manifests and the
    stand-ins' CRDs: one kustomize tree that `kubectl apply -k` takes as it is. A release set without Trainer
    leaves the trainer tree out."""
    target = staged_manifests(layout)
    if target.exists():
        shutil.rmtree(target)
    values = manifest_values(layout, ca_bundle)
    for source in MANIFESTS_SOURCE.rglob("*.yaml"):
        relative = source.relative_to(MANIFESTS_SOURCE)
        if relative.parts[0] == "trainer" and not with_trainer(layout):
            continue
        tools.write_config(layout, str(source.relative_to(CLUSTER_DIR)), target / relative, **values)
    if not with_trainer(layout):
        kustomization = target / "kustomization.yaml"
        tree = yaml.safe_load(kustomization.read_text())
        tree["resources"] = [resource for resource in tree["resources"] if resource != "trainer"]
        kustomization.write_text(yaml.safe_dump(tree, sort_keys=False))
    tools.copy_writable(training_operator_module(layout) / "manifests", target / "training-operator/upstream/manifests")
    jupyter_web_app.stage_manifests(layout, target)
    for name, component in STAND_IN_CRDS.items():
        shutil.copyfile(CHART_SOURCE / "crds" / name, target / component / "crd.yaml")
    if with_trainer(layout):
        stage_trainer_manifests(layout, target)
    return target


def stage_trainer_manifests(layout: Layout, target: Path) -> None:
    """Trainer's kustomize tree from its module; upstream's third-party/jobset (JobSet's release manifest on
    github.com, made from JobSet's config/default) pointed at config/default of the release set's jobset
    module, whose version may be a patch release newer than the one upstream names when that one is not
    served here (Trainer v2.2.0 names v0.11.0; the release set has v0.11.1, which its go.mod requires)."""
    upstream = target / "trainer" / "upstream"
    tools.copy_writable(trainer.trainer_module(layout) / "manifests", upstream / "manifests")
    tools.copy_writable(trainer.jobset_module(layout) / "config", upstream / "jobset" / "config")
    # upstream's third-party/jobset takes JobSet's release manifest from github.com; it is made from
    # JobSet's config/default, which the pinned jobset module holds.
    third_party = upstream / "manifests" / "third-party" / "jobset" / "kustomization.yaml"
    kustomization = yaml.safe_load(third_party.read_text())
    resources = kustomization.get("resources") or []
    if len(resources) != 1 or not re.fullmatch(trainer.JOBSET_RELEASE_MANIFEST, resources[0]):
        raise ClusterError(f"{third_party} no longer names JobSet's release manifest: {resources}")
    kustomization["resources"] = ["../../../jobset/config/default"]
    third_party.write_text(yaml.safe_dump(kustomization, sort_keys=False))


def install_manifests(layout: Layout, timeout_seconds: int) -> None:
    """kubeflow/manifests' way: namespace and the webhook's Secret first (the pods mount it), then the tree. A
    release set without Trainer first deletes the Trainer tree a previous release set applied."""
    previous_trainer = staged_manifests(layout) / "trainer"
    if not with_trainer(layout) and previous_trainer.is_dir():
        print(f"[kfcheck up] the release set {layout.release_name} has no Trainer: deleting it", flush=True)
        # TrainJobs, runtimes and JobSets first, while their controllers still remove the finalizers they put
        tools.delete_objects_of_crds(layout, tools.crds_of_groups(layout, trainer.CRD_GROUPS), timeout_seconds)
        tools.kubectl(layout, "delete", "-k", str(previous_trainer), "--ignore-not-found", "--wait=true",
                      f"--timeout={timeout_seconds}s")  # fmt: skip
    certificate, key = webhook_certificate(layout)
    tree = stage_manifests(layout, base64.b64encode(certificate.read_bytes()).decode())
    tools.kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", str(tree / "namespace.yaml"))
    secret = tools.kubectl(layout, "create", "secret", "tls", WEBHOOK_SECRET, f"--namespace={NAMESPACE}",
                           f"--cert={certificate}", f"--key={key}", "--dry-run=client", "-o", "yaml")  # fmt: skip
    tools.kubectl(layout, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=secret)
    # Trainer's and JobSet's webhooks guard their runtimes and are applied in the same tree
    try:
        tools.apply_retrying_webhooks(layout, "-k", str(tree), timeout_seconds=timeout_seconds)
    except ClusterError as error:
        replaced = IMMUTABLE_SELECTOR.findall(str(error))
        if not replaced:
            raise
        # JobSet v0.11 labels its Deployment's selector differently from v0.10 (app.kubernetes.io/* added), and a
        # selector cannot change: as an operator would, the Deployment is deleted and the tree applied again
        print(f"[kfcheck up] the new release changes the immutable selector of Deployment {', '.join(replaced)}: "
              "deleting it and applying again", flush=True)  # fmt: skip
        tools.kubectl(layout, "delete", "deployment", *replaced, f"--namespace={NAMESPACE}", "--wait=true",
                      f"--timeout={timeout_seconds}s")  # fmt: skip
        tools.apply_retrying_webhooks(layout, "-k", str(tree), timeout_seconds=timeout_seconds)
    tools.wait_components(layout, NAMESPACE, timeout_seconds)
