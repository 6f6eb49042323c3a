"""The release gate's parts, one by one and without a cluster: the rollback check on CRDs given as plain dicts,
each run's radish arguments, the child processes (a command's output kept and echoed, an interrupt handed to the
child), the versions read back from a recorded run, the verdict's order, and JobSet among the served APIs."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from kfcheck.core import provenance
from kfcheck.core.config import Settings
from kfcheck.kubeflow import trainjob
from kfcheck.kubeflow.served import JOBSET_API, SERVED_APIS
from kfcheck.reports import release_gate, release_gate_markdown
from kfcheck.upgrades import arguments, crds, processes
from tests.release_gate_fakes import RECORDED, crd


def versions(*items: dict[str, Any]) -> dict[str, crds.CrdVersions]:
    return crds.of_groups(items)


# --- the rollback check -------------------------------------------------------------------------------------------


def test_a_crd_is_read_as_the_api_server_returns_it() -> None:
    read = crds.versions_of(crd("notebooks.kubeflow.org", ["v1alpha1", "v1beta1", "v1"], ["v1"], "Notebook"))
    assert (read.name, read.group, read.kind, read.plural) == (
        "notebooks.kubeflow.org",
        "kubeflow.org",
        "Notebook",
        "notebooks",
    )
    assert (read.served, read.stored, read.storage) == (["v1alpha1", "v1beta1", "v1"], ["v1"], "v1")


def test_only_kubeflows_groups_are_checked() -> None:
    found = versions(
        crd("tfjobs.kubeflow.org", ["v1"], ["v1"]),
        crd("trainjobs.trainer.kubeflow.org", ["v1alpha1"], ["v1alpha1"]),
        crd("jobsets.jobset.x-k8s.io", ["v1alpha2"], ["v1alpha2"]),
        crd("issuers.cert-manager.io", ["v1"], ["v1"]),
        crd("kubeflow.org.example.com", ["v1"], ["v1"]),
    )
    assert sorted(found) == ["jobsets.jobset.x-k8s.io", "tfjobs.kubeflow.org", "trainjobs.trainer.kubeflow.org"]


def test_a_version_not_served_before_the_upgrade_is_served_only_when_a_served_version_is_stored() -> None:
    before = versions(crd("jobsets.jobset.x-k8s.io", ["v1alpha2"], ["v1alpha2"], "JobSet"))
    served_only = versions(
        crd("jobsets.jobset.x-k8s.io", ["v1alpha2", "v1"], ["v1alpha2"], "JobSet", storage="v1alpha2")
    )
    assert crds.check_rollback(before, served_only).safe  # the new version is served, nothing is stored as it
    stored = versions(crd("jobsets.jobset.x-k8s.io", ["v1alpha2", "v1"], ["v1alpha2", "v1"], "JobSet", storage="v1"))
    check = crds.check_rollback(before, stored)
    assert not check.safe
    assert [(r.crd, r.kind, r.unreadable, r.served_before) for r in check.refusals] == [
        ("jobsets.jobset.x-k8s.io", "JobSet", ["v1"], ["v1alpha2"])
    ]


def test_a_refusal_names_the_crd_the_versions_and_the_objects_of_its_kind() -> None:
    before = versions(crd("pytorchjobs.kubeflow.org", ["v1"], ["v1"], "PyTorchJob"))
    now = versions(crd("pytorchjobs.kubeflow.org", ["v1", "v2"], ["v1", "v2"], "PyTorchJob", storage="v2"))
    check = crds.check_rollback(before, now)
    asked: list[tuple[str, int]] = []

    def list_objects(listed: crds.CrdVersions, limit: int) -> tuple[list[str], bool]:
        asked.append((listed.storage, limit))
        return ["team-a/mnist", "team-b/resnet"], True

    crds.name_objects(check, now, list_objects)
    assert asked == [("v2", crds.OBJECTS_LISTED)]  # listed through the version they are stored as
    assert check.message() == (
        "the rollback is refused: pytorchjobs.kubeflow.org: objects are stored as v2, which the release before the "
        "upgrade did not serve (it served v1): after a rollback the PyTorchJob objects stored so could not be read. "
        "Objects of kind PyTorchJob: team-a/mnist, team-b/resnet and more"
    )
    assert check.as_dict()["outcome"] == "refused"


def test_objects_that_cannot_be_listed_are_said_so() -> None:
    before = versions(crd("tfjobs.kubeflow.org", ["v1"], ["v1"], "TFJob"))
    now = versions(crd("tfjobs.kubeflow.org", ["v2"], ["v1", "v2"], "TFJob"))
    check = crds.check_rollback(before, now)

    def forbidden(_crd: crds.CrdVersions, _limit: int) -> tuple[list[str], bool]:
        raise PermissionError("403 tfjobs is forbidden")

    crds.name_objects(check, now, forbidden)
    assert check.refusals[0].objects == ["(could not be listed: PermissionError: 403 tfjobs is forbidden)"]


def test_a_crd_the_upgrade_added_is_listed_not_refused_and_one_it_removed_too() -> None:
    before = versions(crd("tfjobs.kubeflow.org", ["v1"], ["v1"]))
    now = versions(crd("trainjobs.trainer.kubeflow.org", ["v1alpha1"], ["v1alpha1"]))
    check = crds.check_rollback(before, now)
    assert check.safe
    assert (check.added, check.removed) == (["trainjobs.trainer.kubeflow.org"], ["tfjobs.kubeflow.org"])
    assert "added by the upgrade (the rollback may remove them): trainjobs.trainer.kubeflow.org" in check.message()


def test_a_version_stored_before_the_upgrade_already_is_no_reason_to_refuse() -> None:
    """An unfinished storage migration of the old release: the rollback returns to the same state."""
    before = versions(crd("notebooks.kubeflow.org", ["v1"], ["v1beta1", "v1"]))
    assert crds.check_rollback(before, versions(crd("notebooks.kubeflow.org", ["v1"], ["v1beta1", "v1"]))).safe


# --- each run's arguments -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "tags"),
    [
        (["features/"], "not upgrade and not helm-upgrade"),
        (["features/", "--tags", "smoke"], "(smoke) and not upgrade and not helm-upgrade"),
        (["--tags=smoke or trainer", "features/"], "(smoke or trainer) and not upgrade and not helm-upgrade"),
    ],
)
def test_the_full_runs_leave_the_upgrade_features_out_of_the_users_tags(given: list[str], tags: str) -> None:
    assert arguments.full_run(["--", *given]) == ["features/", "--tags", tags]


def test_the_in_flight_runs_keep_paths_basedir_and_settings_and_name_their_phase_never_strict() -> None:
    given = [
        "--",
        "features/",
        "-b",
        "radish",
        "--tags",
        "smoke",
        "-u",
        "namespace=team-a",
        "--user-data=timeout=9",
        "-s",
        "1,2",
        "-u",
        "upgrade_phase=after",
        "-u",
        "strict=true",
        "--no-ansi",
    ]
    assert arguments.in_flight_run(given, "rollback") == [
        "features/",
        "-b",
        "radish",
        "--no-ansi",
        "-u",
        "namespace=team-a",
        "-u",
        "timeout=9",
        "-u",
        "upgrade_phase=rollback",
        "--tags",
        "upgrade",
    ]
    assert arguments.user_data(given) == {"namespace": "team-a", "timeout": "9", "strict": "true"}


# --- child processes ----------------------------------------------------------------------------------------------


def test_a_commands_output_is_echoed_kept_in_its_log_and_its_tail_redacted(tmp_path: Path) -> None:
    echo = io.StringIO()
    lines = "; ".join(f"echo line {number}" for number in range(60))
    record = processes.run_command(f"{lines}; echo 'token: s3cr3t' >&2; exit 7", tmp_path / "upgrade.log", echo)
    assert (record.exit_code, record.interrupted) == (7, "")
    assert echo.getvalue() == (tmp_path / "upgrade.log").read_text()
    assert echo.getvalue().startswith("line 0\n") and "token: s3cr3t" in echo.getvalue()
    tail = record.tail.splitlines()
    assert len(tail) == processes.TAIL_LINES and tail[0] == "line 21" and tail[-1] == "token: <redacted>"


def test_an_interrupt_hands_the_child_one_sigint_waits_for_it_and_is_raised_again(tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    script = (
        f"import signal, sys, time, pathlib\n"
        f"def stop(*_): pathlib.Path({str(marker)!r}).write_text('SIGINT'); sys.exit(0)\n"
        f"signal.signal(signal.SIGINT, stop)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True)
    assert child.stdout is not None and child.stdout.readline() == b"ready\n"
    interrupts = [KeyboardInterrupt("Ctrl-C")]

    def drain() -> None:  # Ctrl-C arrives while the gate waits on the child; then the child ends
        if interrupts:
            raise interrupts.pop()

    with pytest.raises(KeyboardInterrupt, match="Ctrl-C"):
        processes.wait_through_interrupt(child, drain)
    assert child.returncode == 0 and marker.read_text() == "SIGINT"


# --- the report's parts -------------------------------------------------------------------------------------------


def test_the_versions_are_read_back_from_a_recorded_runs_messages() -> None:
    entries = release_gate.provenance_entries(RECORDED)
    assert entries is not None
    found = release_gate.components(entries, "before/messages.ndjson")["components"]
    assert found["kubeflow-trainer"]["version"] == "2.1.0"
    assert found["training-operator"]["apis"] == ["PyTorchJob (kubeflow.org/v1)", "TFJob (kubeflow.org/v1)"]
    assert found["training-operator"]["images"][0].startswith("127.0.0.1:5000/training-operator:latest (sha256:")


def test_a_run_without_versions_says_so(tmp_path: Path) -> None:
    lines = [line for line in RECORDED.read_text().splitlines() if "kfcheck/provenance" not in line]
    (tmp_path / "messages.ndjson").write_text("\n".join(lines) + "\n")
    assert release_gate.provenance_entries(tmp_path / "messages.ndjson") is None
    assert "not in this run's messages" in release_gate.components(None, "x")["note"]


@pytest.mark.parametrize(
    ("outcomes", "worst"),
    [
        ([], ("pass", 0)),
        (["pass", "inconclusive"], ("inconclusive", 3)),
        (["inconclusive", "unusable"], ("unusable", 2)),
        (["unusable", "regression", "inconclusive"], ("regression", 1)),
    ],
)
def test_the_verdict_is_the_worst_of_its_parts(outcomes: list[str], worst: tuple[str, int]) -> None:
    assert release_gate.verdict([release_gate.Part(str(n), o, []) for n, o in enumerate(outcomes)]) == worst


def test_markdown_tables_keep_their_columns_whatever_a_name_holds() -> None:
    assert release_gate_markdown._table(["a", "b"], [["x | y\nz", ""]]) == [
        "| a | b |",
        "|---|---|",
        "| x \\| y z | — |",
    ]


# --- JobSet among the APIs whose provenance a run reports ---------------------------------------------------------


def fake_kube(pod_labels: dict[str, str], deployment_labels: dict[str, str], image: str) -> Any:
    owner = SimpleNamespace(kind="ReplicaSet", name="jobset-controller-5d9")
    pod = SimpleNamespace(
        metadata=SimpleNamespace(
            namespace="kubeflow-system",
            name="jobset-controller-5d9-x",
            labels=pod_labels,
            annotations={},
            owner_references=[owner],
        ),
        spec=SimpleNamespace(containers=[SimpleNamespace(image=image)]),
        status=SimpleNamespace(
            container_statuses=[SimpleNamespace(image=image, image_id=f"{image}@sha256:{'0' * 64}")]
        ),
    )
    deployment = SimpleNamespace(
        metadata=SimpleNamespace(name="jobset-controller", labels=deployment_labels, annotations={}),
        spec=SimpleNamespace(template=SimpleNamespace(spec=pod.spec)),
    )
    replica_set = SimpleNamespace(
        metadata=SimpleNamespace(owner_references=[SimpleNamespace(kind="Deployment", name="jobset-controller")])
    )

    def pods(namespace: str, label_selector: str) -> Any:
        return SimpleNamespace(
            items=[pod] if namespace == "kubeflow-system" and label_selector in pod_selectors else []
        )

    pod_selectors = {f"{key}={value}" for key, value in pod_labels.items()}
    return SimpleNamespace(
        dynamic=SimpleNamespace(resources=SimpleNamespace(get=lambda **_: object())),
        core=SimpleNamespace(list_namespaced_pod=pods),
        apps=SimpleNamespace(
            read_namespaced_replica_set=lambda *_: replica_set, read_namespaced_deployment=lambda *_: deployment
        ),
    )


def test_jobset_is_among_the_served_apis_with_its_controller() -> None:
    assert (JOBSET_API, trainjob.JOBSET) in SERVED_APIS
    assert (JOBSET_API.api_version, JOBSET_API.kind) == ("jobset.x-k8s.io/v1alpha2", "JobSet")


@pytest.mark.parametrize(
    ("pod_labels", "deployment_labels", "version"),
    [
        ({"app.kubernetes.io/name": "jobset"}, {"app.kubernetes.io/version": "0.10.1"}, "0.10.1"),  # Helm chart
        ({"control-plane": "controller-manager"}, {}, "image tag v0.11.1"),  # kustomize, by the image's tag
    ],
)
def test_jobsets_version_is_its_label_else_its_image_tag(
    pod_labels: dict[str, str], deployment_labels: dict[str, str], version: str
) -> None:
    kube = fake_kube(pod_labels, deployment_labels, "127.0.0.1:5000/jobset-controller:v0.11.1")
    (entry,) = provenance.read(kube, Settings(trainer_namespace="kubeflow-system"), [(JOBSET_API, trainjob.JOBSET)])
    assert (entry.served, entry.deployment, entry.version) == (True, "kubeflow-system/jobset-controller", version)
    assert entry.images == [f"127.0.0.1:5000/jobset-controller:v0.11.1 (sha256:{'0' * 64})"]
