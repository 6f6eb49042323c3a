"""`kfcheck release-gate`: after Kubeflow is upgraded from one release to the next, and after it is rolled back,
does everything still work, and does work in flight survive?

The upgrade and the rollback are the user's shell commands; the suite never knows how a cluster is made. In
order: Kubeflow's CRDs are read (what the release before the upgrade serves); the suite runs (`before`, the
in-flight and Helm upgrade features left out); the in-flight feature starts its work (`in-flight start`); the
upgrade command; the in-flight work is checked (`in-flight after`) and the suite runs again (`after`); the
rollback is checked against the CRDs (kfcheck.upgrades.crds: refused when the old release could not read what
the new one stored); the rollback command; `in-flight rollback` and `rollback`. Each run is a `kfcheck run`
process of its own. A failed upgrade command is still rolled back (the cluster returns to one release) and the
runs after it are left out. What the in-flight feature left is deleted at the end, whatever happened, and the
report (kfcheck.reports.release_gate) is written also when the gate is interrupted or fails.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kfcheck.core.config import ConfigError, Settings
from kfcheck.kubeflow import in_flight
from kfcheck.reports import release_gate
from kfcheck.reports.html import link_on_top
from kfcheck.reports.release_gate import CommandRecord, GateRecord, RunRecord
from kfcheck.reports.release_gate_markdown import verdict_lines
from kfcheck.upgrades import arguments, crds, processes
from kfcheck.upgrades.cluster import IN_FLIGHT_SELECTOR, ClusterAccess, KubeCluster

RunKfcheck = Callable[[Path, list[str]], int]  # (reports directory, radish arguments) -> exit code
RunCommand = Callable[[str, Path], CommandRecord]  # (shell command line, log) -> its record


@dataclass
class GateOptions:
    reports: Path
    upgrade_command: str
    rollback_command: str  # "" with roll_back False
    radish_args: list[str] = field(default_factory=list)
    from_label: str = ""
    to_label: str = ""
    roll_back: bool = True


class ReleaseGate:
    """One gate: its options, the cluster it reads, how it runs `kfcheck run` and the commands (injectable: the
    tests give fakes), and its record, reported whatever happens."""

    def __init__(self, options: GateOptions, cluster: ClusterAccess, run_kfcheck: RunKfcheck = processes.kfcheck_run,
                 run_command: RunCommand = processes.run_command) -> None:  # fmt: skip
        self.options, self.cluster = options, cluster
        self.run_kfcheck, self.run_command = run_kfcheck, run_command
        self.record = GateRecord(options.reports, options.from_label, options.to_label)
        self.record.handovers = list(in_flight.CONTINUES.values())
        self.crds_before: dict[str, crds.CrdVersions] | None = None
        self.phase = "the start"
        self.upgraded = False  # the upgrade command ran, whatever its outcome: the cluster may have changed
        self.rolled_back = False

    def run(self) -> int:
        """The whole gate; its exit code (0 pass, 1 regression, 3 inconclusive, 2 unusable reports)."""
        try:
            self._sequence()
        except KeyboardInterrupt as interrupt:
            self.record.stopped.append(self._interrupted(str(interrupt) or "Ctrl-C"))
        except Exception as error:
            traceback.print_exc()
            self.record.stopped.append(f"the gate failed during {self.phase}: {error.__class__.__name__}: {error}")
        if "in-flight start" in self.record.phases:
            self._sweep_in_flight()
        return self._report()

    def _sequence(self) -> None:
        if not self._timed("crd snapshot", self._snapshot_crds):
            return
        self._kfcheck_run("before", arguments.full_run(self.options.radish_args))
        self._kfcheck_run("in-flight start", arguments.in_flight_run(self.options.radish_args, "start"))
        self.upgraded = True
        upgrade_worked = self._command("upgrade", self.options.upgrade_command)
        if upgrade_worked:
            self._kfcheck_run("in-flight after", arguments.in_flight_run(self.options.radish_args, "after"))
            self._kfcheck_run("after", arguments.full_run(self.options.radish_args))
        else:
            self.record.stopped.append(self._upgrade_failed())
        if self.options.roll_back:
            if self._timed("rollback check", self._rollback_is_safe):
                self._roll_back()
        else:
            self._timed("rollback check", self._rollback_check_for_the_record)
        if not upgrade_worked:  # no run read the components since: the gate reads them itself
            when = "after the rollback" if self.rolled_back else "after the failed upgrade"
            self._timed("versions read", lambda: self._read_versions(when))
        elif self.rolled_back:
            self._kfcheck_run("in-flight rollback", arguments.in_flight_run(self.options.radish_args, "rollback"))
            self._kfcheck_run("rollback", arguments.full_run(self.options.radish_args))

    def _timed(self, phase: str, step: Callable[[], bool | None]) -> bool:
        """Runs one phase of the gate, its time kept whatever happens; whether the gate may go on."""
        self.phase = phase
        print(f"kfcheck release-gate: {phase}", flush=True)
        started = time.monotonic()
        try:
            return step() is not False
        finally:
            self.record.phases[phase] = self.record.phases.get(phase, 0.0) + time.monotonic() - started

    def _kfcheck_run(self, phase: str, radish_args: list[str]) -> None:
        directory = self.options.reports / phase.replace(" ", "-")
        messages = directory / "messages.ndjson"
        messages.unlink(missing_ok=True)  # an earlier gate's, in the same directory
        started, code, interrupted = time.monotonic(), None, True

        def run() -> None:
            nonlocal code, interrupted
            code = self.run_kfcheck(directory, radish_args)
            interrupted = False

        try:
            self._timed(phase, run)
        finally:
            if messages.exists():
                self.record.runs[phase] = RunRecord(messages, code, time.monotonic() - started, interrupted)

    def _command(self, name: str, command: str) -> bool:
        """The upgrade or rollback command; whether it succeeded. Its interrupt is the gate's."""
        record: CommandRecord | None = None

        def run() -> None:
            nonlocal record
            record = self.run_command(command, self.options.reports / f"{name}.log")

        self._timed(f"{name} command", run)
        assert record is not None
        self.record.commands[name] = record
        if record.interrupted:
            raise KeyboardInterrupt(record.interrupted)
        return record.exit_code == 0

    def _upgrade_failed(self) -> str:
        upgrade = self.record.commands["upgrade"]
        after = ("the rollback command was run to bring the cluster back to one release" if self.options.roll_back
                 else "with --no-rollback the cluster stays as the failed upgrade left it")  # fmt: skip
        return (f"the upgrade command failed (exit code {upgrade.exit_code}; its output: {upgrade.log.name}): the "
                f"in-flight after and after runs were left out, and {after}")  # fmt: skip

    def _roll_back(self) -> None:
        self.rolled_back = self._command("rollback", self.options.rollback_command)
        if not self.rolled_back:
            rollback = self.record.commands["rollback"]
            self.record.stopped.append(
                f"the rollback command failed (exit code {rollback.exit_code}; its output: {rollback.log.name}): the "
                "rollback runs were left out, and the cluster may be between releases"
            )

    def _snapshot_crds(self) -> bool:
        """Kubeflow's CRDs as the release before the upgrade serves them; without them a rollback cannot be
        checked, so the gate stops before it changes anything (unless it will not roll back)."""
        self.record.crds = {"groups": crds.KUBEFLOW_CRD_GROUPS}
        try:
            self.crds_before = crds.of_groups(self.cluster.crds())
        except Exception as error:
            why = f"Kubeflow's CRDs could not be read before the upgrade: {error.__class__.__name__}: {error}"
            self.record.crds["errors"] = [why]
            if not self.options.roll_back:
                return True
            self.record.stopped.append(f"{why}. Without them the rollback cannot be checked, so the gate stopped "
                                       "before changing anything: give the gate the right to list "
                                       "customresourcedefinitions, or run it with --no-rollback")  # fmt: skip
            return False
        self.record.crds["before"] = crds.summaries(self.crds_before)
        return True

    def _check(self) -> crds.RollbackCheck | None:
        """The rollback check against the CRDs now, kept in the record; None when the CRDs cannot be read."""
        if self.crds_before is None:
            return None
        try:
            now = crds.of_groups(self.cluster.crds())
        except Exception as error:
            why = f"Kubeflow's CRDs could not be read before the rollback: {error.__class__.__name__}: {error}"
            self.record.crds.setdefault("errors", []).append(why)
            return None
        check = crds.check_rollback(self.crds_before, now)
        crds.name_objects(check, now, self.cluster.list_objects)
        self.record.crds["before the rollback"] = crds.summaries(now)
        self.record.crds["rollback check"] = check.as_dict()
        return check

    def _rollback_is_safe(self) -> bool:
        check = self._check()
        stays = f"the cluster stays upgraded to {self.options.to_label or 'the new release'}"
        if check is None:
            self.record.stopped.append(f"the rollback was not run: Kubeflow's CRDs could not be read; {stays}")
            return False
        if not check.safe:
            print(f"kfcheck release-gate: {check.message()}", file=sys.stderr, flush=True)
            self.record.stopped.append(f"{check.message()}. The rollback command was not run: {stays}")
        return check.safe

    def _rollback_check_for_the_record(self) -> None:
        check = self._check()
        if check is not None:
            self.record.notes.append(f"--no-rollback: the cluster stays upgraded; a rollback check: {check.message()}")

    def _read_versions(self, when: str) -> None:
        """What serves each API now, read by the gate itself: no run reads it after a failed upgrade."""
        try:
            self.record.read_by_gate[when] = self.cluster.components()
        except Exception as error:
            self.record.notes.append(f"the components' versions could not be read {when}: {error}")

    def _interrupted(self, why: str) -> str:
        where = f"interrupted during {self.phase} ({why}): the phases after it were not run"
        if self.upgraded and not self.rolled_back and self.options.roll_back:
            release = self.options.to_label or "the new release"
            return f"{where}; the cluster may be at {release}: roll it back with `{self.options.rollback_command}`"
        return where

    def _sweep_in_flight(self) -> None:
        """Deletes what the in-flight feature left (IN_FLIGHT_SELECTOR), whatever happened."""
        fix = f"delete it by hand: kubectl delete namespaces,all -l {IN_FLIGHT_SELECTOR} (-n NAMESPACE when shared)"
        try:
            self._timed("in-flight sweep", lambda: self.record.swept.extend(self.cluster.sweep_in_flight()))
        except KeyboardInterrupt:
            self.record.stopped.append(f"the sweep of what the in-flight feature left was interrupted: {fix}")
        except Exception as error:
            self.record.stopped.append(f"what the in-flight feature left could not be deleted ({error}): {fix}")

    def _report(self) -> int:
        data, markdown = release_gate.write(self.record)
        for run in self.record.runs.values():
            link_on_top(run.messages.parent / "cucumber.html", markdown, verdict_lines(data)[0])
        print(f"kfcheck release-gate: {markdown}, {markdown.with_name('gate.json')}")
        print("\n".join(verdict_lines(data)), flush=True)
        return int(data["exit_code"])


def main(options: GateOptions) -> int:
    """The gate against the cluster the radish arguments' -u settings name (else $KUBECONFIG)."""
    if options.roll_back and not options.rollback_command:
        print("kfcheck release-gate: give --rollback-command CMD, or --no-rollback", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_user_data(arguments.user_data(options.radish_args))
    except ConfigError as error:
        print(f"kfcheck release-gate: {error}", file=sys.stderr)
        return 2
    processes.interrupt_on_sigterm()
    return ReleaseGate(options, KubeCluster(settings)).run()
