"""JUnit XML parsed back: one testcase per host x check, outcomes mapped the usual way."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from auditor.report.junit import xml_text
from auditor.report.writers import write_reports
from auditor.results import HOST_DOWN_STATUSES, CheckStatus
from tests.report_factory import HOSTILE_NAME, make_run


def _parse(tmp_path: Path, n_hosts: int = 24) -> tuple[ET.Element, object]:
    run = make_run(n_hosts)
    (path,) = write_reports(run, ["junit"], tmp_path)
    assert path.name.endswith(".junit.xml")
    return ET.parse(path).getroot(), run


def test_one_suite_per_host_and_one_case_per_check(tmp_path: Path) -> None:
    root, run = _parse(tmp_path)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [h.name for h in run.hosts]
    for suite, host in zip(suites, run.hosts):
        cases = suite.findall("testcase")
        expected = len(host.all_checks()) + (1 if host.status in HOST_DOWN_STATUSES else 0)
        assert len(cases) == expected == int(suite.get("tests"))


def test_outcomes_are_mapped(tmp_path: Path) -> None:
    root, run = _parse(tmp_path)
    host = next(h for h in run.hosts if h.name == "win-00000")   # CONFLICT_CONFIRMED
    suite = next(s for s in root.findall("testsuite") if s.get("name") == host.name)
    by_id = {c.get("name").split(" ")[0]: c for c in suite.findall("testcase")}
    for check in host.all_checks():
        case = by_id[check.id]
        kinds = [child.tag for child in case]
        expected = {CheckStatus.passed: [], CheckStatus.failed: ["failure"], CheckStatus.error: ["error"],
                    CheckStatus.skipped: ["skipped"], CheckStatus.not_applicable: ["skipped"]}[check.status]
        assert kinds == expected, check.id
    probe = by_id["W-PROBE-01"].find("failure")
    assert probe.get("type") == "critical" and "nothing answered" in probe.get("message")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["verdict"] == "CONFLICT_CONFIRMED" and props["outcome"] == "failed"


def test_unreachable_host_is_one_errored_testcase(tmp_path: Path) -> None:
    root, run = _parse(tmp_path)
    for host in (h for h in run.hosts if h.status in HOST_DOWN_STATUSES):
        suite = next(s for s in root.findall("testsuite") if s.get("name") == host.name)
        (case,) = suite.findall("testcase")
        assert case.get("name") == host.status.value
        assert case.find("error").get("message") == host.error
        assert suite.get("errors") == "1"


def test_totals_add_up(tmp_path: Path) -> None:
    root, _ = _parse(tmp_path, 40)
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == sum(int(s.get(key)) for s in root.findall("testsuite")) > 0


def test_control_characters_and_markup_survive_as_text(tmp_path: Path) -> None:
    root, _ = _parse(tmp_path)
    names = [s.get("name") for s in root.findall("testsuite")]
    assert HOSTILE_NAME in names
    assert xml_text("a\x00b\x1bc\ud800") == "a\\x00b\\x1bc\\xd800"
