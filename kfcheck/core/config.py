"""Settings of a run, from radish user data (`radish features/ -u key=value ...`).

Every key has a default that fits the embedded cluster. An unknown key or a bad value is a
ConfigError naming the key, what is wrong and what is allowed, raised before anything runs.
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
_DNS_LABEL_PREFIX = re.compile(r"^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$")


class ConfigError(ValueError):
    """Bad user data: the message says which key, what is wrong and how to fix it."""


def state_dir() -> Path:
    """Where the embedded cluster keeps its state (`$KFCHECK_STATE`, default ~/.local/state/kfcheck)."""
    return Path(os.environ.get("KFCHECK_STATE", Path.home() / ".local" / "state" / "kfcheck"))


CLUSTER_STATE = "cluster.json"  # written by `make up`: where the embedded cluster and its tools are
# The embedded cluster's registries, for when it is named but not up yet (make up records them too).
EMBEDDED_REGISTRY, EMBEDDED_PUSH_REGISTRY = "127.0.0.1:5000", "registry.kube-system.svc.cluster.local:5000"


def embedded_cluster() -> dict[str, str]:
    """What `make up` recorded about the embedded cluster (kubeconfig, helm, chart, ...), or {} without one."""
    try:
        recorded = json.loads((state_dir() / CLUSTER_STATE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(key): str(value) for key, value in recorded.items()} if isinstance(recorded, dict) else {}


def _default_kubeconfig() -> str:
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"].split(os.pathsep)[0]
    return embedded_cluster().get("kubeconfig") or str(state_dir() / "kubeconfig")


def cluster_identity(kubeconfig: str, context: str = "") -> tuple[str, bytes] | None:
    """The API server address and CA certificate a kubeconfig's context names (None when unreadable): the same
    cluster whatever file, context or user names it."""
    try:
        config = yaml.safe_load(Path(kubeconfig).read_text()) or {}
        chosen = context or config.get("current-context", "")
        entry = next(item["context"] for item in config.get("contexts") or [] if item.get("name") == chosen)
        cluster = next(item["cluster"] for item in config.get("clusters") or [] if item.get("name") == entry["cluster"])
        if cluster.get("certificate-authority-data"):
            ca = base64.b64decode(cluster["certificate-authority-data"])
        elif cluster.get("certificate-authority"):
            ca = (Path(kubeconfig).parent / cluster["certificate-authority"]).read_bytes()
        else:
            ca = b""
        return str(cluster["server"]).rstrip("/"), ca.strip()
    except (OSError, ValueError, KeyError, TypeError, StopIteration, AttributeError, yaml.YAMLError):
        return None


def _on_embedded(kubeconfig: str, context: str, recorded: str) -> bool:
    """Whether the kubeconfig names the embedded cluster: by path, or by its API server address and CA."""
    if os.path.realpath(kubeconfig) == os.path.realpath(recorded):
        return True
    ours = cluster_identity(recorded)
    return ours is not None and cluster_identity(kubeconfig, context) == ours


def _image(registry: str, name: str, tag: str) -> str:
    return f"{registry}/{name}:{tag}" if registry else ""


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be between 0 and 1")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ValueError("must be true or false (also yes/no, 1/0)")


def _prefix(text: str) -> str:
    if not _DNS_LABEL_PREFIX.match(text):
        raise ValueError("must be 1-20 lowercase letters, digits or '-', starting with a letter")
    return text


def _namespace(text: str) -> str:
    if not re.match(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$", text):
        raise ValueError("must be a namespace name: up to 63 lowercase letters, digits or '-'")
    return text


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


UPGRADE_PHASES = ("start", "after", "rollback")  # the release gate's runs of the @upgrade feature, in their order


def _upgrade_phase(text: str) -> str:
    phase = text.strip().lower()
    if phase and phase not in UPGRADE_PHASES:
        raise ValueError(
            "must be start, after or rollback, as `kfcheck release-gate` gives it to each of its runs of "
            "features/upgrade.feature; leave it out to skip that feature"
        )
    return phase


def _setting(default: Any, parse: Callable[[str], Any], help_text: str) -> Any:
    return field(default=default, metadata={"parse": parse, "help": help_text})


@dataclass(frozen=True)
class Settings:
    kubeconfig: str = _setting("", _text, "kubeconfig file (default: $KUBECONFIG, else the embedded cluster's)")
    context: str = _setting("", _text, "kubeconfig context (default: its current context)")
    namespace: str = _setting(
        "", _namespace, "run every scenario inside this existing namespace (e.g. your Profile's) instead of one each"
    )
    allow_namespace_wide: bool = _setting(
        False, _boolean,
        "with -u namespace=, also run the scenario whose PodDefault (empty selector) injects into every pod created "
        "in that namespace while it runs, the owner's too (skipped otherwise)",
    )  # fmt: skip
    namespace_prefix: str = _setting("kfcheck", _prefix, "prefix of the namespace each scenario gets")
    timeout: int = _setting(300, _positive_int, "seconds a wait for pods, services, rollouts may take")
    training_timeout: int = _setting(1800, _positive_int, "seconds a training job may take to finish")
    registry: str = _setting(
        "", _text, "registry the node pulls the suite's images from (default: the embedded cluster's, on it only)"
    )
    push_registry: str = _setting(
        "", _text, "registry pods push built images to, Kaniko (default: the embedded cluster's, else registry)"
    )
    image_tag: str = _setting("latest", _text, "tag of the suite's images")
    registry_secret: str = _setting(
        "", _text, "docker-config Secret in the scenario's namespace with credentials Kaniko pushes with"
    )
    pytorch_image: str = _setting("", _text, "PyTorch MNIST image (default: {registry}/pytorch-mnist:{image_tag})")
    tf_image: str = _setting("", _text, "TensorFlow MNIST image (default: {registry}/tf-mnist:{image_tag})")
    busybox_image: str = _setting("", _text, "small utility image (default: {registry}/busybox:{image_tag})")
    notebook_image: str = _setting(
        "", _text, "Jupyter notebook server image (default: {registry}/notebook:{image_tag})"
    )
    kaniko_image: str = _setting("", _text, "Kaniko executor image (default: {registry}/kaniko-executor:{image_tag})")
    builder_base_image: str = _setting(
        "", _text, "non-root base image Kaniko builds FROM (default: {push_registry}/builder-base:{image_tag})"
    )
    storage_class: str = _setting("", _text, "StorageClass of the suite's volumes (default: the cluster's default)")
    pytorch_min_accuracy: float = _setting(
        0.9662, _probability, "lowest accepted PyTorchJob and TrainJob MNIST test accuracy"
    )
    tf_max_cross_entropy: float = _setting(0.10, _non_negative_float, "highest accepted TFJob validation cross entropy")
    tf_min_accuracy: float = _setting(0.97, _probability, "lowest accepted TFJob validation accuracy")
    epochs: int = _setting(1, _positive_int, "epochs of the PyTorch training")
    tf_train_steps: int = _setting(4000, _positive_int, "global training steps of the TensorFlow training")
    kubeflow_namespace: str = _setting("kubeflow", _text, "namespace of the Kubeflow components")
    trainer_namespace: str = _setting(
        "kubeflow-system", _text, "namespace of Kubeflow Trainer's and JobSet's controllers (evidence only)"
    )
    helm_release: str = _setting("kubeflow", _text, "Helm release of the Kubeflow chart")
    component_selector: str = _setting(
        "app.kubernetes.io/part-of=kubeflow", _text,
        "label selector of the Kubeflow component Deployments the Helm release manages (in kubeflow_namespace)",
    )  # fmt: skip
    chart: str = _setting(
        "", _text, "chart for `helm upgrade` (default: the embedded cluster's staged chart, on that cluster only)"
    )
    helm: str = _setting("", _text, "helm binary (default: the one `make up` recorded, else helm on PATH)")
    jupyter_web_app_url: str = _setting(
        "", _text,
        "where Kubeflow's Jupyter web app answers, as a browser opens it (e.g. https://<kubeflow>/jupyter; default: "
        "the embedded cluster's, on it only); without it the web app's scenarios are skipped",
    )  # fmt: skip
    jupyter_web_app_token_file: str = _setting(
        "", _text,
        "file holding a bearer token the platform's login accepts for you (e.g. oauth2-proxy with Kubernetes "
        "tokens); without it the web app is told who you are by -u jupyter_web_app_userid_header= directly",
    )  # fmt: skip
    jupyter_web_app_other_token_file: str = _setting(
        "", _text, "with a token file: a token of a user without rights in your namespace (the 403 scenario)"
    )
    jupyter_web_app_userid_header: str = _setting(
        "kubeflow-userid", _text, "header the Jupyter web app reads the user from (its USERID_HEADER)"
    )
    jupyter_web_app_userid_prefix: str = _setting(
        "", _text, "prefix of that header's value (the web app's USERID_PREFIX, e.g. accounts.google.com:)"
    )
    keep_namespaces: bool = _setting(False, _boolean, "keep each scenario's namespace for debugging")
    strict: bool = _setting(
        False, _boolean, "fail every scenario that would be skipped (missing API or permission), with its reason"
    )
    upgrade_phase: str = _setting(
        "", _upgrade_phase,
        "phase of the release gate features/upgrade.feature runs in: start (just before the Kubeflow upgrade), "
        "after (after it) or rollback (after the rollback); without it that feature is skipped",
    )  # fmt: skip

    def __post_init__(self) -> None:
        embedded = embedded_cluster()
        kubeconfig = self.kubeconfig or _default_kubeconfig()
        recorded = embedded.get("kubeconfig") or str(state_dir() / "kubeconfig")
        on_embedded = _on_embedded(kubeconfig, self.context, recorded)
        registry = self.registry or (embedded.get("registry", EMBEDDED_REGISTRY) if on_embedded else "")
        push_registry = self.push_registry or (
            embedded.get("push_registry", EMBEDDED_PUSH_REGISTRY) if on_embedded else registry
        )
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "push_registry", push_registry)
        derived = {
            "kubeconfig": kubeconfig,
            "chart": self.chart or (embedded.get("chart", "") if on_embedded else ""),
            "jupyter_web_app_url": self.jupyter_web_app_url
            or (embedded.get("jupyter_web_app_url", "") if on_embedded else ""),
            "helm": self.helm or embedded.get("helm") or shutil.which("helm") or "",
            "pytorch_image": self.pytorch_image or _image(registry, "pytorch-mnist", self.image_tag),
            "tf_image": self.tf_image or _image(registry, "tf-mnist", self.image_tag),
            "busybox_image": self.busybox_image or _image(registry, "busybox", self.image_tag),
            "notebook_image": self.notebook_image or _image(registry, "notebook", self.image_tag),
            "kaniko_image": self.kaniko_image or _image(registry, "kaniko-executor", self.image_tag),
            "builder_base_image": self.builder_base_image or _image(push_registry, "builder-base", self.image_tag),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def check_images(self) -> None:
        """ConfigError naming the fix when no registry is known for the cluster and an image is not named."""
        unnamed = [
            item.name
            for item in dataclasses.fields(self)
            if item.name.endswith("_image") and not getattr(self, item.name)
        ]
        if unnamed:
            raise ConfigError(
                f"no registry holds the suite's images for the cluster at {self.kubeconfig}: copy them with "
                "`make push-images REGISTRY=<registry>` and give -u registry=<registry> (and -u push_registry= if pods "
                f"reach it under another name), or name each image ({', '.join(f'-u {name}=' for name in unnamed)})"
            )

    @classmethod
    def keys(cls) -> list[str]:
        return [item.name for item in dataclasses.fields(cls)]

    @classmethod
    def from_user_data(cls, data: Mapping[str, str] | None) -> Settings:
        values: dict[str, Any] = {}
        known = {item.name: item for item in dataclasses.fields(cls)}
        for key, raw in (data or {}).items():
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise ConfigError(
                    f"unknown user data key '{key}'.{hint} Known keys: {', '.join(sorted(known))}"
                    " (see README, section Configuration)"
                )
            parse = known[key].metadata["parse"]
            try:
                values[key] = parse(str(raw))
            except ValueError as error:
                reason = str(error) if "must" in str(error) else f"'{raw}' is not a valid value"
                raise ConfigError(f"-u {key}={raw}: {reason} ({known[key].metadata['help']})") from None
        return cls(**values)

    @classmethod
    def markdown_table(cls) -> str:
        rows = ["| key | default | meaning |", "|---|---|---|"]
        for item in dataclasses.fields(cls):
            default = item.default if item.default not in ("", None) else "(derived)"
            rows.append(f"| `{item.name}` | `{default}` | {item.metadata['help']} |")
        return "\n".join(rows)
