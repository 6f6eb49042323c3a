"""kfcheck's command line: `python -m kfcheck <command>`."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from kfcheck import reports
from kfcheck.core import suite_files
from kfcheck.core.config import ConfigError, Settings
from kfcheck.kubeflow import helm
from kfcheck.reports import gate, tools

# What to do about each error radish raises before its run starts (its class name -> title, fix).
_RADISH_START_ERRORS = {
    "FeatureFileSyntaxError": ("a feature file does not parse", "correct the feature file at the line named above"),
    "FeatureFileNotFoundError": ("a feature file is missing", "name an existing .feature file or directory"),
    "LanguageNotSupportedError": ("a feature file's language is unknown", "use one of radish's languages"),
    "StepDefinitionNotFoundError": (
        "a step has no definition",
        "correct the step's sentence, or add a step definition for it to radish/stepfile.py (one call into kfcheck/)",
    ),
    "SameStepError": ("a step is defined twice", "remove or rename one of the two step definitions"),
    "StepPatternError": ("a step pattern does not compile", "correct the step definition's pattern"),
    "StepRegexError": ("a step pattern does not compile", "correct the step definition's regular expression"),
    "ScenarioNotFoundError": ("-s names no scenario", "name scenario ids that exist (radish show --expand)"),
}


def _gate(args: argparse.Namespace) -> int:
    try:
        verdict = gate.compare_files(args.before, args.after)
    except reports.ReportError as error:
        print(f"kfcheck gate: {error}", file=sys.stderr)
        return 2
    print(gate.provenance(args.before, args.after))
    print(gate.resource_table(args.before, args.after))
    print(gate.render(verdict))
    return verdict.exit_code


def _print_summary(path: Path) -> None:
    results = reports.read_results(path)
    print(f"{path}: {reports.summary(results)}")
    for result in results:
        if result.status in ("failed", "could not run"):
            print(f"  {result.status}: {result.feature}: {result.name}: {result.failure()}")
        elif result.status == "skipped":
            print(f"  skipped: {result.feature}: {result.name}: {result.skip_reason or 'not every step ran'}")


def _report(args: argparse.Namespace) -> int:
    """Messages (.ndjson): writes cucumber.json, junit.xml and cucumber.html beside them and summarises.
    cucumber JSON (radish's own or the json-formatter's): normalises radish's and summarises."""
    try:
        if str(args.report).endswith(".ndjson"):
            if args.no_html:
                print("kfcheck report: --no-html applies to cucumber JSON only", file=sys.stderr)
            written = reports.write_reports(args.report, args.report.parent)
            for error in written.errors:
                print(f"kfcheck report: {error}", file=sys.stderr)
            print("reports: " + ", ".join(str(path) for path in written.paths))
            _print_summary(args.report)
            return 2 if written.errors else 0
        if reports.written_by_radish(reports.load(args.report)):
            reports.normalise_file(args.report)
        _print_summary(args.report)
    except reports.ReportError as error:
        print(f"kfcheck report: {error}", file=sys.stderr)
        return 2
    return 0


def _upgraded(args: argparse.Namespace, command: str) -> bool:
    """helm upgrade of the Kubeflow release with args.set (values kept), settings from args.user_data."""
    try:
        settings = Settings.from_user_data(dict(item.split("=", 1) for item in args.user_data))
        helm.upgrade(settings, args.set, timeout=args.timeout)
    except (ConfigError, helm.HelmError, ValueError) as error:
        print(f"kfcheck {command}: the upgrade failed: {error}", file=sys.stderr)
        return False
    print(f"upgraded release {settings.helm_release} in {settings.kubeflow_namespace} with "
          f"{', '.join(args.set) or 'its own values'}", flush=True)  # fmt: skip
    return True


def _upgrade(args: argparse.Namespace) -> int:
    return 0 if _upgraded(args, "upgrade") else 2


def _interrupt_early(signum: int, _frame: object) -> None:
    """SIGTERM before radish's hooks install theirs: the Ctrl-C path, so the reports are still written."""
    raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")


def _where_parsing_stopped(error: BaseException) -> str:
    """ " (in FILE, line N)" when radish's feature parser raised the error: its messages often name neither."""
    frame_info = error.__traceback__
    where = ""
    while frame_info is not None:
        parser = frame_info.tb_frame.f_locals.get("self")
        if parser is not None and hasattr(parser, "_featurefile") and hasattr(parser, "_current_line"):
            where = f" (in {parser._featurefile}, line {parser._current_line})"
        frame_info = frame_info.tb_next
    return where


def _call_radish(radish_args: list[str]) -> tuple[int, tuple[str, str, str] | None]:
    """Runs radish in this process; returns its exit code and, for a run that did not start, (title, cause,
    fix). radish's own error handler is bypassed so that its errors come back as exceptions."""
    from radish import exceptions
    from radish.main import main as radish_main

    try:
        code = radish_main.__wrapped__(radish_args)
    except exceptions.HookError as error:  # a hook crashed: the run is cut short
        print(f"Error: {error}\n{error.failure.traceback}", file=sys.stderr)
        return 1, ("a radish hook crashed", str(error), "fix the hook named above (radish/terrain.py)")
    except exceptions.RadishError as error:
        print(f"Error: {error}", file=sys.stderr)
        title, fix = _RADISH_START_ERRORS.get(error.__class__.__name__, ("radish could not start", "read the error"))
        cause = f"{error.__class__.__name__}: {str(error).splitlines()[0]}{_where_parsing_stopped(error)}"
        return 2, (title, cause, fix)
    except KeyboardInterrupt as interrupt:
        print(f"Aborted: {interrupt or 'Ctrl-C'}", file=sys.stderr)
        return 1, (
            "the run was interrupted before it started",
            f"interrupted ({interrupt or 'Ctrl-C'})",
            "run it again",
        )
    except SystemExit as exit:
        if isinstance(exit.code, str):  # docopt's usage error
            print(exit.code, file=sys.stderr)
            return 2, (
                "radish refused the command line",
                f"radish does not accept the arguments {' '.join(radish_args)!r}",
                "see `radish --help`; kfcheck's own option (--reports DIR) goes before radish's arguments",
            )
        return int(exit.code or 0), None
    except Exception as error:
        traceback.print_exc()
        return 2, ("radish crashed", f"{error.__class__.__name__}: {error}", "read the traceback above")
    return int(code or 0), None


def _run(args: argparse.Namespace) -> int:
    """radish with the given arguments, recorded as Cucumber Messages; then every report, also for a run
    that could not start (one failed test case naming the cause and the fix)."""
    directory: Path = args.reports
    directory.mkdir(parents=True, exist_ok=True)
    messages = directory / "messages.ndjson"
    messages.unlink(missing_ok=True)
    os.environ[reports.MESSAGES_ENV] = str(messages.resolve())
    signal.signal(signal.SIGTERM, _interrupt_early)
    radish_args = suite_files.radish_arguments([argument for argument in args.radish_args if argument != "--"])
    code, failure = _call_radish(radish_args)
    if not messages.exists() and failure is None and code == 1:  # radish found nothing to run
        failure = (
            "no scenario to run",
            f"radish found no scenario to run in {' '.join(radish_args)!r}",
            "name existing feature files, and a --tags expression that selects scenarios (tag names carry no '@': "
            "--tags 'smoke', not --tags '@smoke')",
        )
    if not messages.exists():
        title, cause, fix = failure or (
            "radish stopped before the run started",
            f"radish ended with exit code {code} before the run started",
            "read radish's output above",
        )
        reports.write_start_failure(messages, title, cause, fix)
        code = code or 2
    elif not reports.is_complete(messages):
        reports.complete_messages(messages, failure[1] if failure else f"the run ended early (exit code {code})")
        code = code or 1
    written = reports.write_reports(messages, directory)
    for error in written.errors:
        print(f"kfcheck run: {error}", file=sys.stderr)
    print("reports: " + ", ".join(str(path) for path in [messages, *written.paths]))
    _print_summary(messages)
    success, why = reports.run_outcome(messages)
    if code == 0 and not success:
        print(f"kfcheck run: the run did not succeed{': ' + why if why else ''}", file=sys.stderr)
        code = 1  # radish's exit code misses failed hooks and what the reports could not hold
    return code if code else (2 if written.errors else 0)


def _upgrade_gate(args: argparse.Namespace) -> int:
    """The release gate: every selected scenario before, the upgrade (helm, values kept), every scenario
    after, then the verdict. Each run is its own `kfcheck run` process (radish keeps its registries per
    process). With --roll-back the release returns to the revision it had before, whatever the outcome."""
    radish_args = [argument for argument in args.radish_args if argument != "--"]

    def run(name: str) -> Path:
        subprocess.run([sys.executable, "-m", "kfcheck", "run", "--reports", str(args.reports / name), *radish_args],
                       check=False)  # fmt: skip
        return args.reports / name / "messages.ndjson"

    restore = _release_restorer(args) if args.roll_back else None
    if args.roll_back and restore is None:
        return 2
    before = run("before")
    try:
        if not _upgraded(args, "upgrade-gate"):
            return 2  # no after to gate
        after = run("after")
    finally:
        restored = restore() if restore is not None else True
    verdict = _gate(argparse.Namespace(before=before, after=after))
    return verdict or (0 if restored else 2)


def _release_restorer(args: argparse.Namespace) -> Callable[[], bool] | None:
    """Rolls the release back to its revision now (helm.restorer) and says so, or says how to by hand;
    None when the revision cannot be read."""
    try:
        settings = Settings.from_user_data(dict(item.split("=", 1) for item in args.user_data))
        before, roll_back = helm.revision(settings), helm.restorer(settings)
    except (ConfigError, helm.HelmError, ValueError) as error:
        print(f"kfcheck upgrade-gate: the release's revision cannot be read to roll back to: {error}", file=sys.stderr)
        return None

    def restore() -> bool:
        try:
            roll_back()
        except helm.HelmError as error:
            print(f"kfcheck upgrade-gate: rolling back failed: {error}; roll back by hand: helm rollback "
                  f"{settings.helm_release} {before} -n {settings.kubeflow_namespace}", file=sys.stderr)  # fmt: skip
            return False
        print(f"rolled release {settings.helm_release} back to revision {before}", flush=True)
        return True

    return restore


def _config(args: argparse.Namespace) -> int:
    del args
    print(Settings.markdown_table())
    return 0


def _run_parallel(args: argparse.Namespace) -> int:
    from kfcheck import parallel

    features = args.features or sorted(str(path) for path in suite_files.features_dir().glob("*.feature"))
    extra = [item for pair in args.user_data for item in ("-u", pair)] + (["--dry-run"] if args.dry_run else [])
    basedir = str(suite_files.steps_dir())
    return parallel.main(features, args.jobs, args.cucumber_json, args.tags, args.serial, extra, basedir)


def _install_tools(args: argparse.Namespace) -> int:
    """Cucumber's json-formatter and npm tools into the cache (they are otherwise installed on first use)."""
    del args
    found, errors = tools.install_all()
    for line in found:
        print(line)
    for error in errors:
        print(f"kfcheck install-tools: {error}", file=sys.stderr)
    return 2 if errors else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(_radish_arguments_apart(sys.argv[1:] if argv is None else argv))
    return int(args.run(args))


def _parser() -> argparse.ArgumentParser:
    """`python -m kfcheck <command>`, each command's handler as its `run` default."""
    parser = argparse.ArgumentParser(prog="python -m kfcheck")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_report_commands(commands)
    _add_upgrade_command(commands)
    _add_run_command(commands)
    tools_parser = commands.add_parser(
        "install-tools", help="install Cucumber's json-formatter and npm tools into the cache (else done on first use)"
    )
    tools_parser.set_defaults(run=_install_tools)
    config_parser = commands.add_parser("config", help="the -u user data keys as a Markdown table")
    config_parser.set_defaults(run=_config)
    _add_upgrade_gate_command(commands)
    _add_release_gate_command(commands)
    _add_run_parallel_command(commands)
    return parser


def _add_report_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`gate` and `report`: reading reports already written."""
    gate_parser = commands.add_parser("gate", help="compare cucumber reports before/after an upgrade")
    gate_parser.add_argument("before", type=Path)
    gate_parser.add_argument("after", type=Path)
    gate_parser.set_defaults(run=_gate)
    report_parser = commands.add_parser(
        "report", help="messages.ndjson: write cucumber.json, junit.xml, cucumber.html beside it; summarise a report"
    )
    report_parser.add_argument("report", type=Path, help="messages (.ndjson) or cucumber JSON")
    report_parser.add_argument("--no-html", action="store_true", help="(kept for old callers; JSON is never rendered)")
    report_parser.set_defaults(run=_report)


def _add_upgrade_options(parser: argparse.ArgumentParser, user_data_help: str) -> None:
    """--set, --timeout and -u of the helm upgrade (`upgrade`, `upgrade-gate`)."""
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a chart value")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds to wait for the rollout")
    parser.add_argument("-u", dest="user_data", action="append", default=[], metavar="KEY=VALUE", help=user_data_help)


def _add_upgrade_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    upgrade_parser = commands.add_parser(
        "upgrade", help="helm upgrade the Kubeflow release, keeping its values (--reuse-values) and adding --set ones"
    )
    _add_upgrade_options(upgrade_parser, "the suite's settings, as for radish (-u chart=..., -u helm=...)")
    upgrade_parser.set_defaults(run=_upgrade)


def _add_run_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_parser = commands.add_parser(
        "run", help="run radish (its arguments follow) and write every report, also when the run cannot start"
    )
    run_parser.add_argument("--reports", type=Path, default=Path("reports"), help="directory of the reports")
    run_parser.add_argument(
        "radish_args", nargs=argparse.REMAINDER, help="radish's arguments (default: the suite's features, -b its steps)"
    )
    run_parser.set_defaults(run=_run)


def _add_upgrade_gate_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gate_run_parser = commands.add_parser(
        "upgrade-gate", help="run the scenarios, helm upgrade the release (--set ...), run them again, gate the two"
    )
    gate_run_parser.add_argument("--reports", type=Path, default=Path("reports"), help="before/ and after/ go here")
    _add_upgrade_options(gate_run_parser, "the upgrade's settings (-u chart=, -u helm=); radish's go after --")
    gate_run_parser.add_argument("--roll-back", action="store_true",
                                 help="afterwards roll the release back to its revision before the gate")  # fmt: skip
    gate_run_parser.add_argument("radish_args", nargs=argparse.REMAINDER, help="radish's arguments for both runs")
    gate_run_parser.set_defaults(run=_upgrade_gate)


def _add_release_gate_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`release-gate` (kfcheck.upgrades.sequence): the suite and in-flight work across an upgrade and a rollback."""
    parser = commands.add_parser("release-gate", help="the suite before and after an upgrade (--upgrade-command) and"
                                 " a rollback (--rollback-command), work in flight across both; gated")  # fmt: skip
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="each run's folder, release-gate/ here")
    parser.add_argument("--upgrade-command", required=True, metavar="CMD", help="shell command upgrading Kubeflow")
    parser.add_argument("--rollback-command", default="", metavar="CMD", help="shell command rolling it back")
    parser.add_argument("--no-rollback", dest="roll_back", action="store_false", help="the cluster stays upgraded")
    parser.add_argument("--from", dest="from_label", default="", metavar="NAME", help="the release before (a label)")
    parser.add_argument("--to", dest="to_label", default="", metavar="NAME", help="the release after (a label)")
    parser.add_argument("radish_args", nargs=argparse.REMAINDER, help="radish's arguments, after --")
    parser.set_defaults(run=_release_gate)


def _release_gate(args: argparse.Namespace) -> int:
    from kfcheck.upgrades import sequence

    options = {key: getattr(args, key) for key in ("reports", "upgrade_command", "rollback_command", "radish_args",
                                                   "from_label", "to_label", "roll_back")}  # fmt: skip
    return sequence.main(sequence.GateOptions(**options))


def _add_run_parallel_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parallel_parser = commands.add_parser(
        "run-parallel", help="radish in N processes side by side, one merged cucumber JSON (no messages/HTML)"
    )
    parallel_parser.add_argument("features", nargs="*", help="feature files (default: features/*.feature)")
    parallel_parser.add_argument("-j", "--jobs", type=int, default=2, help="radish processes side by side")
    parallel_parser.add_argument("--tags", help="radish tag expression selecting the scenarios")
    parallel_parser.add_argument("--serial", default="slow", help="tag expression of scenarios run alone, afterwards")
    parallel_parser.add_argument("-u", "--user-data", action="append", default=[], help="key=value for radish -u")
    parallel_parser.add_argument("--dry-run", action="store_true", help="radish --dry-run: no cluster is touched")
    parallel_parser.add_argument("--cucumber-json", type=Path, default=Path("reports/cucumber.json"))
    parallel_parser.set_defaults(run=_run_parallel)


def _radish_arguments_apart(argv: list[str]) -> list[str]:
    """`run`'s own options (--reports DIR, -h) come first; a `--` after them hands every other argument to radish
    as it is (argparse would take `run --tags smoke` for an option of its own)."""
    if argv[:1] != ["run"]:
        return argv
    index = 1
    while index < len(argv) and argv[index].split("=", 1)[0] in ("--reports", "-h", "--help"):
        index += 2 if argv[index] == "--reports" else 1
    return [*argv[:index], "--", *argv[index:]]


if __name__ == "__main__":
    sys.exit(main())
