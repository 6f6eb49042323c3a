"""`kfcheck release-gate` end to end without a cluster: `kfcheck run` replaced by copies of a recorded run
(tests/release_gate_fakes.py), the upgrade and rollback by real shell commands that write what they did, the
cluster's CRDs and components by plain data. What the gate runs in which order, with which radish arguments,
and what its report (gate.json, gate.md) says for each way an upgrade can go."""

from __future__ import annotations

import dataclasses
import json
import shlex
import signal
from pathlib import Path
from typing import Any

import pytest

from kfcheck import cli
from kfcheck.upgrades.sequence import GateOptions, ReleaseGate
from tests.release_gate_fakes import (
    FEATURE,
    IN_FLIGHT_FEATURE,
    NEW,
    OLD_CRDS,
    ONE_WORKER,
    TWO_WORKERS,
    FakeCluster,
    FakeRuns,
    Outcome,
    crd,
    default_outcome,
)

NEW_CRDS = [
    crd("jobsets.jobset.x-k8s.io", ["v1alpha2"], ["v1alpha2"], "JobSet"),
    crd("pytorchjobs.kubeflow.org", ["v1"], ["v1"], "PyTorchJob"),
    crd("trainjobs.trainer.kubeflow.org", ["v1alpha1"], ["v1alpha1"], "TrainJob"),
]
ALL_RUNS = ["before", "in-flight-start", "in-flight-after", "after", "in-flight-rollback", "rollback"]


def command(events: Path, name: str, code: int = 0) -> str:
    """A shell command that says what it does, records itself in `events` and ends with `code`."""
    return f"echo '{name} of Kubeflow: step 1'; echo {name} >> {shlex.quote(str(events))}; exit {code}"


def gate(
    tmp_path: Path,
    cluster: FakeCluster,
    runs: FakeRuns,
    *,
    upgrade: int = 0,
    rollback: int | None = 0,
    radish: list[str] | None = None,
) -> tuple[int, dict[str, Any], str, list[str]]:
    """Runs the gate; (exit code, gate.json, gate.md, the events in order)."""
    events = runs.events
    options = GateOptions(
        reports=tmp_path / "reports",
        upgrade_command=command(events, "upgrade", upgrade),
        rollback_command=command(events, "rollback", rollback or 0) if rollback is not None else "",
        radish_args=radish or ["--", "features/", "-b", "radish", "--tags", "smoke", "-u", "timeout=600"],
        from_label="kubeflow-1.11",
        to_label="kubeflow-master-2026-06",
        roll_back=rollback is not None,
    )
    code = ReleaseGate(options, cluster, run_kfcheck=runs).run()
    report = tmp_path / "reports" / "release-gate"
    data = json.loads((report / "gate.json").read_text())
    lines = events.read_text().splitlines() if events.exists() else []
    return code, data, (report / "gate.md").read_text(), lines


def upgraded_runs(events: Path, **outcomes: Outcome) -> FakeRuns:
    """Runs that read the new release's versions after the upgrade and the old ones after the rollback."""
    in_flight_after = dataclasses.replace(default_outcome("in-flight-after"), versions=dict(NEW))
    after = {"after": Outcome(versions=dict(NEW)), "in-flight-after": in_flight_after}
    return FakeRuns(events, {**after, **outcomes})


def test_an_upgrade_and_rollback_that_break_nothing_pass_and_report_every_version(tmp_path: Path) -> None:
    cluster = FakeCluster([OLD_CRDS, NEW_CRDS])
    code, data, markdown, events = gate(tmp_path, cluster, upgraded_runs(tmp_path / "events"))
    assert (code, data["verdict"], data["exit_code"], data["reasons"]) == (0, "pass", 0, [])
    assert events == [
        "run before",
        "run in-flight-start",
        "upgrade",
        "run in-flight-after",
        "run after",
        "rollback",
        "run in-flight-rollback",
        "run rollback",
    ]
    versions = {
        run: {name: found["version"] for name, found in data["versions"][run]["components"].items()}
        for run in ("before", "after", "rollback")
    }
    assert versions["before"]["jobset"] == versions["rollback"]["jobset"] == "0.10.1"
    assert versions["after"] == {
        "training-operator": "image tag v1.9.2",
        "kubeflow-trainer": "2.2.0",
        "jobset": "0.11.1",
    }
    assert "| jobset (JobSet (jobset.x-k8s.io/v1alpha2)) | 0.10.1 | 0.11.1 | 0.10.1 |" in markdown
    assert "127.0.0.1:5000/jobset-controller:0.11.1 (sha256:abababababab…)" in markdown
    assert data["crds"]["rollback check"]["added_by_the_upgrade"] == ["trainjobs.trainer.kubeflow.org"]
    assert data["crds"]["rollback check"]["outcome"] == "safe"
    assert "certificates.cert-manager.io" not in data["crds"]["before"]  # only Kubeflow's groups
    assert data["commands"]["upgrade"]["exit_code"] == 0
    assert "upgrade of Kubeflow: step 1" in data["commands"]["upgrade"]["output_tail"]
    assert "upgrade of Kubeflow: step 1" in (tmp_path / "reports" / "upgrade.log").read_text()
    assert list(data["phases"]) == [
        "crd snapshot",
        "before",
        "in-flight start",
        "upgrade command",
        "in-flight after",
        "after",
        "rollback check",
        "rollback command",
        "in-flight rollback",
        "rollback",
        "in-flight sweep",
    ]
    assert data["in_flight_sweep"] == ["namespace kfcheck-in-flight-1a2b3c"] and cluster.sweeps == 1
    assert data["comparisons"]["before→after"]["outcome"] == data["comparisons"]["before→rollback"]["outcome"] == "pass"
    assert markdown.startswith("# Release gate: kubeflow-1.11 → kubeflow-master-2026-06\n\nrelease gate")
    assert "PASS — nothing regressed across the upgrade and the rollback (exit code 0)" in markdown


def test_each_run_gets_the_users_arguments_with_its_own_tags_and_phase(tmp_path: Path) -> None:
    runs = upgraded_runs(tmp_path / "events")
    gate(
        tmp_path,
        FakeCluster([OLD_CRDS, NEW_CRDS]),
        runs,
        radish=["--", "features/", "-b", "radish", "--tags=smoke or slow", "-s", "3", "-u", "upgrade_phase=x"],
    )
    full = [
        "features/",
        "-b",
        "radish",
        "-s",
        "3",
        "-u",
        "upgrade_phase=x",
        "--tags",
        "(smoke or slow) and not upgrade and not helm-upgrade",
    ]
    assert runs.calls["before"] == runs.calls["after"] == runs.calls["rollback"] == full
    for phase in ("start", "after", "rollback"):
        assert runs.calls[f"in-flight-{phase}"] == [
            "features/",
            "-b",
            "radish",
            "-u",
            f"upgrade_phase={phase}",
            "--tags",
            "upgrade",
        ]


def test_scenario_statuses_of_every_run_are_in_one_matrix(tmp_path: Path) -> None:
    code, data, markdown, _ = gate(tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events"))
    assert code == 0, data["reasons"]  # the in-flight scenarios' handovers to the next phase are expected skips
    rows = {row["name"]: row["statuses"] for row in data["scenarios"]}
    assert rows[f"{IN_FLIGHT_FEATURE}: {ONE_WORKER}"] == {
        "in-flight start": "handed over",
        "in-flight after": "handed over",
        "in-flight rollback": "passed",
    }
    assert rows[f"{FEATURE}: {TWO_WORKERS}"] == {"before": "passed", "after": "passed", "rollback": "passed"}
    assert (
        "| scenario | before | in-flight start | in-flight after | after | in-flight rollback | rollback |" in markdown
    )


def test_a_scenario_that_fails_after_the_upgrade_is_a_regression_naming_it(tmp_path: Path) -> None:
    runs = upgraded_runs(tmp_path / "events", after=Outcome(failed={TWO_WORKERS}, versions=dict(NEW)))
    code, data, markdown, _ = gate(tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), runs)
    assert (code, data["verdict"]) == (1, "regression")
    (reason,) = data["reasons"]
    assert reason.startswith(f"before→after: {FEATURE}: {TWO_WORKERS}: passed before, failed after — ")
    assert "MASTER_ADDR is missing" in reason
    assert data["comparisons"]["before→rollback"]["outcome"] == "pass"
    assert "FAIL — a scenario regressed" in markdown


def test_skipped_to_passed_is_no_regression_but_passed_to_skipped_is(tmp_path: Path) -> None:
    runs = upgraded_runs(
        tmp_path / "events",
        before=Outcome(skipped={ONE_WORKER}),
        after=Outcome(skipped={TWO_WORKERS}, versions=dict(NEW)),
    )
    code, data, _, _ = gate(tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), runs)
    after = data["comparisons"]["before→after"]
    assert after["now_passing"] == [f"{FEATURE}: {ONE_WORKER}"]  # e.g. TrainJob once the upgrade installs Trainer
    assert after["regressions"] == [f"{FEATURE}: {TWO_WORKERS}: passed before, skipped after"]
    assert (code, data["verdict"]) == (1, "regression")


def test_in_flight_work_that_fails_after_the_upgrade_is_a_regression(tmp_path: Path) -> None:
    broken = Outcome(feature=IN_FLIGHT_FEATURE, failed={ONE_WORKER}, versions=dict(NEW))
    code, data, _, _ = gate(
        tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events", **{"in-flight-after": broken})
    )
    assert (code, data["verdict"]) == (1, "regression")
    assert data["in_flight"]["outcome"] == "regression"
    (reason,) = data["reasons"]
    assert reason.startswith(f"in-flight: in-flight after: {IN_FLIGHT_FEATURE}: {ONE_WORKER}: failed — ")


def test_an_in_flight_phase_where_every_scenario_was_left_out_is_inconclusive(tmp_path: Path) -> None:
    """Skipped for another reason than a handover (an API the cluster did not serve): nothing was in flight."""
    left_out = Outcome(feature=IN_FLIGHT_FEATURE, skipped={ONE_WORKER, TWO_WORKERS}, versions=dict(NEW))
    code, data, _, _ = gate(
        tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events", **{"in-flight-after": left_out})
    )
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert data["reasons"] == [
        "in-flight: in-flight after: no in-flight scenario went through this phase (0 passed, 0 failed, 2 skipped)"
    ]


def test_an_in_flight_phase_that_could_not_start_is_inconclusive(tmp_path: Path) -> None:
    code, data, _, _ = gate(
        tmp_path,
        FakeCluster([OLD_CRDS, NEW_CRDS]),
        upgraded_runs(tmp_path / "events", **{"in-flight-rollback": Outcome(did_not_start=True)}),
    )
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert data["reasons"] == [
        "in-flight: in-flight rollback: the run could not start: Given the suite starts "
        "(failed after 0.0s): the cluster does not answer"
    ]


def test_a_failed_upgrade_is_rolled_back_its_after_runs_left_out_and_inconclusive(tmp_path: Path) -> None:
    cluster = FakeCluster([OLD_CRDS, OLD_CRDS])
    code, data, markdown, events = gate(tmp_path, cluster, FakeRuns(tmp_path / "events"), upgrade=4)
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert events == ["run before", "run in-flight-start", "upgrade", "rollback"]
    assert data["commands"]["upgrade"]["exit_code"] == 4
    assert "upgrade of Kubeflow: step 1" in data["commands"]["upgrade"]["output_tail"]
    assert data["reasons"] == [
        "the gate: the upgrade command failed (exit code 4; its output: upgrade.log): the "
        "in-flight after and after runs were left out, and the rollback command was run to "
        "bring the cluster back to one release"
    ]
    versions = data["versions"]["after the rollback"]
    assert (
        versions["source"] == "read from the cluster by the gate"
        and versions["components"]["jobset"]["version"] == "0.10.1"
    )
    assert "## The upgrade command: exit code 4" in markdown and cluster.sweeps == 1


def test_a_rollback_the_old_release_could_not_read_is_refused_naming_crd_versions_and_objects(tmp_path: Path) -> None:
    stored_new = [
        crd("jobsets.jobset.x-k8s.io", ["v1alpha2", "v1"], ["v1alpha2", "v1"], "JobSet", storage="v1"),
        crd("pytorchjobs.kubeflow.org", ["v1"], ["v1"], "PyTorchJob"),
    ]
    code, data, markdown, events = gate(
        tmp_path, FakeCluster([OLD_CRDS, stored_new]), upgraded_runs(tmp_path / "events")
    )
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert "rollback" not in events and events[-1] == "run after"
    (refusal,) = data["crds"]["rollback check"]["refusals"]
    assert (refusal["crd"], refusal["unreadable"], refusal["served_before"]) == (
        "jobsets.jobset.x-k8s.io",
        ["v1"],
        ["v1alpha2"],
    )
    (reason,) = data["reasons"]
    for words in (
        "jobsets.jobset.x-k8s.io",
        "stored as v1,",
        "it served v1alpha2",
        "team-a/mnist, team-b/resnet",
        "The rollback command was not run: the cluster stays upgraded to kubeflow-master-2026-06",
    ):
        assert words in reason
    assert "Rollback check: **refused**" in markdown
    assert "| jobsets.jobset.x-k8s.io | v1alpha2 | v1alpha2 | v1alpha2, v1 | v1alpha2, v1 |" in markdown


def test_a_failed_rollback_is_inconclusive_with_its_output(tmp_path: Path) -> None:
    code, data, _, events = gate(
        tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events"), rollback=2
    )
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert events[-1] == "rollback" and "rollback of Kubeflow: step 1" in data["commands"]["rollback"]["output_tail"]
    assert data["reasons"][0].startswith(
        "the gate: the rollback command failed (exit code 2; its output: rollback.log)"
    )


def test_no_rollback_leaves_the_cluster_upgraded_and_notes_the_check(tmp_path: Path) -> None:
    code, data, _, events = gate(
        tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events"), rollback=None
    )
    assert code == 0 and events == ["run before", "run in-flight-start", "upgrade", "run in-flight-after", "run after"]
    assert list(data["comparisons"]) == ["before→after"]
    assert data["notes"][0].startswith("--no-rollback: the cluster stays upgraded; a rollback check: every stored")


def test_an_interrupted_gate_reports_what_it_has_sweeps_and_does_not_compare_the_cut_run(tmp_path: Path) -> None:
    runs = FakeRuns(tmp_path / "events", {"after": Outcome(failed={ONE_WORKER})}, interrupt_in="after")
    cluster = FakeCluster([OLD_CRDS, NEW_CRDS])
    code, data, _, events = gate(tmp_path, cluster, runs)
    assert (code, data["verdict"]) == (3, "inconclusive")  # the cut run's failure is no regression
    assert events[-1] == "run after" and cluster.sweeps == 1
    assert data["runs"]["after"]["interrupted"] is True and "before→after" not in data["comparisons"]
    assert data["reasons"] == [
        "the gate: interrupted during after (received signal SIGINT): the phases after it were "
        "not run; the cluster may be at kubeflow-master-2026-06: roll it back with "
        f"`{command(tmp_path / 'events', 'rollback')}`"
    ]


def test_crds_that_cannot_be_read_stop_the_gate_before_it_changes_anything(tmp_path: Path) -> None:
    cluster = FakeCluster([PermissionError("403 customresourcedefinitions is forbidden")])
    code, data, _, events = gate(tmp_path, cluster, FakeRuns(tmp_path / "events"))
    assert (code, events, cluster.sweeps) == (3, [], 0)
    assert "403 customresourcedefinitions is forbidden" in data["reasons"][0]
    assert "--no-rollback" in data["reasons"][0]


def test_leftovers_that_cannot_be_swept_make_the_gate_inconclusive(tmp_path: Path) -> None:
    cluster = FakeCluster([OLD_CRDS, NEW_CRDS], sweep_error=RuntimeError("namespaces is forbidden"))
    code, data, _, _ = gate(tmp_path, cluster, upgraded_runs(tmp_path / "events"))
    assert (code, data["verdict"]) == (3, "inconclusive")
    assert "namespaces is forbidden" in data["reasons"][0] and "kfcheck/in-flight=true" in data["reasons"][0]


def test_each_runs_html_page_links_the_gates_report(tmp_path: Path) -> None:
    gate(tmp_path, FakeCluster([OLD_CRDS, NEW_CRDS]), upgraded_runs(tmp_path / "events"))
    for run in ALL_RUNS:
        page = (tmp_path / "reports" / run / "cucumber.html").read_text()
        assert page.startswith('<html><body><section id="kfcheck-linked-report"')
        assert 'href="../release-gate/gate.md">release gate kubeflow-1.11' in page


def test_the_command_line_wants_a_rollback_command_or_no_rollback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["release-gate", "--reports", str(tmp_path), "--upgrade-command", "true", "--", "features/"])
    assert code == 2 and "give --rollback-command CMD, or --no-rollback" in capsys.readouterr().err
    assert not (tmp_path / "release-gate").exists()


def test_the_command_line_gate_stops_before_any_change_when_the_cluster_does_not_answer(tmp_path: Path) -> None:
    """From `python -m kfcheck release-gate` to the report, with the real cluster access: nothing is run."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    marker = tmp_path / "upgraded"
    sigterm = signal.getsignal(signal.SIGTERM)
    try:
        code = cli.main(["release-gate", "--reports", str(tmp_path / "reports"), "--upgrade-command", f"touch {marker}",
                         "--rollback-command", "true", "--from", "a", "--to", "b", "--", "features/", "-b", "radish",
                         "-u", f"kubeconfig={kubeconfig}"])  # fmt: skip
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    data = json.loads((tmp_path / "reports" / "release-gate" / "gate.json").read_text())
    assert (code, data["verdict"], data["runs"], marker.exists()) == (3, "inconclusive", {}, False)
    assert "CRDs could not be read before the upgrade: ClusterUnavailable" in data["reasons"][0]
    assert "https://127.0.0.1:1" in data["reasons"][0]
