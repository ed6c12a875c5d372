"""The HTML report of a streamed run (hosts read back from the store, one pass, never held together) is the same
document as the report of the run held in memory: audits and remediation runs, hostile hosts included."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.report.html import CHANGES_CAP, NEEDS_ACTION_CAP, one_pass, write_html
from auditor.report.view import action_groups
from auditor.report.redact import redact_run
from auditor.report.stream import HostStream, streamed_run
from auditor.results import PreviousScan, RunHistory, RunResult
from tests.report_factory import make_remediation_run, make_run


def _streamed(run: RunResult) -> tuple[RunResult, list[int]]:
    hosts = list(run.hosts)
    passes: list[int] = []

    def read():  # type: ignore[no-untyped-def]
        passes.append(1)
        yield from hosts

    return streamed_run(run.model_copy(update={"hosts": []}), HostStream(read, len(hosts), redacted=True)), passes


def _with_history(run: RunResult) -> RunResult:
    """Every third host changed since a previous scan, whether or not it needs action now."""
    changes = ("regressed", "fixed", "changed", "new", "unreachable")
    hosts = [h.model_copy(update={"previous": PreviousScan(run_id="prev00000000", change=changes[i % 5] if i % 3 == 0
                                                            else "unchanged", verdict="HEALTHY_NAT", status="ok")})
             for i, h in enumerate(run.hosts)]
    counts: dict[str, int] = {}
    for h in hosts:
        assert h.previous is not None
        counts[h.previous.change] = counts.get(h.previous.change, 0) + 1
    history = RunHistory(previous_run_id="prev00000000", previous_started=run.started, changes=counts)
    return run.model_copy(update={"hosts": hosts, "history": history})


@pytest.mark.parametrize("run", [make_run(600, hostile=True), _with_history(make_run(300)),
                                 make_remediation_run(40, check_mode=True, hostile=True), make_remediation_run(12)],
                         ids=["audit", "audit-with-history", "remediation-check", "remediation"])
def test_a_streamed_run_gives_the_same_page_in_one_pass(tmp_path: Path, run: RunResult) -> None:
    safe = redact_run(run)
    out = tmp_path / "out"  # the same folder for both: the fix commands name it
    out.mkdir()
    in_memory = write_html(safe, out).read_bytes()
    beside = {p.name: p.read_bytes() for p in out.iterdir()}
    for p in out.iterdir():
        p.unlink()
    streamed, passes = _streamed(safe)
    from_stream = write_html(streamed, out).read_bytes()
    assert from_stream == in_memory
    assert len(passes) == 1  # the store is read once for the page
    assert {p.name: p.read_bytes() for p in out.iterdir()} == beside  # the same .limit files beside it


def test_one_pass_keeps_only_the_slim_hosts_the_page_names(tmp_path: Path) -> None:
    run = redact_run(_with_history(make_run(600)))
    streamed, _ = _streamed(run)
    view, parts = one_pass(streamed)
    assert view.hosts == [] and len(parts.rows) == parts.total == 600 and len(parts.details) == 3  # blocks of 250
    assert sum(parts.statuses.values()) == 600 and sum(parts.verdicts.values()) == 600
    groups = action_groups(run)
    assert {k: [n.name for n in v] for k, v in parts.listed.groups.items()} == {k: [h.name for h in v] for k, v in groups.items()}
    assert any(len(v) > NEEDS_ACTION_CAP for v in groups.values())  # so the cap is exercised
    for key, hosts in groups.items():  # only the first of each group are held, as slim hosts
        assert [h.name for h, _ in parts.listed.shown[key]] == [h.name for h in hosts[:NEEDS_ACTION_CAP]]
        assert all(c.evidence == {} for h, _ in parts.listed.shown[key] for c in h.all_checks())
    changed = [h for h in run.hosts if h.previous is not None and h.previous.change != "unchanged"]
    assert parts.listed.changed_total == len(changed) > CHANGES_CAP == len(parts.listed.changed)


def test_json_and_html_of_a_streamed_run_come_from_one_read(tmp_path: Path) -> None:
    from auditor.report.writers import write_reports

    run = redact_run(make_run(300, hostile=True))
    held = write_reports(run, ["html", "json", "csv"], tmp_path / "held")
    streamed, passes = _streamed(run)
    (tmp_path / "stream").mkdir()
    written = write_reports(streamed, ["html", "json", "csv"], tmp_path / "stream")
    assert sorted(p.suffix for p in written) == [".csv", ".html", ".json"]
    assert len(passes) == 2  # one read for the JSON and the page together, one for the CSV
    for path in held:
        twin = tmp_path / "stream" / path.name
        if path.suffix == ".html":  # the fix commands name the report folder
            assert twin.read_text().replace(str(tmp_path / "stream"), "") == path.read_text().replace(str(tmp_path / "held"), "")
        else:
            assert twin.read_bytes() == path.read_bytes()


def test_a_json_report_that_cannot_be_written_leaves_the_page(tmp_path: Path) -> None:
    from auditor.report.writers import ReportsNotWritten, write_reports

    run = redact_run(make_run(30))
    streamed, _ = _streamed(run)
    out = tmp_path / "out"
    out.mkdir()
    blocker = out / (write_html(run, tmp_path).name.replace(".html", ".json.tmp"))
    blocker.mkdir()  # the JSON's temporary file cannot be opened
    with pytest.raises(ReportsNotWritten) as caught:
        write_reports(streamed, ["json", "html"], out)
    assert "json" in str(caught.value) and [p.suffix for p in caught.value.written] == [".html"]
