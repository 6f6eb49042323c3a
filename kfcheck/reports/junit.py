"""JUnit XML with the junit-xml package, one testcase per scenario, valid against Jenkins' junit-10.xsd."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import junit_xml

from kfcheck.reports.results import ScenarioResult


def write_junit(results: list[ScenarioResult], path: str | Path) -> Path:
    """One testsuite per feature, one testcase per scenario; a failure's message is the error's first line,
    its body the error and the failed step; the steps and the evidence go to system-out."""
    suites: dict[str, list[junit_xml.TestCase]] = {}
    for result in results:
        steps_text = "\n".join(
            f"{step.keyword}{step.text} ... {step.status} ({step.duration_ns / 1e9:.3f}s)" for step in result.steps
        )
        evidence = "\n\n".join(
            f"--- {name or media_type} ---\n{text}"
            for step in result.steps
            for name, media_type, text in step.attachments
        )
        case = junit_xml.TestCase(
            result.name, classname=result.feature, elapsed_sec=result.duration_ns / 1e9,
            file=result.uri, line=result.line, stdout=steps_text + ("\n\n" + evidence if evidence else ""),
        )  # fmt: skip
        step = result.failed_step
        if step is not None:
            first_line = next((line for line in step.message.splitlines() if line.strip()), f"{step.status} step")
            body = f"{step.message}\n\nFailed step: {step.keyword}{step.text} ({step.location})"
            if result.status == "could not run":  # the suite's own trouble: an error, not a test failure
                case.add_error_info(message=first_line, output=body, error_type=step.error_type or "CouldNotRun")
            else:
                case.add_failure_info(message=first_line, output=body, failure_type=step.error_type or step.status)
        elif result.status == "skipped":
            case.add_skipped_info(message=result.skip_reason or "not every step ran")
        suites.setdefault(result.feature, []).append(case)
    root = ElementTree.Element("testsuites", {"name": "kfcheck"})
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    for name, cases in suites.items():
        suite = junit_xml.TestSuite(name, cases).build_xml_doc()
        suite.attrib.pop("disabled", None)  # not in junit-10.xsd
        for key in ("tests", "failures", "errors"):
            totals[key] += int(suite.attrib.get(key, 0))
        seconds = sum(case.elapsed_sec or 0.0 for case in cases)
        totals["time"] += seconds
        suite.set("time", f"{seconds:.3f}")  # junit-10.xsd's SUREFIRE_TIME: at most 3 decimals
        for case, case_element in zip(cases, suite.iter("testcase"), strict=True):
            case_element.set("time", f"{case.elapsed_sec or 0.0:.3f}")
            for key in ("file", "line", "status", "assertions", "url", "log", "timestamp"):
                case_element.attrib.pop(key, None)  # junit-10.xsd allows name, time, classname, group
        root.append(suite)
    root.attrib.update({key: (f"{value:.3f}" if key == "time" else str(value)) for key, value in totals.items()})
    ElementTree.indent(root)
    target = Path(path)
    target.write_bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))
    return target
