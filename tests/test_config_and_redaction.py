"""User data validation and secret redaction (no cluster needed)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from kfcheck.core.config import ConfigError, Settings
from kfcheck.core.redact import REDACTED, redact_object, redact_text


def test_defaults_fit_the_embedded_cluster() -> None:
    settings = Settings.from_user_data({})
    assert settings.pytorch_image == "127.0.0.1:5000/pytorch-mnist:latest"
    assert settings.builder_base_image == "registry.kube-system.svc.cluster.local:5000/builder-base:latest"
    assert settings.pytorch_min_accuracy == 0.9662
    assert settings.kubeconfig


def test_values_are_parsed_and_images_follow_registry_and_tag() -> None:
    settings = Settings.from_user_data({"registry": "reg:5000", "image_tag": "v2", "timeout": "42",
                                        "keep_namespaces": "yes", "tf_min_accuracy": "0.5"})  # fmt: skip
    assert settings.tf_image == "reg:5000/tf-mnist:v2"
    assert settings.timeout == 42
    assert settings.keep_namespaces is True
    assert settings.tf_min_accuracy == 0.5


def test_unknown_key_names_the_closest_known_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown user data key 'namespace_prefx'.*Did you mean 'namespace_prefix'"):
        Settings.from_user_data({"namespace_prefx": "qa"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeout", "-3", "must be a positive whole number"),
        ("timeout", "soon", "'soon' is not a valid value"),
        ("pytorch_min_accuracy", "1.5", "must be between 0 and 1"),
        ("keep_namespaces", "maybe", "must be true or false"),
        ("namespace_prefix", "QA_team", "lowercase letters"),
    ],
)
def test_bad_values_are_refused_with_the_reason(key: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        Settings.from_user_data({key: value})
    assert f"-u {key}={value}" in str(error.value)


def test_secret_values_are_redacted_in_objects() -> None:
    secret: dict[str, Any] = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"secret_key": "c2VjcmV0"}}
    assert redact_object(secret)["data"] == {"secret_key": REDACTED}
    pod = {"kind": "Pod", "spec": {"containers": [{"env": [{"name": "DB_PASSWORD", "value": "hunter2"},
                                                           {"name": "POD_DEFAULT", "value": "enabled"}]}]}}  # fmt: skip
    env = redact_object(pod)["spec"]["containers"][0]["env"]
    assert env[0]["value"] == REDACTED
    assert env[1]["value"] == "enabled"
    assert secret["data"]["secret_key"] == "c2VjcmV0"  # noqa: S105 - the original is untouched


def test_secret_values_are_redacted_in_text() -> None:
    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"
    text = f"Authorization: Bearer abcdefghijklmnopqrstuvwxyz\n{key}"
    redacted = redact_text(text)
    assert "abcdefghijklmnop" not in redacted
    assert "MIIE" not in redacted
    assert "BEGIN RSA PRIVATE KEY" in redacted


def test_a_cluster_other_than_the_embedded_one_needs_the_registry_of_the_suites_images(tmp_path: Path) -> None:
    elsewhere = str(tmp_path / "their-kubeconfig")
    settings = Settings.from_user_data({"kubeconfig": elsewhere})
    assert (settings.registry, settings.pytorch_image) == ("", "")
    with pytest.raises(ConfigError, match=r"make push-images REGISTRY=<registry>.*-u registry=<registry>"):
        settings.check_images()
    theirs = Settings.from_user_data({"kubeconfig": elsewhere, "registry": "reg.example/kfcheck"})
    theirs.check_images()
    assert theirs.tf_image == "reg.example/kfcheck/tf-mnist:latest"
    assert theirs.builder_base_image == "reg.example/kfcheck/builder-base:latest"  # pods push where nodes pull


def test_the_readme_lists_every_setting_as_kfcheck_config_prints_it() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    rows = [line for line in Settings.markdown_table().splitlines() if line.startswith("| `")]
    assert rows, "Settings.markdown_table() printed no setting"
    missing = [row for row in rows if row not in readme.splitlines()]
    assert not missing, "README.md differs from `python -m kfcheck config` in:\n" + "\n".join(missing)


def _kubeconfig(path: Path, server: str, ca: bytes, user: str, context: str = "ctx") -> str:
    text = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": f"cluster-of-{user}", "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(ca).decode()}}],
        "contexts": [{"name": context, "context": {"cluster": f"cluster-of-{user}", "user": user}}],
        "users": [{"name": user, "user": {"token": "t"}}],
    }  # fmt: skip
    path.write_text(yaml.safe_dump(text))
    return str(path)


def test_the_embedded_cluster_is_known_by_its_api_server_and_ca_whatever_kubeconfig_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = b"-----BEGIN CERTIFICATE-----\nembedded\n-----END CERTIFICATE-----\n"
    ours = _kubeconfig(tmp_path / "kubeconfig", "https://10.0.0.1:6443", ca, "admin")
    (tmp_path / "cluster.json").write_text(json.dumps({"kubeconfig": ours, "registry": "127.0.0.1:5000"}))
    monkeypatch.setenv("KFCHECK_STATE", str(tmp_path))
    profile_user = _kubeconfig(tmp_path / "profile", "https://10.0.0.1:6443/", ca, "alice", context="mine")
    assert Settings.from_user_data({"kubeconfig": profile_user}).registry == "127.0.0.1:5000"
    same_address_other_ca = _kubeconfig(tmp_path / "other-ca", "https://10.0.0.1:6443", b"another CA", "bob")
    assert Settings.from_user_data({"kubeconfig": same_address_other_ca}).registry == ""
    other_server = _kubeconfig(tmp_path / "other", "https://10.0.0.2:6443", ca, "carol")
    assert Settings.from_user_data({"kubeconfig": other_server}).registry == ""
    assert Settings.from_user_data({"kubeconfig": str(tmp_path / "missing")}).registry == ""
