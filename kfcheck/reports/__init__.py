"""The one place that writes and reads reports.

A run is recorded as Cucumber Messages (NDJSON, the protocol of npm `@cucumber/messages`); every other report
is made from that file. Each module of the package does one part:
- messages: the envelopes, their building blocks (timestamps, ids, meta), Gherkin parsed by Cucumber's own
  parser, the NDJSON file; reading a run back (read_envelopes, is_complete, run_outcome, run_findings); a run
  that could not start (write_start_failure) and a file cut short by a crash (complete_messages);
- recorder: RunRecorder, radish's hooks turned into messages (test cases, steps, results, attachments);
- results: one ScenarioResult per scenario, from the messages or cucumber JSON (read_results), for JUnit,
  the summary and the gate;
- cucumber_json: cucumber JSON by Cucumber's json-formatter (Go), outline rows then named with their values;
- html: one self-contained HTML page by `@cucumber/html-formatter`;
- node: Node.js and tools/cucumber-reports' npm packages, and the schema checks they run (validate_*);
- junit: JUnit XML with the junit-xml package, one testcase per scenario, valid against Jenkins' junit-10.xsd;
- writing: every report beside the messages (write_reports);
- radish_json: radish's own cucumber JSON (`radish --cucumber-json`, hand runs), made readable (normalise);
- tools: Cucumber's json-formatter and npm tools, found or installed on first use (reports.tools);
- gate: the release gate (before/after verdict and resource table), imported as kfcheck.reports.gate.

The names below are re-exported so that callers write `from kfcheck import reports` and `reports.X`.
"""

from __future__ import annotations

from kfcheck.reports import tools
from kfcheck.reports.cucumber_json import fold_evidence, json_formatter_binary, write_cucumber_json
from kfcheck.reports.html import write_html
from kfcheck.reports.junit import write_junit
from kfcheck.reports.messages import (
    MESSAGES_ENV,
    Envelope,
    ReportError,
    cache_dir,
    complete_messages,
    is_complete,
    outline_row_name,
    read_envelopes,
    run_findings,
    run_outcome,
    write_start_failure,
)
from kfcheck.reports.node import node_binary, node_tools, validate_cucumber_json, validate_messages
from kfcheck.reports.radish_json import load, normalise, normalise_file
from kfcheck.reports.recorder import RecordedHook, RunRecorder, attachments_of
from kfcheck.reports.results import (
    COULD_NOT_RUN,
    ScenarioResult,
    StepResult,
    read_results,
    results_from_json,
    results_from_messages,
    scenario_failures,
    scenario_statuses,
    summary,
    written_by_radish,
)
from kfcheck.reports.writing import Written, write_reports

__all__ = [
    "COULD_NOT_RUN",
    "MESSAGES_ENV",
    "Envelope",
    "RecordedHook",
    "ReportError",
    "RunRecorder",
    "ScenarioResult",
    "StepResult",
    "Written",
    "attachments_of",
    "cache_dir",
    "complete_messages",
    "fold_evidence",
    "is_complete",
    "json_formatter_binary",
    "load",
    "node_binary",
    "node_tools",
    "normalise",
    "normalise_file",
    "outline_row_name",
    "read_envelopes",
    "read_results",
    "results_from_json",
    "results_from_messages",
    "run_findings",
    "run_outcome",
    "scenario_failures",
    "scenario_statuses",
    "summary",
    "tools",
    "validate_cucumber_json",
    "validate_messages",
    "write_cucumber_json",
    "write_html",
    "write_junit",
    "write_reports",
    "write_start_failure",
    "written_by_radish",
]
