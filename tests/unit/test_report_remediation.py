"""Remediation runs (`auditor remediate`) in every report format: tasks in order, status, diff, backups."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import pytest

from auditor.report.csv import COLUMNS, REMEDIATION_COLUMNS, render_csv
from auditor.report.html import page_data, render_html
from auditor.report.junit import render_junit
from auditor.report.redact import REDACTED_VALUE, redact_run
from auditor.report.view import action_groups, host_view, task_counts
from auditor.report.writers import write_reports
from auditor.results import HOST_DOWN_STATUSES, TaskStatus
from tests.report_factory import (
    EARLIER_FAILED, IMG_PAYLOAD, SCRIPT_PAYLOAD, SECRET_VALUE, make_remediation_run, make_run,
)


def _data(html: str) -> dict:
    """The page's data with each host's details unpacked (they travel compressed, in blocks)."""
    return page_data(html)


def _text(html: str) -> str:
    """The page's static text (tags stripped), for asserting what a reader sees without the script."""
    return unescape(re.sub(r"<[^>]+>", " ", html.split('<script type="application/json"')[0]))


# --- HTML ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True])
def test_html_summary_counts_tasks_per_status(check_mode: bool) -> None:
    run = make_remediation_run(10, check_mode=check_mode)
    html = render_html(redact_run(run))
    summary = re.search(r'<p id="task-summary">(.*?)</p>', html, re.S)
    assert summary is not None
    text = " ".join(_text(summary.group(1)).split())
    changed = "would change" if check_mode else "changed"
    counts = run.summary.tasks
    assert text == (f"Tasks: ok {counts['ok']} · {changed} {counts['changed']} · failed {counts['failed']} "
                    f"· skipped {counts['skipped']}")
    assert 'aria-label="Tasks per status: ok 2, ' + changed + ' 10, failed 2, skipped 8"' in html
    # the chart's buttons filter the host table by the task status value, whatever the label says
    assert 'data-filter="task" data-value="changed"' in html and 'id="f-task"' in html
    assert "Hosts per verdict" not in html  # a remediation run has no verdicts to chart
    assert ("in check mode: nothing was changed" in html) is check_mode


def test_html_carries_every_task_in_order_with_diff_and_backup() -> None:
    run = make_remediation_run(10)
    data = _data(render_html(redact_run(run)))
    assert data["kind"] == "remediation" and data["check_mode"] is False
    for host, view in zip(run.hosts, data["hosts"]):
        tasks = [t for p in view["plays"] for t in p["tasks"]]
        assert [(t["name"], t["status"], t.get("loop_item")) for t in tasks] == \
            [(t.name, t.status.value, t.loop_item) for t in host.all_tasks()]
        assert view["tasks"] == (task_counts(host) if host.all_tasks() else {})
    fixed = data["hosts"][0]["plays"][0]["tasks"][0]
    assert fixed["status"] == "changed" and fixed["backup_path"].endswith(".bak")
    assert "-networkingMode=mirrored\n+#networkingMode=mirrored\n" in fixed["diff"]


def test_html_an_audit_run_keeps_its_verdict_chart_and_no_task_filter() -> None:
    html = render_html(redact_run(make_run(24)))
    assert "Hosts per verdict" in html and 'id="f-task"' not in html and 'id="task-summary"' not in html
    assert all(v["tasks"] == {} for v in _data(html)["hosts"])


def test_a_failed_task_puts_the_host_on_the_needs_action_list() -> None:
    run = make_remediation_run(10)
    failed = [h for h in run.hosts if any(t.status is TaskStatus.failed for t in h.all_tasks())]
    assert failed and action_groups(run)["errors"] == sorted(failed, key=lambda h: h.name)
    assert host_view(failed[0], run.verdict_catalogue)["attention"] == "errors"
    html = render_html(redact_run(run))
    assert "task Comment out networkingMode in .wslconfig [CORP\\dev00002] failed: could not replace" in _text(html)
    assert EARLIER_FAILED in json.dumps(_data(html))


def test_hostile_task_output_stays_data_and_secrets_are_scrubbed() -> None:
    run = make_remediation_run(5, hostile=True)
    pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    run.hosts[3].plays[0].tasks[0].diff = f"--- a\n+++ b\n@@ -1 +1 @@\n-x\n+{pem}\n"
    html = render_html(redact_run(run))
    head, _, rest = html.partition('<script type="application/json"')
    for payload in (SCRIPT_PAYLOAD, IMG_PAYLOAD, "onerror"):
        assert payload not in head
    assert "<script>window" not in rest and "<img" not in rest
    hosts = _data(html)["hosts"]
    assert IMG_PAYLOAD in hosts[0]["plays"][0]["tasks"][0]["message"]
    assert SCRIPT_PAYLOAD in hosts[0]["plays"][0]["tasks"][0]["diff"]
    assert hosts[3]["plays"][0]["tasks"][0]["diff"] == REDACTED_VALUE
    assert "PRIVATE KEY" not in html and SECRET_VALUE not in html


# --- JUnit -----------------------------------------------------------------------------------------------

def test_junit_one_testcase_per_host_and_task(tmp_path: Path) -> None:
    run = make_remediation_run(10)
    (path,) = write_reports(run, ["junit"], tmp_path)
    root = ET.parse(path).getroot()
    assert root.get("name") == f"auditor remediation {run.run_id}"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [h.name for h in run.hosts]
    for suite, host in zip(suites, run.hosts):
        tasks = host.all_tasks()
        cases = suite.findall("testcase")
        down = 1 if host.status in HOST_DOWN_STATUSES else 0
        assert len(cases) == len(tasks) + down == int(suite.get("tests"))
        for n, (case, task) in enumerate(zip(cases, tasks), start=1):
            item = f" [{task.loop_item}]" if task.loop_item else ""
            assert case.get("name") == f"task {n:02d} {task.name}{item}"
            assert case.get("classname") == f"{host.name}.{host.plays[0].play}"
            assert [c.tag for c in case if c.tag != "system-out"] == \
                {"ok": [], "changed": [], "failed": ["failure"], "skipped": ["skipped"]}[task.status.value]
        assert int(suite.get("failures")) == sum(t.status is TaskStatus.failed for t in tasks)
        assert int(suite.get("skipped")) == sum(t.status is TaskStatus.skipped for t in tasks)
    fixed = suites[0].findall("testcase")[0]
    out = fixed.find("system-out").text
    assert out.startswith("changed: commented out") and "backup: C:\\Users\\dev00000\\wslconfig-" in out
    assert "+#networkingMode=mirrored" in out
    failed = suites[2].findall("testcase")[0].find("failure")
    assert failed.get("type") == "task_failed" and "NOT changed" in failed.get("message")
    assert suites[2].findall("testcase")[1].find("skipped").get("message") == EARLIER_FAILED
    assert int(root.get("failures")) == run.summary.tasks["failed"]


def test_junit_check_mode_says_would_change() -> None:
    root = ET.fromstring(render_junit(make_remediation_run(1, check_mode=True)))
    out = root.find("testsuite/testcase/system-out").text
    assert out.startswith("would change: would be commented out") and "backup:" not in out


# --- CSV -------------------------------------------------------------------------------------------------

def test_csv_remediation_columns() -> None:
    run = make_remediation_run(10)
    rows = list(csv.DictReader(io.StringIO(render_csv(run))))
    assert list(rows[0]) == COLUMNS + REMEDIATION_COLUMNS
    by_name = {r["name"]: r for r in rows}
    fixed, already, failed, two, down = (by_name[h.name] for h in run.hosts[:5])
    assert (fixed["changed_tasks"], fixed["failed_tasks"]) == ("3", "0")
    assert fixed["backup_paths"] == "C:\\Users\\dev00000\\wslconfig-20261121T080012Z.bak"
    assert (already["changed_tasks"], already["failed_tasks"], already["backup_paths"]) == ("0", "0", "")
    assert (failed["changed_tasks"], failed["failed_tasks"]) == ("0", "1")
    assert two["backup_paths"] == ("C:\\Users\\dev00003\\wslconfig-20261121T080012Z.bak;"
                                   "C:\\Users\\dev00003-admin\\wslconfig-20261121T080012Z.bak")
    assert (down["outcome"], down["changed_tasks"], down["backup_paths"]) == ("unreachable", "0", "")


def test_csv_check_mode_counts_would_change_and_has_no_backups() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(make_remediation_run(5, check_mode=True)))))
    assert rows[0]["changed_tasks"] == "3" and all(r["backup_paths"] == "" for r in rows)


def test_csv_audit_run_keeps_its_columns() -> None:
    header = next(csv.reader(io.StringIO(render_csv(make_run(3)))))
    assert header == COLUMNS
