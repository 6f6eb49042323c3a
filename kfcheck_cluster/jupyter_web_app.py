"""Kubeflow's Jupyter web app on the embedded cluster: upstream's own app (images/jupyter-web-app), from the Go module
github.com/kubeflow/kubeflow at the release set's NOTEBOOKS_VERSION (its zip holds components/crud-web-apps), in
both installs:

- `helm`: charts/kubeflow/templates/jupyter-web-app.yaml; the spawner configuration and the logos ConfigMap are
  upstream's files of the module, staged into the staged chart's files/jupyter-web-app/ (`stage_chart_files`).
- `manifests`: upstream's kustomize tree components/crud-web-apps/jupyter/manifests/base (namespace kubeflow,
  names prefixed jupyter-web-app-), staged under cluster/kubeflow-manifests/jupyter-web-app/upstream/
  (`stage_manifests`) and taken by that directory's kustomization with the local registry's image.

Both give the Service jupyter-web-app-service (port 80 -> 5000) in namespace kubeflow; the host reaches its
cluster IP through kube-proxy, and `url` is what cluster.json records for the suite (`jupyter_web_app_url`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from kfcheck_cluster import images, tools
from kfcheck_cluster.layout import Layout
from kfcheck_cluster.processes import ClusterError

MODULE = "github.com/kubeflow/kubeflow"
IMAGE = "jupyter-web-app"
VERSION_KEY = "NOTEBOOKS_VERSION"
APP = Path("components/crud-web-apps/jupyter")
SERVICE = "jupyter-web-app-service"
# upstream's files the chart reads with .Files.Get, by their name in the chart's files/jupyter-web-app/
CHART_FILES = {
    "spawner_ui_config.yaml": APP / "manifests/base/configs/spawner_ui_config.yaml",
    "logos-configmap.yaml": APP / "manifests/base/configs/logos-configmap.yaml",
}
CHART_FILES_DIR = Path("files/jupyter-web-app")
MANIFESTS_DIR = "jupyter-web-app"  # in cluster/kubeflow-manifests and its staged copy


def version(layout: Layout) -> str:
    value = layout.versions.get(VERSION_KEY, "")
    if not value:
        raise ClusterError(f"the Kubeflow release set {layout.release_name} has no {VERSION_KEY}")
    return value


def module_dir(layout: Layout) -> Path:
    """The module in the Go module cache, downloaded through the Go module proxy when it is not there yet."""
    path = layout.cache / "go" / "mod" / f"{MODULE}@v{version(layout)}"
    if (path / APP).is_dir():
        return path
    go_cache = layout.cache / "go"
    env = {**os.environ, "GOMODCACHE": str(go_cache / "mod"), "GOCACHE": str(go_cache / "build"),
           "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}  # fmt: skip
    go_cache.mkdir(parents=True, exist_ok=True)
    argv = ["go", "mod", "download", "-json", f"{MODULE}@v{version(layout)}"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env, cwd=go_cache)
    except FileNotFoundError as error:
        raise ClusterError(f"go is not on PATH: it downloads {MODULE} ({error})") from error
    if result.returncode != 0:
        raise ClusterError(f"`{' '.join(argv)}` failed:\n{(result.stdout + result.stderr).strip()[-2000:]}")
    downloaded = Path(json.loads(result.stdout)["Dir"])
    if not (downloaded / APP).is_dir():
        raise ClusterError(f"{downloaded} holds no {APP}")
    return downloaded


def helm_values(layout: Layout) -> list[str]:
    """The chart's values for the web app: its image, tagged with the release set's version."""
    return [f"--set=jupyterWebApp.image={images.reference(IMAGE, layout)}"]


def stage_chart_files(layout: Layout, chart: Path) -> None:
    """Upstream's spawner configuration and logos ConfigMap into the staged chart's files/jupyter-web-app/."""
    module = module_dir(layout)
    target = chart / CHART_FILES_DIR
    target.mkdir(parents=True, exist_ok=True)
    for name, source in CHART_FILES.items():
        shutil.copyfile(module / source, target / name)


def stage_manifests(layout: Layout, tree: Path) -> None:
    """Upstream's kustomize tree (components/crud-web-apps/jupyter/manifests) into the staged manifests tree,
    under jupyter-web-app/upstream/manifests, where cluster/kubeflow-manifests/jupyter-web-app takes its base."""
    tools.copy_writable(module_dir(layout) / APP / "manifests", tree / MANIFESTS_DIR / "upstream" / "manifests")


def url(layout: Layout, namespace: str) -> str | None:
    """Where the host reaches the web app: its Service's cluster IP (kube-proxy runs on this node), port 80.
    None when the Service is not there (a cluster without Kubeflow, or an install without the web app)."""
    try:
        service = json.loads(tools.kubectl(layout, "get", "service", SERVICE, f"--namespace={namespace}", "-o", "json"))
    except ClusterError:
        return None
    cluster_ip = service["spec"].get("clusterIP")
    ports = [port["port"] for port in service["spec"].get("ports", []) if port.get("name") == "http"]
    if not cluster_ip or cluster_ip == "None" or not ports:
        return None
    return f"http://{cluster_ip}:{ports[0]}"
