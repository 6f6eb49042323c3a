"""kfcheck's command line: `python -m kfcheck <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kfcheck import gate, reports
from kfcheck.config import Settings


def _gate(args: argparse.Namespace) -> int:
    try:
        verdict = gate.compare_files(args.before, args.after)
    except reports.ReportError as error:
        print(f"kfcheck gate: {error}", file=sys.stderr)
        return 2
    print(gate.resource_table(args.before, args.after))
    print(gate.render(verdict))
    return 0 if verdict.passed else 1


def _report(args: argparse.Namespace) -> int:
    try:
        reports.normalise_file(args.cucumber_json)
        features = reports.load(args.cucumber_json)
        print(f"{args.cucumber_json}: {reports.summary(features)}")
        for scenario, why in reports.scenario_failures(features).items():
            print(f"  failed: {scenario}: {why}")
        if not args.no_html:
            html = reports.render_html(args.cucumber_json, args.cucumber_json.with_suffix(".html"))
            print(f"HTML report: {html}")
    except reports.ReportError as error:
        print(f"kfcheck report: {error}", file=sys.stderr)
        return 2
    return 0


def _config(args: argparse.Namespace) -> int:
    del args
    print(Settings.markdown_table())
    return 0


def _run(args: argparse.Namespace) -> int:
    from kfcheck import parallel

    features = args.features or sorted(str(path) for path in Path("features").glob("*.feature"))
    extra = [item for pair in args.user_data for item in ("-u", pair)] + (["--dry-run"] if args.dry_run else [])
    return parallel.main(features, args.jobs, args.cucumber_json, args.tags, args.serial, extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kfcheck")
    commands = parser.add_subparsers(dest="command", required=True)
    gate_parser = commands.add_parser("gate", help="compare cucumber reports before/after an upgrade")
    gate_parser.add_argument("before", type=Path)
    gate_parser.add_argument("after", type=Path)
    gate_parser.set_defaults(run=_gate)
    report_parser = commands.add_parser("report", help="normalise a cucumber JSON report and summarise it")
    report_parser.add_argument("cucumber_json", type=Path)
    report_parser.add_argument("--no-html", action="store_true", help="only normalise and summarise")
    report_parser.set_defaults(run=_report)
    config_parser = commands.add_parser("config", help="the -u user data keys as a Markdown table")
    config_parser.set_defaults(run=_config)
    run_parser = commands.add_parser("run", help="radish in N processes side by side, one merged cucumber report")
    run_parser.add_argument("features", nargs="*", help="feature files (default: features/*.feature)")
    run_parser.add_argument("-j", "--jobs", type=int, default=2, help="radish processes side by side")
    run_parser.add_argument("--tags", help="radish tag expression selecting the scenarios")
    run_parser.add_argument("--serial", default="slow", help="tag expression of scenarios run alone, afterwards")
    run_parser.add_argument("-u", "--user-data", action="append", default=[], help="key=value for radish -u")
    run_parser.add_argument("--dry-run", action="store_true", help="radish --dry-run: no cluster is touched")
    run_parser.add_argument("--cucumber-json", type=Path, default=Path("reports/cucumber.json"))
    run_parser.set_defaults(run=_run)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
