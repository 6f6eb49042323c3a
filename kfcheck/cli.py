"""kfcheck's command line: `python -m kfcheck <command>`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kfcheck import gate, helm, reports
from kfcheck.config import ConfigError, Settings


def _gate(args: argparse.Namespace) -> int:
    try:
        verdict = gate.compare_files(args.before, args.after)
    except reports.ReportError as error:
        print(f"kfcheck gate: {error}", file=sys.stderr)
        return 2
    print(gate.render(verdict))
    return verdict.exit_code


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


def _upgrade(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_user_data(dict(item.split("=", 1) for item in args.user_data))
        helm.upgrade(settings, args.set, timeout=args.timeout)
    except (ConfigError, helm.HelmError, ValueError) as error:
        print(f"kfcheck upgrade: {error}", file=sys.stderr)
        return 2
    print(f"upgraded release {settings.helm_release} in {settings.kubeflow_namespace} with {', '.join(args.set)}")
    return 0


def _config(args: argparse.Namespace) -> int:
    del args
    print(Settings.markdown_table())
    return 0


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
    upgrade_parser = commands.add_parser(
        "upgrade", help="helm upgrade the Kubeflow release, keeping its values (--reuse-values) and adding --set ones"
    )
    upgrade_parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a chart value")
    upgrade_parser.add_argument("--timeout", type=int, default=1200, help="seconds to wait for the rollout")
    upgrade_parser.add_argument("-u", dest="user_data", action="append", default=[], metavar="KEY=VALUE",
                                help="the suite's settings, as for radish (-u chart=..., -u helm=...)")  # fmt: skip
    upgrade_parser.set_defaults(run=_upgrade)
    config_parser = commands.add_parser("config", help="the -u user data keys as a Markdown table")
    config_parser.set_defaults(run=_config)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
