"""JUnit XML for CI systems: one testsuite per host, one testcase per host x check (x task in a remediation run).

Checks: failed -> <failure>, error -> <error>, skipped / not applicable -> <skipped>. Remediation tasks:
failed -> <failure>, skipped -> <skipped>, ok / changed -> a plain testcase; message, backup and diff go in
<system-out>. A host that could not be
audited (unreachable, auth failed, timed out, error) gets one errored testcase named after its outcome,
so a CI dashboard shows it red instead of dropping it.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import BinaryIO

from auditor.outcomes import Catalogue, headline_verdict
from auditor.report.files import report_path
from auditor.report.view import task_label
from auditor.results import HOST_DOWN_STATUSES, CheckResult, CheckStatus, HostResult, RunResult, TaskResult, TaskStatus

# Characters XML 1.0 cannot carry at all (remote output may hold NULs and escape codes).
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Text safe for an XML 1.0 document: invalid characters become ``\\xNN`` escapes."""
    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.3f}"


def _testcase(suite: ET.Element, classname: str, check: CheckResult) -> str:
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname),
                         name=xml_text(f"{check.id} {check.title}"), time=_seconds(check.duration_ms))
    message = xml_text(check.message or check.title)
    if check.status == CheckStatus.failed:
        node = ET.SubElement(case, "failure", message=message, type=check.severity.value)
    elif check.status == CheckStatus.error:
        node = ET.SubElement(case, "error", message=message, type="check_error")
    elif check.status in (CheckStatus.skipped, CheckStatus.not_applicable, CheckStatus.waived):
        ET.SubElement(case, "skipped", message=xml_text(f"{check.status.value}: {check.message}".rstrip(": ")))
        return check.status.value
    else:
        return "passed"
    node.text = xml_text("\n".join(x for x in (check.message, f"remediation: {check.remediation}" if check.remediation else "") if x))
    return check.status.value


def _task_testcase(suite: ET.Element, classname: str, index: int, task: TaskResult) -> str:
    # the position keeps names unique (and in run order) when a playbook repeats a task name
    item = f" [{task.loop_item}]" if task.loop_item else ""
    case = ET.SubElement(suite, "testcase", classname=xml_text(classname),
                         name=xml_text(f"task {index:02d} {task.name}{item}"), time=_seconds(task.duration_ms))
    message = xml_text(task.message or task.status.value)
    if task.status == TaskStatus.failed:
        node = ET.SubElement(case, "failure", message=message, type="task_failed")
        node.text = message
    elif task.status == TaskStatus.skipped:
        ET.SubElement(case, "skipped", message=message)
    out = [f"{task_label(task.status.value, task.check_mode)}: {task.message}".rstrip(": "), f"module: {task.module}"]
    if task.backup_path:
        out.append(f"backup: {task.backup_path}")
    if task.diff:
        out.append(task.diff)
    ET.SubElement(case, "system-out").text = xml_text("\n".join(out))
    return "skipped" if task.status == TaskStatus.skipped else task.status.value


def _host_suite(root: ET.Element, host: HostResult, catalogue: Catalogue) -> dict[str, int]:
    suite = ET.SubElement(root, "testsuite", name=xml_text(host.name), hostname=xml_text(host.address),
                          timestamp=host.started.isoformat(), time=_seconds(host.timings.total_ms))
    props = ET.SubElement(suite, "properties")
    verdict = headline_verdict(host, catalogue)
    for key, value in (("outcome", host.status.value), ("platform", host.platform), ("groups", ",".join(host.groups)),
                       ("verdict", verdict.name if verdict else ""), ("confidence", verdict.confidence.value if verdict else "")):
        ET.SubElement(props, "property", name=key, value=xml_text(value))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for play in host.plays:
        classname = f"{host.name}.{play.play}"
        for check in play.checks:
            outcome = _testcase(suite, classname, check)
            counts["tests"] += 1
            counts["failures"] += outcome == "failed"
            counts["errors"] += outcome == "error"
            counts["skipped"] += outcome in ("skipped", "not_applicable", "waived")
        for index, task in enumerate(play.tasks, start=1):
            outcome = _task_testcase(suite, classname, index, task)
            counts["tests"] += 1
            counts["failures"] += outcome == "failed"
            counts["skipped"] += outcome == "skipped"
        if play.error:
            case = ET.SubElement(suite, "testcase", classname=xml_text(classname), name="play", time="0.000")
            ET.SubElement(case, "error", message=xml_text(play.error), type="play_error")
            counts["tests"] += 1
            counts["errors"] += 1
    if host.status in HOST_DOWN_STATUSES:
        case = ET.SubElement(suite, "testcase", classname=xml_text(host.name), name=host.status.value,
                             time=_seconds(host.timings.total_ms))
        err = ET.SubElement(case, "error", message=xml_text(host.error or host.status.value), type=host.status.value)
        err.text = xml_text(host.error or "")
        counts["tests"] += 1
        counts["errors"] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    return counts


def render_junit(run: RunResult) -> bytes:
    out = io.BytesIO()
    _write(run, out)
    return out.getvalue()


def _write(run: RunResult, out: BinaryIO) -> None:
    """The document, one host's ``<testsuite>`` at a time (a streamed run is never held whole); the totals on
    ``<testsuites>`` are known only at the end, so the suites go to a spool first."""
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    with tempfile.TemporaryFile() as spool:
        for host in run.hosts:
            holder = ET.Element("testsuites")
            for key, value in _host_suite(holder, host, run.verdict_catalogue).items():
                total[key] += value
            suite = holder[0]
            ET.indent(suite, level=1)
            spool.write(b"  " + ET.tostring(suite, encoding="utf-8") + b"\n")
        root = ET.Element("testsuites", name=xml_text(f"auditor {run.kind} {run.run_id}"))
        for key, value in total.items():
            root.set(key, str(value))
        if run.finished is not None:
            root.set("time", f"{(run.finished - run.started).total_seconds():.3f}")
        opening = ET.tostring(root, encoding="unicode").replace(" />", ">").replace("/>", ">")
        out.write(b"<?xml version='1.0' encoding='utf-8'?>\n" + opening.encode("utf-8") + b"\n")
        spool.seek(0)
        shutil.copyfileobj(spool, out)
        out.write(b"</testsuites>\n")


def write_junit(run: RunResult, out_dir: Path) -> Path:
    path = report_path(out_dir, run, "junit.xml")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        _write(run, out)
    tmp.replace(path)
    return path
