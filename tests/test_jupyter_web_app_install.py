"""How the embedded cluster installs Kubeflow's Jupyter web app (upstream's own, images/jupyter-web-app) in both
installs: our chart's template with upstream's spawner configuration and logos staged from the kubeflow module,
and upstream's kustomize base as kubeflow/manifests takes it; both give the same names, labels, settings, rights
and files, the image from the local registry at the release set's NOTEBOOKS_VERSION; cluster.json records where
the host reaches it. Rendering needs the kubeflow module in the Go module cache (`make up` or the image's
`prepare` downloads it) and the built kubectl and helm (`make build`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfcheck.core.config import CLUSTER_STATE
from kfcheck_cluster import images, jupyter_web_app, kubeflow, tools
from kfcheck_cluster.layout import CLUSTER_DIR, REGISTRY, Layout
from kfcheck_cluster.processes import ClusterError

NAMES = {
    "Deployment": "jupyter-web-app-deployment",
    "Service": "jupyter-web-app-service",
    "ServiceAccount": "jupyter-web-app-service-account",
    "ClusterRoleBinding": "jupyter-web-app-cluster-role-binding",
}
LABELS = {"app": "jupyter-web-app", "kustomize.component": "jupyter-web-app"}
SETTINGS = {"APP_PREFIX": "/jupyter", "UI": "default", "USERID_HEADER": "kubeflow-userid", "USERID_PREFIX": "",
            "APP_SECURE_COOKIES": "true", "METRICS": "1"}  # fmt: skip


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    cache = Layout.from_env().cache
    layout = Layout(cache=cache, state=tmp_path / "state")
    layout.state.mkdir()
    module = cache / "go" / "mod" / f"{jupyter_web_app.MODULE}@v{layout.versions['NOTEBOOKS_VERSION']}"
    if not module.is_dir():
        pytest.skip(f"{module} is not in the Go module cache: `make up` (or building images/jupyter-web-app) gets it")
    return layout


def _tool(layout: Layout, component: str, name: str) -> str:
    binary = layout.binary(component, name)
    if not binary.exists():
        pytest.skip(f"{binary} is not built: run `make build`")
    return str(binary)


def _by_kind(out: str) -> dict[tuple[str, str], dict[str, Any]]:
    documents = [document for document in yaml.safe_load_all(out) if document]
    return {(document["kind"], document["metadata"]["name"]): document for document in documents}


def _helm_rendered(layout: Layout, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    helm = _tool(layout, "helm", "helm")
    chart = tmp_path / "chart"
    shutil.copytree(kubeflow.CHART_SOURCE, chart)
    jupyter_web_app.stage_chart_files(layout, chart)
    argv = [helm, "template", kubeflow.RELEASE, str(chart), f"--namespace={kubeflow.NAMESPACE}",
            *jupyter_web_app.helm_values(layout)]  # fmt: skip
    return _by_kind(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def _kustomize_rendered(layout: Layout, tmp_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    kubectl = _tool(layout, "kubernetes", "kubectl")
    tree = tmp_path / "manifests"
    tools.write_config(layout, f"kubeflow-manifests/{jupyter_web_app.MANIFESTS_DIR}/kustomization.yaml",
                       tree / jupyter_web_app.MANIFESTS_DIR / "kustomization.yaml",
                       **kubeflow.manifest_values(layout, "unused"))  # fmt: skip
    jupyter_web_app.stage_manifests(layout, tree)
    argv = [kubectl, "kustomize", str(tree / jupyter_web_app.MANIFESTS_DIR)]
    return _by_kind(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def _container(rendered: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    (container,) = rendered[("Deployment", NAMES["Deployment"])]["spec"]["template"]["spec"]["containers"]
    return container


def _mounted_config(rendered: dict[tuple[str, str], dict[str, Any]], mount_path: str) -> dict[str, str]:
    """The data of the ConfigMap the web app's container mounts at mount_path."""
    pod = rendered[("Deployment", NAMES["Deployment"])]["spec"]["template"]["spec"]
    (volume,) = [mount["name"] for mount in _container(rendered)["volumeMounts"] if mount["mountPath"] == mount_path]
    (config_map,) = [each["configMap"]["name"] for each in pod["volumes"] if each["name"] == volume]
    return dict(rendered[("ConfigMap", config_map)]["data"])


def test_both_installs_give_upstreams_names_labels_settings_rights_and_files(layout: Layout, tmp_path: Path) -> None:
    module = jupyter_web_app.module_dir(layout)
    upstream_logos = yaml.safe_load((module / jupyter_web_app.CHART_FILES["logos-configmap.yaml"]).read_text())
    spawner = (module / jupyter_web_app.CHART_FILES["spawner_ui_config.yaml"]).read_text()
    image = f"{REGISTRY}/jupyter-web-app:v{layout.versions['NOTEBOOKS_VERSION']}"
    installs = {"helm": _helm_rendered(layout, tmp_path), "manifests": _kustomize_rendered(layout, tmp_path)}
    for how, rendered in installs.items():
        for kind, name in NAMES.items():
            assert LABELS.items() <= rendered[(kind, name)]["metadata"]["labels"].items(), (how, kind)
        deployment = rendered[("Deployment", NAMES["Deployment"])]
        assert deployment["metadata"]["namespace"] == kubeflow.NAMESPACE, how
        assert deployment["spec"]["selector"]["matchLabels"] == LABELS, how
        assert rendered[("Service", NAMES["Service"])]["spec"]["selector"] == LABELS, how
        assert rendered[("Service", NAMES["Service"])]["spec"]["ports"] == [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 5000}
        ], how
        container = _container(rendered)
        assert container["image"] == image, how
        assert {env["name"]: env["value"] for env in container["env"]} == SETTINGS, how
        assert _mounted_config(rendered, "/etc/config") == {"spawner_ui_config.yaml": spawner}, how
        assert _mounted_config(rendered, "/src/apps/default/static/assets/logos") == upstream_logos["data"], how
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == NAMES["ServiceAccount"], how
    helm, manifests = installs["helm"], installs["manifests"]
    for name in ("jupyter-web-app-cluster-role", *(f"jupyter-web-app-kubeflow-notebook-ui-{role}"
                                                  for role in ("admin", "edit", "view"))):  # fmt: skip
        assert helm[("ClusterRole", name)]["rules"] == manifests[("ClusterRole", name)]["rules"], name
    rules = helm[("ClusterRole", "jupyter-web-app-cluster-role")]["rules"]
    assert {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]} in rules
    binding = helm[("ClusterRoleBinding", NAMES["ClusterRoleBinding"])]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NAMES["ServiceAccount"],
                                    "namespace": kubeflow.NAMESPACE}]  # fmt: skip
    values = yaml.safe_load((kubeflow.CHART_SOURCE / "values.yaml").read_text())
    assert _container(helm)["resources"] == values["componentResources"]


def test_the_chart_without_the_staged_files_names_the_staged_chart(layout: Layout) -> None:
    helm = _tool(layout, "helm", "helm")
    argv = [helm, "template", kubeflow.RELEASE, str(kubeflow.CHART_SOURCE), f"--namespace={kubeflow.NAMESPACE}"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "files/jupyter-web-app/spawner_ui_config.yaml" in result.stderr
    assert "chart/kubeflow" in result.stderr
    argv.append("--set=jupyterWebApp.enabled=false")
    rendered = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert "jupyter-web-app" not in rendered


def test_the_manifests_kustomization_is_in_the_tree() -> None:
    tree = yaml.safe_load((CLUSTER_DIR / "kubeflow-manifests" / "kustomization.yaml").read_text())
    assert jupyter_web_app.MANIFESTS_DIR in tree["resources"]


def test_the_image_is_tagged_with_the_release_sets_notebooks_version(tmp_path: Path) -> None:
    layout = Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    version = layout.versions["NOTEBOOKS_VERSION"]
    assert images.reference(jupyter_web_app.IMAGE, layout) == f"{REGISTRY}/jupyter-web-app:v{version}"
    assert jupyter_web_app.helm_values(layout) == [f"--set=jupyterWebApp.image={REGISTRY}/jupyter-web-app:v{version}"]


def _service(cluster_ip: str, port_name: str = "http") -> str:
    return json.dumps({"spec": {"clusterIP": cluster_ip, "ports": [{"name": port_name, "port": 80}]}})


@pytest.mark.parametrize("how", ["helm", "manifests"])
def test_cluster_json_records_the_web_apps_cluster_ip_for_both_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    layout = Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    layout.state.mkdir()
    asked: list[tuple[str, ...]] = []

    def kubectl(_layout: Layout, *args: str, **_kwargs: Any) -> str:
        asked.append(args)
        return _service("10.96.12.34")

    monkeypatch.setattr(tools, "kubectl", kubectl)
    kubeflow.record_cluster(layout, kubeflow_install=how)
    recorded = json.loads((layout.state / CLUSTER_STATE).read_text())
    assert recorded["jupyter_web_app_url"] == "http://10.96.12.34:80"
    assert asked == [("get", "service", "jupyter-web-app-service", "--namespace=kubeflow", "-o", "json")]


def test_no_url_is_recorded_without_kubeflow_or_without_the_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    layout.state.mkdir()

    def missing(_layout: Layout, *args: str, **_kwargs: Any) -> str:
        raise ClusterError('services "jupyter-web-app-service" not found')

    monkeypatch.setattr(tools, "kubectl", missing)
    kubeflow.record_cluster(layout, kubeflow_install="helm")
    assert "jupyter_web_app_url" not in json.loads((layout.state / CLUSTER_STATE).read_text())
    kubeflow.record_cluster(layout, kubeflow_install=None)
    assert "jupyter_web_app_url" not in json.loads((layout.state / CLUSTER_STATE).read_text())
    for headless in (_service("None"), _service("10.96.0.9", port_name="metrics")):
        monkeypatch.setattr(tools, "kubectl", lambda *_args, _out=headless, **_kwargs: _out)
        assert jupyter_web_app.url(layout, kubeflow.NAMESPACE) is None


def test_the_module_is_downloaded_when_it_is_not_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    downloaded = tmp_path / "downloaded"
    (downloaded / jupyter_web_app.APP).mkdir(parents=True)
    calls: list[dict[str, Any]] = []

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append({"argv": argv, "env": kwargs["env"]})
        return subprocess.CompletedProcess(argv, 0, json.dumps({"Dir": str(downloaded)}), "")

    monkeypatch.setattr(subprocess, "run", run)
    assert jupyter_web_app.module_dir(layout) == downloaded
    (call,) = calls
    assert call["argv"][-1] == f"github.com/kubeflow/kubeflow@v{layout.versions['NOTEBOOKS_VERSION']}"
    assert call["env"]["GOMODCACHE"] == str(layout.cache / "go" / "mod")
    monkeypatch.setattr(subprocess, "run", lambda argv, **_: subprocess.CompletedProcess(argv, 1, "", "410 Gone"))
    with pytest.raises(ClusterError, match="410 Gone"):
        jupyter_web_app.module_dir(layout)
