"""The Kubeflow release sets the embedded cluster can install (cluster/releases/): each says every component's
version, Trainer's JobSet is the one Trainer requires, an unknown name is refused naming the known ones, and
the build script agrees."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kfcheck_cluster.layout import CLUSTER_DIR, RELEASE_KEYS, Layout, UnknownRelease, known_releases, read_release

REQUIRED = {"kubeflow-1.10", "kubeflow-1.11", "kubeflow-master-2026-06"}


def test_the_release_sets_the_gate_needs_exist_and_the_default_is_kubeflow_1_11() -> None:
    assert set(known_releases()) >= REQUIRED
    assert Layout(cache=Path("/c"), state=Path("/s"), release="kubeflow-1.11").release_name == "kubeflow-1.11"
    assert (CLUSTER_DIR / "versions.env").read_text().count("KUBEFLOW_RELEASE=kubeflow-1.11") == 1


@pytest.mark.parametrize("release", sorted(REQUIRED))
def test_each_release_set_names_every_component_and_cites_its_source(release: str) -> None:
    versions = read_release(release)
    assert set(RELEASE_KEYS) <= set(versions)
    assert versions["TRAINING_OPERATOR_VERSION"] == "1.9.2"  # every release from v1.10 ships it
    assert bool(versions["TRAINER_VERSION"]) == bool(versions["JOBSET_VERSION"])
    assert "README" in (CLUSTER_DIR / "releases" / f"{release}.env").read_text()


def test_the_upgrade_the_gate_runs_by_default_changes_trainer_and_jobset() -> None:
    before, after = read_release("kubeflow-1.11"), read_release("kubeflow-master-2026-06")
    assert (before["TRAINER_VERSION"], before["JOBSET_VERSION"]) == ("2.1.0", "0.10.1")
    assert (after["TRAINER_VERSION"], after["JOBSET_VERSION"]) == ("2.2.0", "0.11.1")
    assert read_release("kubeflow-1.10")["TRAINER_VERSION"] == ""


def test_an_unknown_release_set_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownRelease, match=r"known are kubeflow-1\.10, kubeflow-1\.11"):
        Layout(cache=Path("/c"), state=Path("/s"), release="kubeflow-9.9").versions  # noqa: B018
    with pytest.raises(UnknownRelease, match="known are"):
        read_release("../versions")


def test_a_release_set_file_of_ones_own_is_taken_and_must_say_every_component(tmp_path: Path) -> None:
    own = tmp_path / "mine.env"
    own.write_text("TRAINING_OPERATOR_VERSION=1.9.2\nTRAINER_VERSION=\nJOBSET_VERSION=\nNOTEBOOKS_VERSION=1.10.0\n")
    assert Layout(cache=Path("/c"), state=Path("/s"), release=str(own)).release_name == "mine"
    own.write_text("TRAINING_OPERATOR_VERSION=1.9.2\n")
    with pytest.raises(UnknownRelease, match="does not say TRAINER_VERSION"):
        read_release(str(own))


def test_the_build_script_refuses_an_unknown_release_set_naming_the_known_ones(tmp_path: Path) -> None:
    result = subprocess.run([str(CLUSTER_DIR / "build-binaries.sh"), "trainer"], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KUBEFLOW_RELEASE": "kubeflow-9.9", "HOME": str(tmp_path)},
                            check=False)  # fmt: skip
    assert result.returncode == 2
    assert "known are kubeflow-1.10 kubeflow-1.11 kubeflow-master-2026-06" in result.stderr


@pytest.mark.parametrize("release", [name for name in sorted(REQUIRED) if read_release(name)["TRAINER_VERSION"]])
def test_each_trainer_and_jobset_version_has_its_wrapper_module(release: str) -> None:
    versions = read_release(release)
    trainer = (CLUSTER_DIR / "modules" / f"trainer-{versions['TRAINER_VERSION']}" / "go.mod").read_text()
    jobset = (CLUSTER_DIR / "modules" / f"jobset-{versions['JOBSET_VERSION']}" / "go.mod").read_text()
    assert f"github.com/kubeflow/trainer/v2 v{versions['TRAINER_VERSION']}" in trainer
    assert f"sigs.k8s.io/jobset v{versions['JOBSET_VERSION']}" in jobset
